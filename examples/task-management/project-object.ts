/**
 * One project: a SQLite-backed Durable Object holding the project's events and its board in its own
 * database, and serving the project's API (the Worker routes each project's requests here). One
 * object is the single writer of its project: its feed is whole and ordered, and projects scale
 * across objects.
 */
import { ProjectionRunner } from "@eventflows/core";
import { eventFlowsRoutes } from "@eventflows/core/hono";
import {
  type DurableObjectStorageLike,
  durableObjectDriver,
  SqliteEventStore,
  SqliteReadModelStore,
} from "@eventflows/core/sqlite";
import { Hono } from "hono";
import { boardBuses, commandSchemas, querySchemas } from "./api.js";
import { bearerAuth } from "./auth.js";
import { boardProjection } from "./board.js";

export interface Env {
  /** Secret, JSON: `{ "<token>": "<userId>" }`. */
  readonly USERS?: string;
}

/** The header the Worker sets: which project this object is (an object does not know its name). */
export const PROJECT_HEADER = "x-project-id";

export class ProjectObject {
  readonly #ready: Promise<unknown>;
  readonly #env: Env;
  readonly #eventStore: SqliteEventStore;
  readonly #readModels: SqliteReadModelStore;
  readonly #board: Pick<ProjectionRunner, "catchUp">;
  #app: Promise<Hono> | undefined;

  constructor(ctx: { readonly storage: DurableObjectStorageLike }, env: Env) {
    const driver = durableObjectDriver(ctx.storage);
    this.#env = env;
    this.#eventStore = new SqliteEventStore({ driver });
    this.#readModels = new SqliteReadModelStore({ driver });
    this.#board = new ProjectionRunner({
      projection: boardProjection,
      eventStore: this.#eventStore,
      readModels: this.#readModels,
    });
    this.#ready = this.#eventStore.migrate(); // one read of the migrations table once migrated
  }

  async fetch(request: Request): Promise<Response> {
    await this.#ready;
    this.#app ??= this.#routes(request.headers.get(PROJECT_HEADER) ?? "");
    return (await this.#app).fetch(request);
  }

  async #routes(project: string): Promise<Hono> {
    const { commands, queries } = boardBuses({
      eventStore: this.#eventStore,
      readModels: this.#readModels,
      board: this.#board,
    });
    const app = new Hono();
    app.route(
      `/projects/${project}/api`,
      eventFlowsRoutes({
        commands: { bus: commands, schemas: commandSchemas },
        queries: { bus: queries, schemas: querySchemas },
        auth: await bearerAuth(JSON.parse(this.#env.USERS ?? "{}") as Record<string, string>),
        health: { store: this.#eventStore },
        openapi: {
          info: { title: `Tasks of project ${project}`, version: "1.0.0" },
          securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
          security: [{ bearer: [] }],
        },
      }),
    );
    return app;
  }
}
