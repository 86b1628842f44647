/**
 * The Worker: `/projects/<project>/api/…` goes to that project's Durable Object, which serves the
 * commands, queries, health probes and OpenAPI document; anything else is a problem+json 404. With
 * a Hyperdrive binding (HYPERDRIVE), the same routes run here instead, on PostgreSQL: one schema
 * per project. A failure before the routes answer (a store that cannot migrate, a USERS secret that
 * is not JSON) is a problem+json 500 or 503 too, with nothing of the error in it.
 *
 *   POST /projects/:project/api/commands/:type   CreateTask, RenameTask, AssignTask, StartTask, …
 *   GET  /projects/:project/api/queries/GetBoard
 *   GET  /projects/:project/api/openapi.json
 */
import { InMemoryEventStore, InMemoryReadModelStore } from "@eventflows/core";
import { errorResponse, problem, problemResponse } from "@eventflows/core/hono";
import { type PostgresEnv, servePostgresProject } from "./postgres-project.js";
import { PROJECT_HEADER } from "./project-object.js";
import { authOf, projectRoutes, type Env as RoutesEnv } from "./routes.js";

export { ProjectObject } from "./project-object.js";

interface Env extends RoutesEnv {
  readonly PROJECTS: {
    idFromName(name: string): unknown;
    get(id: unknown): { fetch(request: Request): Promise<Response> };
  };
  readonly HYPERDRIVE?: PostgresEnv["HYPERDRIVE"];
}

// Up to 34 characters: `tasks_` and the name make a PostgreSQL schema name of at most 40.
const PROJECT_PATH = /^\/projects\/([a-z0-9][a-z0-9-]{0,33})\/api(\/.*)?$/;

export default {
  async fetch(request: Request, env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }): Promise<Response> {
    const match = PROJECT_PATH.exec(new URL(request.url).pathname);
    if (match === null) return problemResponse(problem(404, "NOT_FOUND", "Use /projects/<project>/api/…"));
    const project = match[1] as string;
    const { HYPERDRIVE } = env;
    try {
      // Whoever may not act on projects reaches no project's storage: naming a new project migrates
      // its schema or opens its object, so an anonymous request (a 401, or a 404 of a path that does
      // not exist) made storage for any name it liked before this check. The public OpenAPI document
      // is served from routes over stores in memory: it depends on the schemas alone.
      if (match[2] === "/openapi.json" && request.method === "GET") {
        const stores = { eventStore: new InMemoryEventStore(), readModels: new InMemoryReadModelStore() };
        const board = { catchUp: async () => undefined, lag: async () => ({ position: 0, head: 0, behind: 0 }) };
        return await (await projectRoutes(project, { ...stores, board } as never, env)).fetch(request);
      }
      await (await authOf(env))({ request, kind: "route", type: "project" } as never);
      if (HYPERDRIVE !== undefined) {
        return await servePostgresProject(request, project, { ...env, HYPERDRIVE }, (p) => ctx.waitUntil(p));
      }
      const forwarded = new Request(request);
      forwarded.headers.set(PROJECT_HEADER, project); // the object trusts it: only this Worker reaches it
      return await env.PROJECTS.get(env.PROJECTS.idFromName(project)).fetch(forwarded);
    } catch (error) {
      // The routes answer their own errors; this is what failed before them, or in the object.
      console.error(`project ${project} failed`, error);
      return errorResponse(error);
    }
  },
};
