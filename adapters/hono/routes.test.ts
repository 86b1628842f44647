import { describe, expect, test } from "bun:test";
import { Hono } from "hono";
import * as v from "valibot";
import { CommandBus, InMemoryIdempotencyStore, isUlid, QueryBus, ValidationError } from "../../src/index.js";
import { UnauthorizedError } from "../http/index.js";
import { allEvents, type CartCommands, type CartQueries, cartDomain } from "./cart-domain.fixture.test.ts";
import { type EventFlowsRoutesOptions, eventFlowsRoutes, mountEventFlows } from "./routes.js";

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  body: JSON.stringify(body),
  headers: { "content-type": "application/json", ...headers },
});

const isUuid = (value: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(value);

function setup(extra: Partial<EventFlowsRoutesOptions<CartCommands, CartQueries>> = {}) {
  const domain = cartDomain();
  const errors: unknown[] = [];
  const app = new Hono();
  app.route("/api", eventFlowsRoutes({ ...domain.routes, onError: (error) => errors.push(error), ...extra }));
  return { ...domain, app, errors };
}

describe("command routes", () => {
  test("POST /commands/:type validates the body, dispatches, and answers 200 with the handler's result", async () => {
    const { app, load } = setup();
    const opened = await app.request("/api/commands/OpenCart", json({ cartId: "c1" }));
    expect(opened.status).toBe(200);
    expect(opened.headers.get("content-type")).toBe("application/json");
    expect(await opened.json()).toEqual({ cartId: "c1", version: 1 });
    const added = await app.request("/api/commands/AddItem", json({ cartId: "c1", sku: "A-1", quantity: 2 }));
    expect(await added.json()).toEqual({ version: 2 });
    expect(await load("c1")).toEqual({ cartId: "c1", items: { "A-1": 2 }, version: 2 });
  });

  test("the handler receives the schema's output: unknown keys are stripped", async () => {
    const { app, seen } = setup();
    await app.request("/api/commands/OpenCart", json({ cartId: "c1", admin: true }));
    expect(seen[0]?.payload).toEqual({ cartId: "c1" });
  });

  test("a handler that returns nothing answers 204", async () => {
    const { app } = setup();
    await app.request("/api/commands/OpenCart", json({ cartId: "c1" }));
    const cleared = await app.request("/api/commands/ClearCart", json({ cartId: "c1" }));
    expect(cleared.status).toBe(204);
    expect(await cleared.text()).toBe("");
  });

  test("a concurrency conflict from the store is 409 problem+json naming the versions", async () => {
    const { app } = setup();
    await app.request("/api/commands/OpenCart", json({ cartId: "c1" }));
    const conflict = await app.request(
      "/api/commands/AddItem",
      json({ cartId: "c1", sku: "A", quantity: 1, expectedVersion: 5 }),
    );
    expect(conflict.status).toBe(409);
    expect(conflict.headers.get("content-type")).toBe("application/problem+json");
    expect(await conflict.json()).toMatchObject({
      code: "CONCURRENCY_CONFLICT",
      streamId: "Cart-c1",
      expectedVersion: 5,
      actualVersion: 1,
    });
  });

  test("a handler's unexpected error is 500 without its message, and is reported to onError", async () => {
    const { app, errors } = setup();
    const response = await app.request("/api/commands/Explode", json({}));
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(text).not.toContain("hunter2");
    expect(text).not.toContain("ECONNREFUSED");
    expect(JSON.parse(text)).toMatchObject({ code: "INTERNAL_ERROR", detail: "An unexpected error occurred" });
    expect(String(errors[0])).toContain("ECONNREFUSED");
  });

  test("another method on a command route is 405 with Allow", async () => {
    const { app } = setup();
    const response = await app.request("/api/commands/OpenCart", { method: "PUT" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    expect((await response.json()).code).toBe("METHOD_NOT_ALLOWED");
  });

  test("a type that has a schema but no handler on the bus is 404", async () => {
    const commands = new CommandBus();
    const app = eventFlowsRoutes({ commands: { bus: commands, schemas: { Ghost: v.object({}) } } });
    const response = await app.request("/commands/Ghost", json({}));
    expect(response.status).toBe(404);
    expect((await response.json()).code).toBe("HANDLER_NOT_FOUND");
  });

  test("the bus may come from the request context (Workers build clients from c.env)", async () => {
    const { commands } = cartDomain();
    const contexts: unknown[] = [];
    const app = eventFlowsRoutes({
      commands: {
        bus: (c) => {
          contexts.push(c.req.path);
          return commands;
        },
        schemas: { OpenCart: v.object({ cartId: v.string() }) },
      },
    });
    expect((await app.request("/commands/OpenCart", json({ cartId: "x" }))).status).toBe(200);
    expect(contexts).toEqual(["/commands/OpenCart"]);
  });

  test("a bus function that throws a ValidationError (a client built from missing bindings) is 500 SERVICE_ERROR told to onError, not the caller's 400", async () => {
    // Before, the caller got 400 VALIDATION_FAILED quoting the client's configuration (which variables
    // are missing), and onError heard nothing, while the health routes count the same throw as a failed check.
    const errors: unknown[] = [];
    const missing = () => {
      throw new ValidationError("Invalid DynamoDB client configuration", [
        { path: ["credentials", "accessKeyId"], message: "AWS_ACCESS_KEY_ID is missing" },
      ]);
    };
    const app = eventFlowsRoutes({
      commands: { bus: missing, schemas: { OpenCart: v.object({ cartId: v.string() }) } },
      queries: { bus: missing, schemas: { GetCart: v.object({ cartId: v.string() }) } },
      onError: (error) => errors.push(error),
    });
    for (const response of [
      await app.request("/commands/OpenCart", json({ cartId: "x" })),
      await app.request("/queries/GetCart?cartId=x"),
    ]) {
      const text = await response.text();
      expect([response.status, JSON.parse(text).code]).toEqual([500, "SERVICE_ERROR"]);
      expect(text).not.toContain("AWS_ACCESS_KEY_ID");
    }
    expect(errors.map((e) => (e as { cause?: { code?: string } }).cause?.code)).toEqual([
      "VALIDATION_FAILED",
      "VALIDATION_FAILED",
    ]);
  });

  test("async valibot schemas are awaited", async () => {
    const commands = new CommandBus<{ Check: { payload: { name: string }; result: string } }>();
    commands.register("Check", ({ name }) => `hello ${name}`);
    const schema = v.objectAsync({
      name: v.pipeAsync(
        v.string(),
        v.checkAsync(async (name) => name !== "taken", "name is taken"),
      ),
    });
    const app = eventFlowsRoutes({ commands: { bus: commands, schemas: { Check: schema } } });
    expect(await (await app.request("/commands/Check", json({ name: "ada" }))).json()).toBe("hello ada");
    const taken = await app.request("/commands/Check", json({ name: "taken" }));
    expect(taken.status).toBe(400);
    expect((await taken.json()).issues).toEqual([{ path: ["name"], message: "name is taken" }]);
  });
});

describe("query routes", () => {
  test("GET /queries/:type reads the payload from the query string", async () => {
    const { app } = setup();
    await app.request("/api/commands/OpenCart", json({ cartId: "c1" }));
    await app.request("/api/commands/AddItem", json({ cartId: "c1", sku: "A", quantity: 3 }));
    const response = await app.request("/api/queries/GetCart?cartId=c1");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ cartId: "c1", items: { A: 3 }, version: 2 });
  });

  test("query string values are converted as the schema declares: numbers, booleans, repeated lists", async () => {
    const { app } = setup();
    const response = await app.request("/api/queries/SearchCarts?minItems=2&skus=A&skus=B&open=true");
    expect(await response.json()).toEqual({ cartIds: [], minItems: 2, skus: ["A", "B"], open: true });
    const single = await app.request("/api/queries/SearchCarts?minItems=0&skus=A");
    expect(await single.json()).toMatchObject({ minItems: 0, skus: ["A"], open: null });
  });

  test("POST /queries/:type takes the payload as a JSON body", async () => {
    const { app } = setup();
    const response = await app.request("/api/queries/SearchCarts", json({ minItems: 1, skus: ["Z"] }));
    expect(await response.json()).toEqual({ cartIds: [], minItems: 1, skus: ["Z"], open: null });
  });

  test("a query whose handler returns undefined answers 204", async () => {
    const { app } = setup();
    expect((await app.request("/api/queries/GetCart?cartId=nobody")).status).toBe(204);
  });

  test("DELETE on a query route is 405 with Allow: GET, HEAD, POST", async () => {
    const { app } = setup();
    const response = await app.request("/api/queries/GetCart", { method: "DELETE" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("GET, HEAD, POST");
  });
});

describe("correlation ids", () => {
  test("x-correlation-id flows into the command's metadata, into the stored events, and back in the response", async () => {
    const { app, store, seen } = setup();
    const response = await app.request(
      "/api/commands/OpenCart",
      json({ cartId: "c1" }, { "x-correlation-id": "req-77" }),
    );
    expect(response.headers.get("x-correlation-id")).toBe("req-77");
    expect(seen[0]?.metadata.correlationId).toBe("req-77");
    const [event] = await allEvents(store);
    expect(event?.metadata.correlationId).toBe("req-77");
    expect(isUlid(String(event?.metadata.causationId))).toBe(true);
  });

  test("without one, a traceparent's trace id is the correlation id and the trace context reaches the handler", async () => {
    const { app, store, seen } = setup();
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const response = await app.request("/api/commands/OpenCart", json({ cartId: "c1" }, { traceparent }));
    expect(response.headers.get("x-correlation-id")).toBe("0af7651916cd43dd8448eb211c80319c");
    expect(seen[0]?.metadata).toMatchObject({ correlationId: "0af7651916cd43dd8448eb211c80319c", traceparent });
    expect((await allEvents(store))[0]?.metadata.correlationId).toBe("0af7651916cd43dd8448eb211c80319c");
  });

  test("without either, a fresh UUID is made and echoed, on errors too", async () => {
    const { app, store } = setup();
    const response = await app.request("/api/commands/OpenCart", json({ cartId: "c1" }));
    const id = response.headers.get("x-correlation-id");
    expect(isUuid(String(id))).toBe(true);
    expect((await allEvents(store))[0]?.metadata.correlationId).toBe(id as string);
    const failed = await app.request("/api/commands/Nope", json({}));
    expect(isUuid(String(failed.headers.get("x-correlation-id")))).toBe(true);
    const echoed = await app.request("/api/commands/Nope", json({}, { "x-correlation-id": "keep-me" }));
    expect(echoed.headers.get("x-correlation-id")).toBe("keep-me");
  });

  test("the header name is configurable", async () => {
    const { app, seen } = setup({ correlationHeader: "X-Request-Id" });
    const response = await app.request("/api/commands/OpenCart", json({ cartId: "c1" }, { "x-request-id": "r-1" }));
    expect(response.headers.get("x-request-id")).toBe("r-1");
    expect(seen[0]?.metadata.correlationId).toBe("r-1");
  });
});

describe("auth hook", () => {
  const auth: EventFlowsRoutesOptions["auth"] = ({ request, type }) => {
    const token = request.headers.get("authorization");
    if (token === null)
      throw new UnauthorizedError("A bearer token is required", { challenge: 'Bearer realm="carts"' });
    if (token === "Bearer reader" && type !== "GetCart") return false;
    if (token === "Bearer reader") return { userId: "reader" };
    if (token !== "Bearer admin") throw new UnauthorizedError("The token is not valid");
    return { userId: "admin-1", metadata: { tenant: "acme" } };
  };

  test("runs before dispatch; its principal goes into the metadata and the events", async () => {
    const { app, seen, store } = setup({ auth });
    const response = await app.request(
      "/api/commands/OpenCart",
      json({ cartId: "c1" }, { authorization: "Bearer admin" }),
    );
    expect(response.status).toBe(200);
    expect(seen[0]?.metadata).toMatchObject({ userId: "admin-1", tenant: "acme" });
    expect(await allEvents(store)).toHaveLength(1);
  });

  test("a missing token is 401 with the hook's challenge; a bad one 401; a refusal 403; nothing runs", async () => {
    const { app, seen, store } = setup({ auth });
    const missing = await app.request("/api/commands/OpenCart", json({ cartId: "c1" }));
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="carts"');
    expect(await missing.json()).toMatchObject({ code: "UNAUTHORIZED", detail: "A bearer token is required" });
    const wrong = await app.request("/api/commands/OpenCart", json({ cartId: "c1" }, { authorization: "Bearer x" }));
    expect(wrong.status).toBe(401);
    const refused = await app.request(
      "/api/commands/OpenCart",
      json({ cartId: "c1" }, { authorization: "Bearer reader" }),
    );
    expect(refused.status).toBe(403);
    expect((await refused.json()).code).toBe("FORBIDDEN");
    const allowedQuery = await app.request("/api/queries/GetCart?cartId=c1", {
      headers: { authorization: "Bearer reader" },
    });
    expect(allowedQuery.status).toBe(204);
    expect(seen.map((message) => message.type)).toEqual(["GetCart"]);
    expect(await allEvents(store)).toEqual([]);
  });

  test("the OpenAPI document is open by default; with openapi.auth the hook decides, with kind openapi", async () => {
    const open = setup({ auth });
    expect((await open.app.request("/api/openapi.json")).status).toBe(200);
    const kinds: string[] = [];
    const guarded = setup({
      auth: (request) => {
        kinds.push(request.kind);
        return auth(request);
      },
      openapi: { auth: true },
    });
    const refused = await guarded.app.request("/api/openapi.json");
    expect(refused.status).toBe(401);
    expect(refused.headers.get("content-type")).toBe("application/problem+json");
    const allowed = await guarded.app.request("/api/openapi.json", { headers: { authorization: "Bearer admin" } });
    expect(allowed.status).toBe(200);
    expect((await allowed.json()).openapi).toStartWith("3.1");
    expect(kinds).toEqual(["openapi", "openapi"]);
    expect((await guarded.app.request("/api/openapi.json", { method: "DELETE" })).headers.get("allow")).toBe(
      "GET, HEAD",
    );
  });

  test("unknown types are hidden behind auth: unauthenticated callers get 401, not 404", async () => {
    const { app } = setup({ auth });
    expect((await app.request("/api/commands/Secret", json({}))).status).toBe(401);
  });

  test("a hook that returns nothing refuses (fails closed); one that throws unexpectedly is a 500", async () => {
    const { app } = setup({ auth: (() => undefined) as never });
    expect((await app.request("/api/commands/OpenCart", json({ cartId: "c1" }))).status).toBe(403);
    const broken = setup({
      auth: () => {
        throw new Error("jwks fetch failed");
      },
    });
    const response = await broken.app.request("/api/commands/OpenCart", json({ cartId: "c1" }));
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain("jwks");
  });

  test("a hook that returns anything but a principal (a plain object) or true refuses: an error or a response not thrown, an array, a bad userId", async () => {
    const notPrincipals: unknown[] = [
      new UnauthorizedError("The token is not valid"),
      new Error("jwks fetch failed"),
      new Response("Unauthorized", { status: 401 }),
      new (class Claims {
        readonly sub = "u-1";
      })(),
      ["writer"],
      { userId: 42 },
      { userId: "u-1", metadata: ["acme"] },
      { userId: "u-1", metadata: "acme" },
    ];
    for (const decision of notPrincipals) {
      const { app, seen, store } = setup({ auth: (() => decision) as never, health: { auth: true } });
      const command = await app.request("/api/commands/OpenCart", json({ cartId: "c1" }));
      expect(command.status).toBe(403);
      expect((await command.json()).code).toBe("FORBIDDEN");
      expect((await app.request("/api/queries/GetCart?cartId=c1")).status).toBe(403);
      expect((await app.request("/api/health/ready")).status).toBe(403);
      expect(seen).toEqual([]);
      expect(await allEvents(store)).toEqual([]);
    }
    // A principal may be empty, or carry only one of its fields.
    for (const principal of [{}, { userId: "u-1" }, { metadata: { tenant: "acme" } }, JSON.parse('{"userId":"u-1"}')]) {
      const { app } = setup({ auth: () => principal });
      expect((await app.request("/api/commands/OpenCart", json({ cartId: "c1" }))).status).toBe(200);
    }
  });
});

describe("Idempotency-Key", () => {
  // Keys belong to an identified caller: the auth hook's principal scopes them.
  const caller: EventFlowsRoutesOptions["auth"] = () => ({ userId: "u-1" });

  test("a retried command returns the first result and does not run twice", async () => {
    const { app, store, seen } = setup({ auth: caller });
    const first = await app.request("/api/commands/OpenCart", json({ cartId: "c1" }, { "idempotency-key": "k-1" }));
    const retry = await app.request("/api/commands/OpenCart", json({ cartId: "c1" }, { "idempotency-key": "k-1" }));
    expect(first.status).toBe(200);
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual(await first.json());
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(seen).toHaveLength(1);
    expect(await allEvents(store)).toHaveLength(1);
    expect(seen[0]?.metadata.idempotencyKey).toBe("k-1");
  });

  test("a 204 result is replayed as 204", async () => {
    const { app, store } = setup({ auth: caller });
    await app.request("/api/commands/OpenCart", json({ cartId: "c1" }));
    const init = () => json({ cartId: "c1" }, { "idempotency-key": "clear-1" });
    expect((await app.request("/api/commands/ClearCart", init())).status).toBe(204);
    const retry = await app.request("/api/commands/ClearCart", init());
    expect(retry.status).toBe(204);
    expect(retry.headers.get("idempotent-replayed")).toBe("true");
    expect(await allEvents(store)).toHaveLength(2);
  });

  test("the same key with a different body is 422 and changes nothing", async () => {
    const { app, store } = setup({ auth: caller });
    await app.request("/api/commands/OpenCart", json({ cartId: "c1" }, { "idempotency-key": "k-1" }));
    const before = await allEvents(store);
    const reused = await app.request("/api/commands/OpenCart", json({ cartId: "c2" }, { "idempotency-key": "k-1" }));
    expect(reused.status).toBe(422);
    expect((await reused.json()).code).toBe("IDEMPOTENCY_KEY_REUSED");
    expect(await allEvents(store)).toEqual(before);
  });

  test("a failed command releases its key: the retry runs", async () => {
    const { app, store } = setup({ auth: caller });
    const init = () => json({ cartId: "c1", sku: "A", quantity: 1 }, { "idempotency-key": "add-1" });
    expect((await app.request("/api/commands/AddItem", init())).status).toBe(409);
    await app.request("/api/commands/OpenCart", json({ cartId: "c1" }));
    const retry = await app.request("/api/commands/AddItem", init());
    expect(retry.status).toBe(200);
    expect(retry.headers.get("idempotent-replayed")).toBeNull();
    expect(await allEvents(store)).toHaveLength(2);
  });

  test("a retry while the first request still runs is 409 IDEMPOTENCY_IN_PROGRESS", async () => {
    const commands = new CommandBus<{ Slow: { payload: object; result: string } }>();
    let release: () => void = () => undefined;
    let started: () => void = () => undefined;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    let runs = 0;
    commands.register("Slow", async () => {
      runs++;
      started();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
      return "done";
    });
    const app = eventFlowsRoutes({ commands: { bus: commands, schemas: { Slow: v.object({}) } }, auth: caller });
    const first = app.request("/commands/Slow", json({}, { "idempotency-key": "slow" }));
    await running; // the first request holds its claim now: a signal, not a sleep
    const second = await app.request("/commands/Slow", json({}, { "idempotency-key": "slow" }));
    expect(second.status).toBe(409);
    expect(second.headers.get("retry-after")).toBe("1");
    expect((await second.json()).code).toBe("IDEMPOTENCY_IN_PROGRESS");
    release();
    expect(await (await first).json()).toBe("done");
    expect(runs).toBe(1);
  });

  test("a request that outlives its claim does not overwrite the answer of the retry that took the key over", async () => {
    let now = 1_000_000;
    const idempotency = new InMemoryIdempotencyStore({ inProgressTtlMs: 1000, now: () => now });
    const commands = new CommandBus<{ Slow: { payload: object; result: number } }>();
    const gates: (() => void)[] = [];
    let started: () => void = () => undefined;
    let runs = 0;
    commands.register("Slow", async () => {
      const run = ++runs;
      const gate = new Promise<void>((resolve) => gates.push(resolve));
      started();
      await gate;
      return run;
    });
    const errors: unknown[] = [];
    const app = eventFlowsRoutes({
      commands: { bus: commands, schemas: { Slow: v.object({}) } },
      auth: caller,
      idempotency,
      onError: (error) => errors.push(error),
    });
    const send = () => app.request("/commands/Slow", json({}, { "idempotency-key": "slow" }));
    const running = () => new Promise<void>((resolve) => (started = resolve));
    let ran = running();
    const first = send();
    await ran; // the first request holds its claim now
    now += 1000; // and the claim expires while its command still runs: the retry runs it again
    ran = running();
    const second = send();
    await ran;
    gates[0]?.(); // the first answers late
    expect(await (await first).json()).toBe(1);
    expect(errors.map((error) => (error as { code?: string }).code)).toEqual(["IDEMPOTENCY_CLAIM_LOST"]);
    const meanwhile = await send();
    expect([meanwhile.status, (await meanwhile.json()).code]).toEqual([409, "IDEMPOTENCY_IN_PROGRESS"]);
    gates[1]?.();
    expect(await (await second).json()).toBe(2);
    const replay = await send();
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.json()).toBe(2);
    expect(runs).toBe(2);
  });

  test("a store that refuses the layer's own key (a clock that reads no time) is a 500 told to onError, not the client's 400", async () => {
    const idempotency = new InMemoryIdempotencyStore({ now: () => Number.NaN });
    const { app, errors, seen } = setup({ idempotency, auth: caller });
    const response = await app.request("/api/commands/OpenCart", json({ cartId: "c1" }, { "idempotency-key": "k" }));
    expect(response.status).toBe(500);
    expect(await response.text()).not.toContain("clock");
    expect(errors).toHaveLength(1);
    expect((errors[0] as { cause?: { code?: string } }).cause?.code).toBe("VALIDATION_FAILED");
    expect(seen).toHaveLength(0);
  });

  test("keys are scoped to the caller: another user's same key runs their own command", async () => {
    const { app, store } = setup({
      auth: ({ request }) => ({ userId: request.headers.get("x-user") ?? "anon" }),
    });
    const as = (user: string) => json({ cartId: `cart-${user}` }, { "idempotency-key": "same", "x-user": user });
    expect((await app.request("/api/commands/OpenCart", as("ann"))).status).toBe(200);
    const bob = await app.request("/api/commands/OpenCart", as("bob"));
    expect(bob.status).toBe(200);
    expect(await bob.json()).toEqual({ cartId: "cart-bob", version: 1 });
    expect(await allEvents(store)).toHaveLength(2);
  });

  test("a key is forgotten after the store's TTL", async () => {
    let now = 1_000_000;
    const idempotency = new InMemoryIdempotencyStore({ ttlMs: 1000, now: () => now });
    const { app, store } = setup({ idempotency, auth: caller });
    const init = () => json({ cartId: "c1", sku: "A", quantity: 1 }, { "idempotency-key": "ttl" });
    await app.request("/api/commands/OpenCart", json({ cartId: "c1" }));
    await app.request("/api/commands/AddItem", init());
    now += 999;
    expect((await app.request("/api/commands/AddItem", init())).headers.get("idempotent-replayed")).toBe("true");
    now += 2;
    expect((await app.request("/api/commands/AddItem", init())).headers.get("idempotent-replayed")).toBeNull();
    expect(await allEvents(store)).toHaveLength(3);
  });

  test("idempotency: false ignores the header", async () => {
    const { app, store } = setup({ idempotency: false });
    await app.request("/api/commands/OpenCart", json({ cartId: "c1" }));
    const init = () => json({ cartId: "c1", sku: "A", quantity: 1 }, { "idempotency-key": "k" });
    await app.request("/api/commands/AddItem", init());
    await app.request("/api/commands/AddItem", init());
    expect(await allEvents(store)).toHaveLength(3);
  });
});

describe("mounting", () => {
  test("mountEventFlows mounts under a path and leaves the app's own routes alone", async () => {
    const { routes } = cartDomain();
    const app = new Hono();
    app.get("/", (c) => c.text("home"));
    mountEventFlows(app, "/v1", routes);
    expect(await (await app.request("/")).text()).toBe("home");
    expect((await app.request("/v1/commands/OpenCart", json({ cartId: "c1" }))).status).toBe(200);
  });

  test("a body that middleware already read is read again from Hono's cache", async () => {
    const { routes, load } = cartDomain();
    const app = new Hono();
    const seenByMiddleware: unknown[] = [];
    app.use("/api/*", async (c, next) => {
      if (c.req.method === "POST") seenByMiddleware.push(await c.req.json());
      await next();
    });
    app.route("/api", eventFlowsRoutes(routes));
    expect((await app.request("/api/commands/OpenCart", json({ cartId: "c1" }))).status).toBe(200);
    expect(seenByMiddleware).toEqual([{ cartId: "c1" }]);
    expect((await load("c1"))?.version).toBe(1);
  });

  test("a path without a type is a problem+json 404", async () => {
    const { app } = setup();
    for (const path of ["/api/commands", "/api/commands/", "/api/queries/"]) {
      const response = await app.request(path, json({}));
      expect(response.status).toBe(404);
      expect((await response.json()).code).toBe("HANDLER_NOT_FOUND");
    }
  });

  test("a command or query named . or .. is refused when built, naming it: no request reaches its path; other dotted names are served", async () => {
    // What a client does to such a path: the URL resolves the dot segment, escaped or not, before any request.
    for (const path of ["/api/commands/.", "/api/commands/%2E", "/api/queries/..", "/api/queries/%2e%2E"]) {
      expect(new URL(path, "http://localhost").pathname).not.toContain(path.slice(path.lastIndexOf("/")));
    }
    for (const kind of ["commands", "queries"] as const) {
      for (const type of [".", ".."]) {
        let thrown: unknown;
        try {
          eventFlowsRoutes({
            [kind]: { bus: kind === "commands" ? new CommandBus() : new QueryBus(), schemas: { [type]: v.object({}) } },
          });
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(ValidationError);
        const [issue] = (thrown as ValidationError).issues;
        expect(issue?.path).toEqual([kind, "schemas", type]);
        expect(issue?.message).toContain(`type "${type}" cannot name a route`);
      }
    }
    const commands = new CommandBus();
    for (const type of ["...", ".a", "a.", "a..b"]) commands.register(type as never, async () => ({ type }) as never);
    const app = new Hono();
    app.route(
      "/api",
      eventFlowsRoutes({
        commands: {
          bus: commands,
          schemas: Object.fromEntries(["...", ".a", "a.", "a..b"].map((t) => [t, v.object({})])),
        },
        openapi: {},
      }),
    );
    const document = (await (await app.request("/api/openapi.json")).json()) as { paths: Record<string, unknown> };
    for (const type of ["...", ".a", "a.", "a..b"]) {
      expect(document.paths).toHaveProperty([`/commands/${type}`]);
      const response = await app.request(`http://localhost/api/commands/${type}`, json({}));
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ type });
    }
  });

  test("options are checked: a schema that is not valibot, or a bad body limit, throws ValidationError", () => {
    const commands = new CommandBus();
    expect(() =>
      eventFlowsRoutes({ commands: { bus: commands, schemas: { A: { type: "object" } as never } } }),
    ).toThrow("valibot schema");
    expect(() => eventFlowsRoutes({ bodyLimit: 0 })).toThrow("bodyLimit");
    expect(() => eventFlowsRoutes({ health: { timeoutMs: -1 } })).toThrow("timeoutMs");
    for (const options of [undefined, null, "routes"]) {
      expect(() => eventFlowsRoutes(options as never)).toThrow(ValidationError);
    }
    expect(() => eventFlowsRoutes({ queries: { bus: new QueryBus(), schemas: { "": v.object({}) } } })).toThrow();
    // A bus the routes cannot ask (has, execute) answered every request with a 500; a function of the context is built per request.
    for (const [bus, at] of [
      ["commands", "commands.bus"],
      [{}, "commands.bus"],
      [undefined, "commands.bus"],
      [new QueryBus(), undefined],
      [() => commands, undefined],
    ] as const) {
      let thrown: unknown;
      try {
        eventFlowsRoutes({ commands: { bus: bus as never, schemas: { A: v.object({}) } } });
      } catch (error) {
        thrown = error;
      }
      expect((thrown as ValidationError | undefined)?.issues[0]?.path.join(".")).toBe(at as never);
    }
    expect(() => eventFlowsRoutes({ queries: { bus: null as never, schemas: {} } })).toThrow("queries.bus");
  });
});
