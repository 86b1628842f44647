/**
 * Bad input never changes the store and never yields a 500: each case below sends one to the routes
 * of a real domain (an InMemoryEventStore behind command handlers), then compares the stored events
 * and the handler calls with what they were before.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Hono } from "hono";
import * as v from "valibot";
import { UnauthorizedError } from "../http/index.js";
import { allEvents, cartDomain, commandSchemas, querySchemas } from "./cart-domain.fixture.test.ts";
import { eventFlowsRoutes } from "./routes.js";

const BODY_LIMIT = 512;

function setup() {
  const domain = cartDomain();
  const serverErrors: unknown[] = [];
  const app = new Hono();
  app.route(
    "/api",
    eventFlowsRoutes({
      ...domain.routes,
      bodyLimit: BODY_LIMIT,
      auth: ({ request }) => {
        const token = request.headers.get("authorization");
        if (token === null) throw new UnauthorizedError();
        if (token !== "Bearer good" && token !== "Bearer reader") throw new UnauthorizedError("The token is not valid");
        return token === "Bearer good" ? { userId: "u-1" } : false;
      },
      onError: (error) => serverErrors.push(error),
    }),
  );
  return { ...domain, app, serverErrors };
}

const AUTH = { authorization: "Bearer good" };
const post = (body: BodyInit | null, headers: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  body,
  headers: { "content-type": "application/json", ...AUTH, ...headers },
});

let ctx: ReturnType<typeof setup>;
let eventsBefore: unknown[];

beforeEach(async () => {
  ctx = setup();
  // One real cart, so "unchanged" compares against a store that has something in it.
  await ctx.app.request("/api/commands/OpenCart", post(JSON.stringify({ cartId: "c1" })));
  eventsBefore = await allEvents(ctx.store);
  ctx.seen.length = 0;
});

async function expectRejected(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = await response.json();
  expect(problem).toMatchObject({ type: "about:blank", status, code });
  expect(await allEvents(ctx.store)).toEqual(eventsBefore as never);
  expect(ctx.seen).toEqual([]);
  expect(ctx.serverErrors).toEqual([]);
  return problem;
}

describe("bad input: each is a 4xx problem, and nothing is written", () => {
  test("malformed JSON -> 400", async () => {
    for (const body of ['{"cartId": "c1"', "{'cartId':'c1'}", "cartId=c1", '{"cartId":"c1"} trailing', "\u0000"]) {
      const problem = await expectRejected(
        await ctx.app.request("/api/commands/AddItem", post(body)),
        400,
        "VALIDATION_FAILED",
      );
      expect(problem.issues).toEqual([{ path: [], message: "the body is not valid JSON" }]);
    }
  });

  test("a body that is not UTF-8 -> 400", async () => {
    await expectRejected(
      await ctx.app.request("/api/commands/AddItem", post(new Uint8Array([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]))),
      400,
      "VALIDATION_FAILED",
    );
  });

  test("wrong content type -> 415", async () => {
    const body = JSON.stringify({ cartId: "c1", sku: "A", quantity: 1 });
    for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "json"]) {
      await expectRejected(
        await ctx.app.request("/api/commands/AddItem", post(body, { "content-type": type })),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
      );
    }
    await expectRejected(
      await ctx.app.request(
        "/api/queries/GetCart",
        post(JSON.stringify({ cartId: "c1" }), { "content-type": "text/xml" }),
      ),
      415,
      "UNSUPPORTED_MEDIA_TYPE",
    );
  });

  test("a body over the size limit -> 413, declared or streamed", async () => {
    const big = JSON.stringify({ cartId: "c1", sku: "A", quantity: 1, pad: "x".repeat(BODY_LIMIT) });
    const declared = await expectRejected(
      await ctx.app.request("/api/commands/AddItem", post(big, { "content-length": String(big.length) })),
      413,
      "PAYLOAD_TOO_LARGE",
    );
    expect(declared.limit).toBe(BODY_LIMIT);
    const encoder = new TextEncoder();
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < big.length; i += 100) controller.enqueue(encoder.encode(big.slice(i, i + 100)));
        controller.close();
      },
    });
    await expectRejected(await ctx.app.request("/api/commands/AddItem", post(stream)), 413, "PAYLOAD_TOO_LARGE");
  });

  test("unknown command or query -> 404", async () => {
    await expectRejected(await ctx.app.request("/api/commands/DeleteEverything", post("{}")), 404, "HANDLER_NOT_FOUND");
    await expectRejected(await ctx.app.request("/api/queries/Nope", { headers: AUTH }), 404, "HANDLER_NOT_FOUND");
    // Prototype keys are not types.
    for (const type of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
      await expectRejected(await ctx.app.request(`/api/commands/${type}`, post("{}")), 404, "HANDLER_NOT_FOUND");
    }
  });

  test("schema violations -> 400 with every issue and its path", async () => {
    const problem = await expectRejected(
      await ctx.app.request("/api/commands/AddItem", post(JSON.stringify({ cartId: "bad id!", quantity: 0 }))),
      400,
      "VALIDATION_FAILED",
    );
    const paths = (problem.issues as { path: unknown[] }[]).map((issue) => issue.path.join("."));
    expect(paths.sort()).toEqual(["cartId", "quantity", "sku"]);
    for (const body of ["null", "[]", '"c1"', "42", '{"cartId":"c1","sku":"A","quantity":1.5}', '{"cartId":["c1"]}']) {
      await expectRejected(await ctx.app.request("/api/commands/AddItem", post(body)), 400, "VALIDATION_FAILED");
    }
  });

  test("an empty body for a command that needs one -> 400", async () => {
    await expectRejected(await ctx.app.request("/api/commands/AddItem", post(null)), 400, "VALIDATION_FAILED");
    await expectRejected(await ctx.app.request("/api/commands/AddItem", post("")), 400, "VALIDATION_FAILED");
  });

  test("query string schema violations -> 400", async () => {
    const problem = await expectRejected(
      await ctx.app.request("/api/queries/SearchCarts?minItems=lots&open=maybe", { headers: AUTH }),
      400,
      "VALIDATION_FAILED",
    );
    expect((problem.issues as { path: unknown[] }[]).map((issue) => issue.path[0]).sort()).toEqual([
      "minItems",
      "open",
    ]);
    await expectRejected(
      await ctx.app.request("/api/queries/GetCart?cartId=a&cartId=b", { headers: AUTH }),
      400,
      "VALIDATION_FAILED",
    );
  });

  test("missing auth token -> 401; wrong token -> 401; not allowed -> 403", async () => {
    const body = JSON.stringify({ cartId: "c1", sku: "A", quantity: 1 });
    const init = (authorization?: string): RequestInit => ({
      method: "POST",
      body,
      headers: { "content-type": "application/json", ...(authorization === undefined ? {} : { authorization }) },
    });
    await expectRejected(await ctx.app.request("/api/commands/AddItem", init()), 401, "UNAUTHORIZED");
    await expectRejected(await ctx.app.request("/api/commands/AddItem", init("Bearer forged")), 401, "UNAUTHORIZED");
    await expectRejected(await ctx.app.request("/api/commands/AddItem", init("Bearer reader")), 403, "FORBIDDEN");
  });

  test("a replayed Idempotency-Key with a different body -> 422, and the first result stands", async () => {
    const first = await ctx.app.request(
      "/api/commands/AddItem",
      post(JSON.stringify({ cartId: "c1", sku: "A", quantity: 1 }), { "idempotency-key": "add-a" }),
    );
    expect(first.status).toBe(200);
    eventsBefore = await allEvents(ctx.store);
    ctx.seen.length = 0;
    await expectRejected(
      await ctx.app.request(
        "/api/commands/AddItem",
        post(JSON.stringify({ cartId: "c1", sku: "A", quantity: 50 }), { "idempotency-key": "add-a" }),
      ),
      422,
      "IDEMPOTENCY_KEY_REUSED",
    );
    // The same key on another command type is a different request too.
    await expectRejected(
      await ctx.app.request(
        "/api/commands/ClearCart",
        post(JSON.stringify({ cartId: "c1" }), { "idempotency-key": "add-a" }),
      ),
      422,
      "IDEMPOTENCY_KEY_REUSED",
    );
  });

  test("property: an Idempotency-Key sent twice -> 400 naming the header, whatever the two keys", async () => {
    const body = JSON.stringify({ cartId: "c1", sku: "A", quantity: 1 });
    const key = fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/);
    await fc.assert(
      fc.asyncProperty(key, key, fc.boolean(), async (first, second, quoted) => {
        const headers = new Headers(post(body).headers as Record<string, string>);
        // As a server hands the route a header sent twice: fetch's Headers joins them with ", ".
        headers.append("idempotency-key", quoted ? `"${first}"` : first);
        headers.append("idempotency-key", quoted ? `"${second}"` : second);
        const problem = await expectRejected(
          await ctx.app.request("/api/commands/AddItem", { method: "POST", body, headers }),
          400,
          "VALIDATION_FAILED",
        );
        expect(problem.issues).toEqual([
          { path: ["headers", "idempotency-key"], message: expect.stringContaining("more than once") },
        ]);
      }),
      { numRuns: 30 },
    );
  });

  test("a malformed Idempotency-Key or correlation id -> 400 naming the header", async () => {
    const body = JSON.stringify({ cartId: "c1", sku: "A", quantity: 1 });
    const key = await expectRejected(
      await ctx.app.request("/api/commands/AddItem", post(body, { "idempotency-key": "k".repeat(300) })),
      400,
      "VALIDATION_FAILED",
    );
    expect(key.issues[0].path).toEqual(["headers", "idempotency-key"]);
    await expectRejected(
      await ctx.app.request("/api/commands/AddItem", post(body, { "idempotency-key": '""' })),
      400,
      "VALIDATION_FAILED",
    );
    const correlation = await expectRejected(
      await ctx.app.request("/api/commands/AddItem", post(body, { "x-correlation-id": "x".repeat(200) })),
      400,
      "VALIDATION_FAILED",
    );
    expect(correlation.issues[0].path).toEqual(["headers", "x-correlation-id"]);
  });

  test("__proto__ in a body neither pollutes prototypes nor reaches the handler", async () => {
    const response = await ctx.app.request(
      "/api/commands/AddItem",
      post('{"cartId":"c1","sku":"A","quantity":1,"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}'),
    );
    expect(response.status).toBe(200);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(ctx.seen[0]?.payload as object).sort()).toEqual(["cartId", "quantity", "sku"]);
  });
});

describe("property: random bodies and headers get 4xx problem+json and change nothing", () => {
  const commandTypes = Object.keys(commandSchemas).filter((type) => type !== "Explode");
  const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)) });
  const nearValid = fc
    .record(
      {
        cartId: fc.oneof(fc.constantFrom("c1", "c2", "", "x y"), fc.string(), fc.integer(), fc.constant(null)),
        sku: fc.oneof(fc.constantFrom("A", ""), fc.string({ maxLength: 40 }), fc.boolean()),
        quantity: fc.oneof(fc.integer({ min: -5, max: 120 }), fc.double(), fc.string()),
        expectedVersion: fc.oneof(fc.integer({ min: -2, max: 3 }), fc.string()),
      },
      { requiredKeys: [] },
    )
    .map((value) => JSON.stringify(value));
  const body = fc.oneof(
    { arbitrary: fc.jsonValue().map((value) => JSON.stringify(value)), weight: 2 },
    { arbitrary: nearValid, weight: 3 },
    { arbitrary: fc.string(), weight: 1 },
    { arbitrary: fc.string({ minLength: BODY_LIMIT + 1, maxLength: BODY_LIMIT * 2 }), weight: 2 },
    { arbitrary: fc.uint8Array({ maxLength: 64 }), weight: 1 },
    { arbitrary: fc.constant(""), weight: 1 },
  );
  // Header values: mostly well-formed (so requests get past the header checks to the body), sometimes junk.
  const token = fc.stringMatching(/^[A-Za-z0-9-]{1,24}$/);
  const headerValue = fc.option(fc.oneof({ arbitrary: token, weight: 4 }, { arbitrary: headerText, weight: 1 }), {
    nil: undefined,
    freq: 2,
  });
  const request = fc.record({
    // "." and ".." are dot segments: URL parsing removes them, so they never reach the routes.
    type: fc.oneof(
      fc.constantFrom(...commandTypes),
      fc.string({ maxLength: 30 }).filter((type) => type !== "." && type !== ".."),
    ),
    method: fc.constantFrom("POST", "POST", "POST", "PUT", "PATCH", "DELETE"),
    contentType: fc.option(
      fc.oneof(
        { arbitrary: fc.constantFrom("application/json", "application/json; charset=utf-8"), weight: 4 },
        { arbitrary: fc.constantFrom("text/plain", "application/xml"), weight: 1 },
        { arbitrary: headerText, weight: 1 },
      ),
      { nil: undefined, freq: 6 },
    ),
    body,
    idempotencyKey: headerValue,
    correlationId: headerValue,
    traceparent: fc.option(headerText, { nil: undefined }),
  });

  // Requests that are valid commands run for real (they would change the store): those are not bad input.
  const isValidCommand = (r: { type: string; method: string; contentType?: string; body: string | Uint8Array }) => {
    const schema = (commandSchemas as Record<string, unknown>)[r.type];
    if (schema === undefined || r.method !== "POST" || r.contentType === undefined) return false;
    const entry = (
      typeof schema === "object" && schema !== null && "input" in schema ? schema.input : schema
    ) as v.GenericSchema;
    try {
      const text = typeof r.body === "string" ? r.body : new TextDecoder("utf-8", { fatal: true }).decode(r.body);
      return v.safeParse(entry, JSON.parse(text)).success;
    } catch {
      return false;
    }
  };

  test("commands", async () => {
    const statuses = new Set<number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        fc.pre(!isValidCommand(r));
        const headers: Record<string, string> = { ...AUTH };
        if (r.contentType !== undefined) headers["content-type"] = r.contentType;
        if (r.idempotencyKey !== undefined) headers["idempotency-key"] = r.idempotencyKey;
        if (r.correlationId !== undefined) headers["x-correlation-id"] = r.correlationId;
        if (r.traceparent !== undefined) headers.traceparent = r.traceparent;
        const response = await ctx.app.request(`/api/commands/${encodeURIComponent(r.type)}`, {
          method: r.method,
          headers,
          body: r.body,
        });
        statuses.add(response.status);
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        expect(response.headers.get("content-type")).toBe("application/problem+json");
        const problem = await response.json();
        expect(problem.status).toBe(response.status);
        expect(typeof problem.code).toBe("string");
        expect(await allEvents(ctx.store)).toEqual(eventsBefore as never);
        expect(ctx.serverErrors).toEqual([]);
      }),
      { numRuns: 500 },
    );
    // The generator reaches every kind of rejection, not just the first check in line.
    for (const status of [400, 404, 405, 413, 415]) expect(statuses).toContain(status);
  });

  test("queries by query string never change the store and never fail with a 5xx", async () => {
    const queryTypes = [...Object.keys(querySchemas), "Unknown"];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...queryTypes),
        fc.array(fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 12 })), { maxLength: 6 }),
        async (type, pairs) => {
          const search = new URLSearchParams(pairs).toString();
          const response = await ctx.app.request(`/api/queries/${type}?${search}`, { headers: AUTH });
          expect(response.status).toBeLessThan(500);
          if (response.status >= 400) {
            expect(response.headers.get("content-type")).toBe("application/problem+json");
          }
          expect(await allEvents(ctx.store)).toEqual(eventsBefore as never);
          expect(ctx.serverErrors).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
  });
});
