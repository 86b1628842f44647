/**
 * One project's HTTP API over whichever stores hold it (its Durable Object's database, or its
 * PostgreSQL schema): the commands, queries, health probes and OpenAPI document under
 * `/projects/<project>/api`, and a problem+json 404 for any other path. Only the storage differs
 * between the two; these routes are the same.
 */
import { eventFlowsRoutes, problem, problemResponse } from "@eventflows/core/hono";
import { Hono } from "hono";
import { type BoardStores, boardBuses, commandSchemas, querySchemas } from "./api.js";
import { bearerAuth } from "./auth.js";

export interface Env {
  /** Secret, JSON: `{ "<token>": "<userId>" }`. */
  readonly USERS?: string;
}

/** The auth hook per `USERS` value: its tokens are hashed once per isolate, not per request. */
const authByUsers = new Map<string, ReturnType<typeof bearerAuth>>();

/** The auth hook of this `USERS` secret, made once per isolate. */
export function authOf(env: Env): ReturnType<typeof bearerAuth> {
  const users = env.USERS ?? "{}";
  let auth = authByUsers.get(users);
  if (auth === undefined) {
    auth = bearerAuth(JSON.parse(users) as Record<string, string>);
    authByUsers.set(users, auth);
  }
  return auth;
}

export async function projectRoutes(project: string, stores: BoardStores, env: Env): Promise<Hono> {
  const auth = authOf(env);
  const { commands, queries } = boardBuses(stores);
  const app = new Hono();
  app.route(
    `/projects/${project}/api`,
    eventFlowsRoutes({
      commands: { bus: commands, schemas: commandSchemas },
      queries: { bus: queries, schemas: querySchemas },
      auth: await auth,
      health: { store: stores.eventStore },
      openapi: {
        info: { title: `Tasks of project ${project}`, version: "1.0.0" },
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
        security: [{ bearer: [] }],
      },
    }),
  );
  app.notFound((c) =>
    problemResponse(problem(404, "NOT_FOUND", `No route for ${c.req.method} ${c.req.path.slice(0, 100)}`)),
  );
  return app;
}
