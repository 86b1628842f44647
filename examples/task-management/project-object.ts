/**
 * One project: a SQLite-backed Durable Object holding the project's events and its board in its own
 * database, and serving the project's API (the Worker routes each project's requests here). One
 * object is the single writer of its project: its feed is whole and ordered, and projects scale
 * across objects.
 */
import { ProjectionRunner } from "@eventflows/core";
import {
  type DurableObjectStorageLike,
  durableObjectDriver,
  SqliteEventStore,
  SqliteReadModelStore,
} from "@eventflows/core/sqlite";
import type { Hono } from "hono";
import type { BoardStores } from "./api.js";
import { boardProjection } from "./board.js";
import { type Env, projectRoutes } from "./routes.js";

/** The header the Worker sets: which project this object is (an object does not know its name). */
export const PROJECT_HEADER = "x-project-id";

export class ProjectObject {
  readonly #ready: Promise<unknown>;
  readonly #env: Env;
  readonly #stores: BoardStores & { readonly eventStore: SqliteEventStore };
  #app: Promise<Hono> | undefined;

  constructor(ctx: { readonly storage: DurableObjectStorageLike }, env: Env) {
    const driver = durableObjectDriver(ctx.storage);
    this.#env = env;
    const eventStore = new SqliteEventStore({ driver });
    const readModels = new SqliteReadModelStore({ driver });
    const board = new ProjectionRunner({ projection: boardProjection, eventStore, readModels });
    this.#stores = { eventStore, readModels, board };
    this.#ready = eventStore.migrate(); // one read of the migrations table once migrated
  }

  async fetch(request: Request): Promise<Response> {
    await this.#ready;
    this.#app ??= projectRoutes(request.headers.get(PROJECT_HEADER) ?? "", this.#stores, this.#env);
    return (await this.#app).fetch(request);
  }
}
