/**
 * One project on PostgreSQL, for a Worker with a Hyperdrive binding: the project's events, its
 * board and the board's checkpoint in a schema of its own (`tasks_<project>`), so projects stay as
 * apart as they are in their Durable Objects. The domain, the API and the routes are the same;
 * only where they are stored differs.
 *
 * Connections belong to the request that opened them on Workers (Hyperdrive pools them near the
 * database), so the stores are made per request and closed after the response.
 */
import { PostgresEventStore, PostgresReadModelStore, postgresProjectionRunner } from "@eventflows/core/postgres";
import { boardProjection } from "./board.js";
import { type Env, projectRoutes } from "./routes.js";

export interface PostgresEnv extends Env {
  /** The Hyperdrive binding: production's way to PostgreSQL (miniflare's, in `bun run demo:tasks`). */
  readonly HYPERDRIVE: { readonly connectionString: string };
}

/** The schema of a project. Project names are a-z, 0-9 and `-` (the Worker's route), and `_` is not one of them: no two projects share a schema. */
export function projectSchema(project: string): string {
  return `tasks_${project.replaceAll("-", "_")}`;
}

/**
 * Schemas migrated by this isolate: afterwards a request runs no migration query. A run is not
 * shared between requests (workerd cancels a request's I/O once its response is sent); concurrent
 * first runs are safe, `migrate()` takes an advisory lock.
 */
const migrated = new Set<string>();

export async function servePostgresProject(
  request: Request,
  project: string,
  env: PostgresEnv,
  waitUntil: (promise: Promise<unknown>) => void,
): Promise<Response> {
  const schema = projectSchema(project);
  // Two connections: the board's catch-up holds its advisory-lock lease on one and writes on the other.
  const eventStore = new PostgresEventStore({ url: env.HYPERDRIVE.connectionString, schema, client: { max: 2 } });
  try {
    if (!migrated.has(schema)) {
      await eventStore.migrate();
      migrated.add(schema);
    }
    const readModels = new PostgresReadModelStore({ sql: eventStore.sql, schema });
    const board = postgresProjectionRunner(eventStore, boardProjection, { readModels });
    const app = await projectRoutes(project, { eventStore, readModels, board }, env);
    return await app.fetch(request);
  } finally {
    // Closed after the response is sent, without holding it up.
    waitUntil(eventStore.close().catch((error: unknown) => console.error("closing the event store failed", error)));
  }
}
