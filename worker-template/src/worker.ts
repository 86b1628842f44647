/**
 * The Worker, whichever store it runs on: a Hono app serving the to-do commands and queries over
 * HTTP with EventFlows. Each deployment's entry (src/index.ts for D1, src/dynamodb.ts,
 * src/postgres.ts) passes it the opener of its one store, so a bundle carries that store only.
 *
 *   POST /commands/:type     CreateList, AddTodo, CompleteTodo (JSON body)
 *   GET  /queries/GetList    ?listId=… (or POST with a JSON body)
 *   GET  /health/live        the Worker answers
 *   GET  /health/ready       the event store answers, within 2 s
 *   GET  /openapi.json       OpenAPI 3.1, from the same schemas that validate requests
 *
 * Errors are problem+json (RFC 9457). Commands and queries need `Authorization: Bearer <API_TOKEN>`.
 */
import type { IdempotencyStore } from "@eventflows/core";
import { eventFlowsRoutes, problem, problemResponse } from "@eventflows/core/hono";
import { type Context, Hono } from "hono";
import { apiTokenOf, bearerToken } from "./auth.js";
import type { Env, OpenedStore, StoreOpener } from "./config.js";
import {
  commandSchemas,
  querySchemas,
  type TodoBuses,
  type TodoCommands,
  type TodoQueries,
  todoBuses,
} from "./todo-api.js";

/**
 * What one request uses, made on first use: liveness and OpenAPI requests open no store, and a
 * misconfigured store fails only the requests that need it (as a 500 or a 503 readiness).
 */
class RequestServices {
  readonly #env: Env;
  readonly #open: StoreOpener;
  #opened: OpenedStore | undefined;
  #buses: TodoBuses | undefined;

  constructor(env: Env, open: StoreOpener) {
    this.#env = env;
    this.#open = open;
  }

  get store(): OpenedStore["store"] {
    this.#opened ??= this.#open(this.#env);
    return this.#opened.store;
  }

  get buses(): TodoBuses {
    this.#buses ??= todoBuses(this.store);
    return this.#buses;
  }

  close(): Promise<void> {
    return this.#opened?.close() ?? Promise.resolve();
  }
}

type AppEnv = { Bindings: Env; Variables: { services: RequestServices } };

const servicesOf = (c: Context): RequestServices => c.get("services") as RequestServices;

/**
 * A Worker whose Idempotency-Keys live beside its events: the routes take their idempotency store
 * when they are made, and the bindings it needs arrive with the request, so one app is made per
 * bindings object, on its first request. workerd hands an isolate's requests the same bindings, so
 * this is one app per isolate, as a module-level app is. `idempotencyFor` answers undefined when the
 * bindings lack what it needs: the keys then stay in memory, and the store's opener reports the gap.
 */
export function todoWorkerPerBindings(
  openStore: StoreOpener,
  idempotencyFor: (env: Env) => IdempotencyStore | undefined,
): { fetch: (request: Request, env: Env, ctx: ExecutionContextLike) => Response | Promise<Response> } {
  const apps = new WeakMap<Env, Hono<AppEnv>>();
  return {
    fetch(request, env, ctx) {
      let app = apps.get(env);
      if (app === undefined) {
        app = todoWorker(openStore, idempotencyFor(env));
        apps.set(env, app);
      }
      return app.fetch(request, env, ctx);
    },
  };
}

type ExecutionContextLike = Parameters<Hono<AppEnv>["fetch"]>[2];

/**
 * The app over the store `openStore` makes for each request that needs one. `idempotencyStore` keeps
 * the Idempotency-Keys; without one they stay in this isolate's memory (the routes' in-memory default).
 */
export function todoWorker(openStore: StoreOpener, idempotencyStore?: IdempotencyStore): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.use("*", async (c, next) => {
    const services = new RequestServices(c.env, openStore);
    c.set("services", services);
    try {
      await next();
    } finally {
      // Connections close after the response is sent, without holding it up.
      const closing = services
        .close()
        .catch((error: unknown) => console.error("closing the event store failed", error));
      try {
        c.executionCtx.waitUntil(closing);
      } catch {
        await closing; // no ExecutionContext outside workerd (app.request in a unit test)
      }
    }
  });

  app.route(
    "/",
    eventFlowsRoutes<TodoCommands, TodoQueries>({
      commands: { bus: (c) => servicesOf(c).buses.commands, schemas: commandSchemas },
      queries: { bus: (c) => servicesOf(c).buses.queries, schemas: querySchemas },
      auth: bearerToken,
      // Every caller holds the one API token, so they are one caller: Idempotency-Keys share one key space.
      // With per-user identities, return a Principal from the auth hook instead and drop this scope.
      idempotency: { store: idempotencyStore, scope: () => "api-token" },
      // A deployment without its API token serves no command: not ready either (503, the gap logged).
      health: {
        store: (c) => {
          apiTokenOf(c.env);
          return servicesOf(c).store;
        },
      },
      openapi: {
        info: { title: "To-do lists (EventFlows worker template)", version: "1.0.0" },
        securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
        security: [{ bearer: [] }],
      },
    }),
  );

  app.notFound((c) =>
    problemResponse(problem(404, "NOT_FOUND", `No route for ${c.req.method} ${c.req.path.slice(0, 100)}`)),
  );
  app.onError((error) => {
    console.error("unhandled error", error);
    return problemResponse(problem(500, "INTERNAL_ERROR", "An unexpected error occurred"));
  });
  return app;
}
