/**
 * The HTTP behaviour every adapter of the dispatcher must show, as one suite: it takes a driver that
 * builds the adapter from dispatcher options and returns a "send a Request" function, and runs the
 * same requests through it. The Hono routes, the Lambda handler and the bare dispatcher each run it.
 * (No tests run from this file itself.)
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as v from "valibot";
import {
  CommandBus,
  HandlerNotFoundError,
  InMemoryEventStore,
  QueryBus,
  ServiceError,
  ValidationError,
} from "../../src/index.js";
import { allEvents, type CartCommands, type CartQueries, cartDomain } from "./cart-domain.fixture.test.ts";
import type { HttpDispatcherOptions } from "./dispatcher-options.js";
import { UnauthorizedError } from "./errors.js";
import { InMemoryIdempotencyStore, MAX_REPLAYED_RESPONSE_BYTES } from "./index.js";

// biome-ignore lint/suspicious/noExplicitAny: the suite passes plain values, never functions of a context
export type SuiteOptions = HttpDispatcherOptions<CartCommands, CartQueries, any>;
/** Builds the adapter under test; the function it returns sends one request (paths relative to the routes). */
export type HttpDriver = (options: SuiteOptions) => (request: Request) => Promise<Response>;

const ORIGIN = "http://localhost";
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  new Request(`${ORIGIN}${path}`, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers },
  });
const get = (path: string, headers: Record<string, string> = {}) => new Request(`${ORIGIN}${path}`, { headers });

async function expectProblem(response: Response, status: number, code: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/problem+json");
  const problem = await response.json();
  expect(problem).toMatchObject({ type: "about:blank", status, code });
  return problem;
}

export function httpBehaviourSuite(name: string, driver: HttpDriver): void {
  const setup = (extra: Partial<SuiteOptions> = {}) => {
    const domain = cartDomain();
    const errors: unknown[] = [];
    const send = driver({ ...domain.routes, onError: (error) => errors.push(error), ...extra });
    return { ...domain, send, errors };
  };
  const caller =
    (userId: string, metadata?: Record<string, unknown>): SuiteOptions["auth"] =>
    () =>
      metadata === undefined ? { userId } : { userId, metadata };

  describe(`${name}: HTTP behaviour`, () => {
    describe("commands and queries", () => {
      test("a declared command runs: 200 JSON with the result, the correlation id echoed", async () => {
        const { send, load, seen } = setup();
        const response = await send(
          post("/commands/OpenCart", { cartId: "c1", extra: 1 }, { "x-correlation-id": "r-1" }),
        );
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toBe("application/json");
        expect(response.headers.get("x-correlation-id")).toBe("r-1");
        expect(await response.json()).toEqual({ cartId: "c1", version: 1 });
        expect(seen[0]?.payload).toEqual({ cartId: "c1" });
        expect(seen[0]?.metadata.correlationId).toBe("r-1");
        expect((await load("c1"))?.version).toBe(1);
      });

      test("a handler that returns nothing answers 204 without a body", async () => {
        const { send } = setup();
        await send(post("/commands/OpenCart", { cartId: "c1" }));
        const cleared = await send(post("/commands/ClearCart", { cartId: "c1" }));
        expect(cleared.status).toBe(204);
        expect(await cleared.text()).toBe("");
      });

      test("a result JSON has no text for (a function, a symbol) answers 204 as undefined does; one JSON.stringify refuses (a BigInt, a cycle) the bare 500, reported", async () => {
        const { send, queries, errors } = setup();
        const cycle: Record<string, unknown> = {};
        cycle.self = cycle;
        for (const [result, status] of [
          [() => 1, 204],
          [Symbol("s"), 204],
          [10n, 500],
          [cycle, 500],
        ] as const) {
          queries.unregister("GetCart");
          queries.register("GetCart", () => result as never);
          const response = await send(get("/queries/GetCart?cartId=c1"));
          expect(response.status).toBe(status);
          if (status === 204) expect(await response.text()).toBe("");
          else await expectProblem(response, 500, "INTERNAL_ERROR");
        }
        expect(errors.map((error) => (error as Error).constructor.name)).toEqual(["TypeError", "TypeError"]);
      });

      test("a registered command without a schema is not exposed: 404, and it does not run", async () => {
        const { send, seen } = setup();
        const problem = await expectProblem(await send(post("/commands/IssueRefund", {})), 404, "HANDLER_NOT_FOUND");
        expect(problem.detail).not.toContain("OpenCart");
        expect(seen).toEqual([]);
      });

      test("a declared type without a handler on the bus is 404, naming no other handler", async () => {
        const commands = new CommandBus();
        commands.register("Secret", () => undefined);
        const send = driver({ commands: { bus: commands, schemas: { Ghost: v.object({}) } } as never });
        const problem = await expectProblem(await send(post("/commands/Ghost", {})), 404, "HANDLER_NOT_FOUND");
        expect(JSON.stringify(problem)).not.toContain("Secret");
        // Registered on the bus but given no schema: unreachable, and answered as an unknown type is.
        const hidden = await expectProblem(await send(post("/commands/Secret", {})), 404, "HANDLER_NOT_FOUND");
        expect([problem.detail, hidden.detail]).toEqual([
          'No command "Ghost" is served here',
          'No command "Secret" is served here',
        ]);
      });

      test("an overlong or malformed type name is 404, echoed clipped", async () => {
        const { send } = setup();
        const long = "T".repeat(1000);
        const problem = await expectProblem(await send(post(`/commands/${long}`, {})), 404, "HANDLER_NOT_FOUND");
        expect(problem.detail.length).toBeLessThan(400);
        // An emoji across the cut is left out whole: half of it would be a lone surrogate in the JSON.
        const emoji = await expectProblem(
          await send(post(`/commands/${"T".repeat(255)}%F0%9F%98%80TT`, {})),
          404,
          "HANDLER_NOT_FOUND",
        );
        expect(emoji.detail).toBe(`No command "${"T".repeat(255)}…" is served here`);
        await expectProblem(await send(post("/commands/%E0%A4%A", {})), 404, "HANDLER_NOT_FOUND");
        await expectProblem(await send(post("/commands", {})), 404, "HANDLER_NOT_FOUND");
      });

      test("GET /queries/:type reads the query string as the schema declares; POST takes a body", async () => {
        const { send } = setup();
        const response = await send(get("/queries/SearchCarts?minItems=2&skus=A&skus=B&open=true"));
        expect(await response.json()).toEqual({ cartIds: [], minItems: 2, skus: ["A", "B"], open: true });
        const posted = await send(post("/queries/SearchCarts", { minItems: 1, skus: ["Z"] }));
        expect(await posted.json()).toEqual({ cartIds: [], minItems: 1, skus: ["Z"], open: null });
      });

      test("an array where the schema, like its document, wants an object is 400 at any depth (generated payloads)", async () => {
        // valibot's object, looseObject and record accept an array; the OpenAPI document says
        // "type": "object", which no array matches. Expected from the schema's shape, not from valibot.
        const queries = new QueryBus<{ Look: { payload: Record<string, unknown>; result: unknown } }>();
        queries.register("Look", (payload) => payload);
        const Look = v.object({
          note: v.optional(v.string()),
          filter: v.optional(v.looseObject({})),
          tags: v.optional(v.record(v.string(), v.number())),
          items: v.optional(v.array(v.object({ sku: v.optional(v.string()) }))),
          either: v.optional(v.union([v.array(v.number()), v.object({})])),
        });
        const send = driver({ queries: { bus: queries, schemas: { Look } } } as never);
        const objectOrArray = fc.oneof(fc.constant({}), fc.array(fc.integer(), { maxLength: 2 }));
        const payload = fc.record(
          {
            filter: objectOrArray,
            tags: fc.oneof(fc.constant({ a: 1 }), fc.array(fc.integer(), { maxLength: 2 })),
            items: fc.array(fc.oneof(fc.constant({ sku: "A" }), fc.constant([]), fc.constant(["A"])), { maxLength: 3 }),
            either: fc.oneof(objectOrArray, fc.array(fc.oneof(fc.integer(), fc.string()), { maxLength: 2 })),
          },
          { requiredKeys: [] },
        );
        const wellFormed = (p: Record<string, unknown>) =>
          !Array.isArray(p.filter) &&
          !Array.isArray(p.tags) &&
          !((p.items as unknown[] | undefined) ?? []).some(Array.isArray) &&
          !(Array.isArray(p.either) && p.either.some((x) => typeof x !== "number"));
        await fc.assert(
          fc.asyncProperty(fc.oneof(payload, fc.array(payload, { maxLength: 2 })), async (body) => {
            const response = await send(post("/queries/Look", body));
            const expected = !Array.isArray(body) && wellFormed(body);
            if (expected) {
              expect(response.status).toBe(200);
              expect(await response.json()).toEqual(body);
            } else {
              const problem = await expectProblem(response, 400, "VALIDATION_FAILED");
              expect(JSON.stringify(problem.issues)).toContain("must be an object, got an array");
            }
          }),
          { numRuns: 150 },
        );
      });

      test("schema violations are 400 with every issue; malformed JSON 400 without echoing it", async () => {
        const { send } = setup();
        const problem = await expectProblem(
          await send(post("/commands/AddItem", { cartId: "bad id!", quantity: 0 })),
          400,
          "VALIDATION_FAILED",
        );
        expect((problem.issues as { path: string[] }[]).map((issue) => issue.path.join(".")).sort()).toEqual([
          "cartId",
          "quantity",
          "sku",
        ]);
        const malformed = await expectProblem(
          await send(post("/commands/AddItem", '{"cartId": secret')),
          400,
          "VALIDATION_FAILED",
        );
        expect(JSON.stringify(malformed)).not.toContain("secret");
      });

      test("a body that is not JSON by its type is 415; one over the limit 413 naming the limit", async () => {
        const { send } = setup({ bodyLimit: 64 });
        const text = new Request(`${ORIGIN}/commands/OpenCart`, {
          method: "POST",
          body: "cartId=c1",
          headers: { "content-type": "text/plain" },
        });
        await expectProblem(await send(text), 415, "UNSUPPORTED_MEDIA_TYPE");
        const big = await expectProblem(
          await send(post("/commands/OpenCart", { cartId: "c1", pad: "x".repeat(100) })),
          413,
          "PAYLOAD_TOO_LARGE",
        );
        expect(big.limit).toBe(64);
      });

      test("a content-coded body is 415 with Accept-Encoding: identity, never decoded nor read as plain JSON", async () => {
        const { send, store } = setup();
        for (const coding of ["gzip", "br"]) {
          // Plain JSON bytes under a coding they do not have: taken as they were, the command ran.
          const response = await send(post("/commands/OpenCart", { cartId: "c1" }, { "content-encoding": coding }));
          const problem = await expectProblem(response, 415, "UNSUPPORTED_MEDIA_TYPE");
          expect(problem.detail).toContain("Content-Encoding");
          expect(response.headers.get("accept-encoding")).toBe("identity");
        }
        expect(await allEvents(store)).toEqual([]);
        const plain = await send(post("/commands/OpenCart", { cartId: "c1" }, { "content-encoding": "identity" }));
        expect(plain.status).toBe(200);
      });

      test("a handler's unexpected error is 500 without its message, reported to onError", async () => {
        const { send, errors } = setup();
        const response = await send(post("/commands/Explode", {}));
        const text = await response.text();
        expect(response.status).toBe(500);
        expect(text).not.toContain("hunter2");
        expect(String(errors[0])).toContain("hunter2");
      });

      test("a programming error in a command or query handler (TypeError, RangeError, ReferenceError, a thrown non-Error, another library's error that merely has one of our codes) is the bare 500, reported as thrown; a ValidationError stays 400", async () => {
        const { send, commands, queries, errors } = setup();
        // Without the package's mark, our codes are another library's or the application's: a
        // response would show their message and fields.
        const lookalike = (code: string) =>
          Object.assign(new Error("db: password=hunter2"), {
            code,
            issues: [{ path: ["hunter2"], message: "hunter2" }],
            streamId: "hunter2",
          });
        const thrown: unknown[] = [
          new TypeError("Cannot read properties of undefined (reading 'hunter2')"),
          new RangeError("Invalid array length hunter2"),
          new ReferenceError("hunter2 is not defined"),
          new SyntaxError("Unexpected token hunter2"),
          "hunter2",
          { message: "hunter2" },
          undefined,
          lookalike("VALIDATION_FAILED"),
          lookalike("CONCURRENCY_CONFLICT"),
          lookalike("STREAM_NOT_FOUND"),
          lookalike("PAYLOAD_TOO_LARGE"),
        ];
        for (const [index, error] of thrown.entries()) {
          commands.unregister("ClearCart");
          commands.register("ClearCart", () => {
            throw error;
          });
          queries.unregister("GetCart");
          queries.register("GetCart", async () => {
            throw error;
          });
          for (const request of [post("/commands/ClearCart", { cartId: "c1" }), get("/queries/GetCart?cartId=c1")]) {
            const response = await send(request);
            expect(response.status).toBe(500);
            expect(response.headers.get("content-type")).toBe("application/problem+json");
            expect(await response.json()).toEqual({
              type: "about:blank",
              title: "Internal Server Error",
              status: 500,
              detail: "An unexpected error occurred",
              code: "INTERNAL_ERROR",
            });
          }
          expect(errors.slice(index * 2)).toEqual([error, error]);
        }
        commands.unregister("ClearCart");
        commands.register("ClearCart", () => {
          throw new ValidationError("Invalid command", [{ path: ["cartId"], message: "no such cart" }]);
        });
        const refused = await expectProblem(
          await send(post("/commands/ClearCart", { cartId: "c1" })),
          400,
          "VALIDATION_FAILED",
        );
        expect(refused.issues).toEqual([{ path: ["cartId"], message: "no such cart" }]);
        expect(errors).toHaveLength(thrown.length * 2);
      });

      test("a HandlerNotFoundError from inside a handler (a type it dispatched has no handler, an aggregate met an event it has no method for) is the bare 500, reported as thrown, not a 404 for the served type", async () => {
        const { send, commands, queries, errors } = setup({ auth: caller("u-1") });
        const inner = new CommandBus();
        const thrown = [
          await inner.execute("NotWired", {}).catch((error: unknown) => error),
          new HandlerNotFoundError("event", "ItemAdded", {
            aggregate: "Cart",
            method: "onItemAdded",
            registered: ["onItemRemoved"],
          }),
        ];
        for (const [index, error] of thrown.entries()) {
          commands.unregister("ClearCart");
          commands.register("ClearCart", () => Promise.reject(error));
          queries.unregister("GetCart");
          queries.register("GetCart", () => {
            throw error;
          });
          for (const request of [
            post("/commands/ClearCart", { cartId: "c1" }),
            post("/commands/ClearCart", { cartId: "c1" }, { "idempotency-key": `k-${index}` }),
            get("/queries/GetCart?cartId=c1"),
          ]) {
            const response = await send(request);
            // A 404 told the client that ClearCart is not served, and named the handler's own wiring.
            expect(await response.json()).toEqual({
              type: "about:blank",
              title: "Internal Server Error",
              status: 500,
              detail: "An unexpected error occurred",
              code: "INTERNAL_ERROR",
            });
          }
          expect(errors.slice(index * 3)).toEqual([error, error, error]);
        }
        // The route's own type without a handler stays a 404.
        commands.unregister("ClearCart");
        await expectProblem(await send(post("/commands/ClearCart", { cartId: "c1" })), 404, "HANDLER_NOT_FOUND");
        expect(errors).toHaveLength(6);
      });

      test("a concurrency conflict is 409 naming the versions; a retryable backend failure 503 with Retry-After", async () => {
        const { send, commands } = setup();
        await send(post("/commands/OpenCart", { cartId: "c1" }));
        const conflict = await expectProblem(
          await send(post("/commands/AddItem", { cartId: "c1", sku: "A", quantity: 1, expectedVersion: 5 })),
          409,
          "CONCURRENCY_CONFLICT",
        );
        expect(conflict).toMatchObject({ streamId: "Cart-c1", expectedVersion: 5, actualVersion: 1 });
        commands.unregister("ClearCart");
        commands.register("ClearCart", () => {
          throw new ServiceError("DynamoDB", "PutItem", "ThrottlingException", true, "slow down");
        });
        const busy = await send(post("/commands/ClearCart", { cartId: "c1" }));
        expect(busy.status).toBe(503);
        expect(busy.headers.get("retry-after")).toBe("1");
      });

      test("an append to a deleted stream is 409 STREAM_DELETED naming the stream and mode, nothing written", async () => {
        const { send, store } = setup();
        await send(post("/commands/OpenCart", { cartId: "c1" }));
        await send(post("/commands/OpenCart", { cartId: "c2" }));
        await store.deleteStream("Cart-c1");
        await store.deleteStream("Cart-c2", { mode: "hard" });
        const before = await allEvents(store);
        const soft = await expectProblem(
          await send(post("/commands/AddItem", { cartId: "c1", sku: "A", quantity: 1 })),
          409,
          "STREAM_DELETED",
        );
        expect(soft).toMatchObject({ title: "Conflict", streamId: "Cart-c1", mode: "soft" });
        expect(soft.detail).toBe('Stream "Cart-c1" is deleted: it takes no events unless it is restored');
        const hard = await expectProblem(
          await send(post("/commands/AddItem", { cartId: "c2", sku: "A", quantity: 1 })),
          409,
          "STREAM_DELETED",
        );
        expect(hard).toMatchObject({ streamId: "Cart-c2", mode: "hard" });
        expect(hard.detail).toBe('Stream "Cart-c2" was deleted for good: it takes no more events');
        // The server's own advice (restoreStream) is for the server's code, not for the caller.
        expect(`${soft.detail} ${hard.detail}`).not.toContain("restoreStream");
        expect(await allEvents(store)).toEqual(before);
      });
    });

    describe("methods", () => {
      const others = ["GET", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND", "TRACE"];

      test("any other method is 405 problem+json with Allow, on command, query and health routes", async () => {
        const { send } = setup();
        const cases: [string, string[], string][] = [
          ["/commands/OpenCart", others, "POST"],
          ["/queries/GetCart", others.filter((m) => m !== "GET"), "GET, HEAD, POST"],
          ["/health/live", ["POST", "PUT", "DELETE", "PROPFIND", "TRACE"], "GET, HEAD"],
          ["/health/ready", ["POST", "PATCH", "OPTIONS"], "GET, HEAD"],
        ];
        for (const [path, methods, allow] of cases) {
          for (const method of methods) {
            const response = await send(new Request(`${ORIGIN}${path}`, { method }));
            const problem = await expectProblem(response, 405, "METHOD_NOT_ALLOWED");
            expect(response.headers.get("allow")).toBe(allow);
            expect(problem.allow).toEqual(allow.split(", "));
            expect(response.headers.get("x-correlation-id")).toBeString();
          }
        }
      });

      test("HEAD on a health route answers like GET, without a body", async () => {
        const { send } = setup();
        const response = await send(new Request(`${ORIGIN}/health/live`, { method: "HEAD" }));
        expect(response.status).toBe(200);
        expect(await response.text()).toBe("");
      });

      test("HEAD answers wherever GET does, as GET would (status, headers, the content's length), without content", async () => {
        const { send, seen } = setup();
        await send(post("/commands/OpenCart", { cartId: "c1" }));
        const headers = { "x-correlation-id": "head-1" };
        for (const path of [
          "/queries/GetCart?cartId=c1",
          "/queries/GetCart?cartId=nobody",
          "/queries/GetCart",
          "/queries/NoSuchQuery?cartId=c1",
          "/health/live",
          "/health/ready",
        ]) {
          const asGet = await send(get(path, headers));
          const content = new Uint8Array(await asGet.arrayBuffer());
          const asHead = await send(new Request(`${ORIGIN}${path}`, { method: "HEAD", headers }));
          expect([path, asHead.status]).toEqual([path, asGet.status]);
          for (const name of ["content-type", "allow", "x-correlation-id", "cache-control"]) {
            expect([path, name, asHead.headers.get(name)]).toEqual([path, name, asGet.headers.get(name)]);
          }
          // The length GET's content has (a server fills in 0 for a response that has none).
          const length = asHead.headers.get("content-length");
          expect([path, length ?? "0"]).toEqual([path, String(content.byteLength)]);
          expect([path, await asHead.text()]).toEqual([path, ""]);
        }
        // The query ran for HEAD as for GET (twice each: with a cart, without); nothing else ran.
        expect(seen.filter((m) => m.type === "GetCart").length).toBe(4);
        // A command route serves no GET, so no HEAD either: 405 with the same Allow, without content.
        const onCommand = await send(new Request(`${ORIGIN}/commands/OpenCart`, { method: "HEAD" }));
        expect(onCommand.status).toBe(405);
        expect(onCommand.headers.get("allow")).toBe("POST");
        expect(await onCommand.text()).toBe("");
      });
    });

    describe("JSON nesting depth", () => {
      const nested = (depth: number) => {
        // Arrays and objects alternate, with brackets inside strings that must not count.
        let body = '"[{\\"]"';
        for (let i = 0; i < depth; i++) body = i % 2 === 0 ? `[${body}, "}]"]` : `{"k[": ${body}}`;
        return body;
      };

      test("a body nested deeper than the limit is 400 naming the limit; at the limit it reaches the schema", async () => {
        const { send, seen } = setup({ jsonDepthLimit: 10 });
        const deep = await expectProblem(await send(post("/commands/OpenCart", nested(11))), 400, "VALIDATION_FAILED");
        expect(deep.detail).toContain("10");
        expect(deep.issues[0].message).toContain("10");
        // At the limit the body parses, and the schema refuses it (it is not a cart).
        const atLimit = await expectProblem(
          await send(post("/commands/OpenCart", nested(10))),
          400,
          "VALIDATION_FAILED",
        );
        expect(atLimit.detail).not.toContain("nests");
        expect(seen).toEqual([]);
      });

      test("the default limit refuses a 5,000-level body with a 400, not a 500", async () => {
        const { send, errors } = setup();
        const body = `${"[".repeat(5000)}${"]".repeat(5000)}`;
        const problem = await expectProblem(await send(post("/commands/OpenCart", body)), 400, "VALIDATION_FAILED");
        expect(problem.detail).toStartWith("Request body nests deeper than 64 levels");
        expect(errors).toEqual([]);
      });

      test("property: generated depths are refused exactly when over the limit", async () => {
        const { send } = setup({ jsonDepthLimit: 16 });
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 0, max: 40 }), async (depth) => {
            const problem = await (await send(post("/queries/GetCart", nested(depth)))).json();
            expect(String(problem.detail).includes("deeper than 16")).toBe(depth > 16);
          }),
          { numRuns: 60 },
        );
      });
    });

    describe("hostile input", () => {
      test("a body is JSON as JSON.parse reads it: a BOM skipped, a repeated key's last value, __proto__ and constructor own keys that pollute nothing and v.object drops", async () => {
        const { send, seen } = setup();
        expect((await send(post("/commands/OpenCart", '\uFEFF{"cartId":"bom-1"}'))).status).toBe(200);
        expect((await send(post("/commands/OpenCart", '{"cartId":"first","cartId":"last-1"}'))).status).toBe(200);
        const polluting =
          '{"cartId":"proto-1","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}';
        expect((await send(post("/commands/OpenCart", polluting))).status).toBe(200);
        expect(seen.map((message) => message.payload)).toEqual([
          { cartId: "bom-1" },
          { cartId: "last-1" },
          { cartId: "proto-1" },
        ]);
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
        expect(Object.prototype).not.toHaveProperty("polluted");
      });

      test("a body that is not UTF-8 (an invalid byte, an overlong or surrogate encoding, UTF-16 with or without its BOM) or has a second BOM is 400 saying which, and nothing runs", async () => {
        const { send, seen, store } = setup();
        const bytes = (...parts: (string | number[])[]) =>
          new Uint8Array(
            parts.flatMap((part) => (typeof part === "string" ? [...new TextEncoder().encode(part)] : part)),
          );
        const utf16 = (text: string, bom: boolean) =>
          new Uint8Array([...(bom ? [0xff, 0xfe] : []), ...[...text].flatMap((c) => [c.charCodeAt(0), 0])]);
        const refused: [string, Uint8Array<ArrayBuffer>, string][] = [
          ["an invalid byte", bytes('{"cartId":"', [0xff], '"}'), "the body is not valid UTF-8"],
          ["an overlong '/'", bytes('{"cartId":"', [0xc0, 0xaf], '"}'), "the body is not valid UTF-8"],
          ["an encoded surrogate", bytes('{"cartId":"', [0xed, 0xa0, 0x80], '"}'), "the body is not valid UTF-8"],
          ["UTF-16 with its BOM", utf16('{"cartId":"u16"}', true), "the body is not valid UTF-8"],
          // Without a BOM every other byte is NUL: valid UTF-8, and no JSON.
          ["UTF-16 without a BOM", utf16('{"cartId":"u16"}', false), "the body is not valid JSON"],
          // One leading BOM is skipped, as TextDecoder does; a second is text before the JSON.
          ["two BOMs", bytes([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf], '{"cartId":"bom-2"}'), "the body is not valid JSON"],
        ];
        for (const [what, body, message] of refused) {
          const request = new Request(`${ORIGIN}/commands/OpenCart`, {
            method: "POST",
            body,
            headers: { "content-type": "application/json" },
          });
          const problem = await expectProblem(await send(request), 400, "VALIDATION_FAILED");
          expect([what, problem.issues]).toEqual([what, [{ path: [], message }]]);
        }
        expect(seen).toEqual([]);
        expect(await allEvents(store)).toEqual([]);
      });

      test("numbers past 2^53 or a double's range reach the schema as JavaScript reads them: safeInteger refuses 2^53 + 1, integer refuses 1e400 (Infinity); nothing runs", async () => {
        const { send, seen, store } = setup();
        await send(post("/commands/OpenCart", { cartId: "c1" }));
        const before = await allEvents(store);
        const past = await expectProblem(
          await send(
            post("/commands/AddItem", '{"cartId":"c1","sku":"A","quantity":1,"expectedVersion":9007199254740993}'),
          ),
          400,
          "VALIDATION_FAILED",
        );
        expect(past.issues.map((issue: { path: string[] }) => issue.path)).toEqual([["expectedVersion"]]);
        const infinite = await expectProblem(
          await send(post("/commands/AddItem", '{"cartId":"c1","sku":"A","quantity":1e400}')),
          400,
          "VALIDATION_FAILED",
        );
        expect(infinite.issues.map((issue: { path: string[] }) => issue.path[0])).toContain("quantity");
        // A 400-digit integer is Infinity too: refused by the schema, not a parser error or a 500.
        const digits = await expectProblem(
          await send(post("/commands/AddItem", `{"cartId":"c1","sku":"A","quantity":${"9".repeat(400)}}`)),
          400,
          "VALIDATION_FAILED",
        );
        expect(digits.issues.map((issue: { path: string[] }) => issue.path[0])).toContain("quantity");
        expect(seen.filter((message) => message.type === "AddItem")).toEqual([]);
        expect(await allEvents(store)).toEqual(before);
        // -0 is a number at least 0: it reaches the handler as the version 0, and conflicts as 0 would.
        const negativeZero = await expectProblem(
          await send(post("/commands/AddItem", '{"cartId":"c1","sku":"A","quantity":1,"expectedVersion":-0}')),
          409,
          "CONCURRENCY_CONFLICT",
        );
        expect(negativeZero).toMatchObject({ expectedVersion: 0, actualVersion: 1 });
        expect(await allEvents(store)).toEqual(before);
      });

      test("media types: any case, parameters, a quoted UTF-8 charset and +json run; another charset (latin1, empty) or type, or none, is 415 and nothing runs", async () => {
        const { send, store } = setup();
        const accepted = ['APPLICATION/JSON; Charset="UTF-8"', "application/json;", "application/merge-patch+json"];
        for (const [i, type] of accepted.entries()) {
          const response = await send(post("/commands/OpenCart", { cartId: `type-${i}` }, { "content-type": type }));
          expect([type, response.status]).toEqual([type, 200]);
        }
        const before = await allEvents(store);
        for (const type of [
          "application/json; charset=latin1",
          "application/json; charset=",
          "text/json",
          "application/json-seq",
        ]) {
          const response = await send(post("/commands/OpenCart", { cartId: "refused" }, { "content-type": type }));
          expect([type, response.status]).toEqual([type, 415]);
          expect((await response.json()).code).toBe("UNSUPPORTED_MEDIA_TYPE");
        }
        // A body with no Content-Type at all (bytes, so the Request adds none) is JSON by no one's word.
        const untyped = new Request(`${ORIGIN}/commands/OpenCart`, {
          method: "POST",
          body: new TextEncoder().encode('{"cartId":"untyped"}'),
        });
        const problem = await expectProblem(await send(untyped), 415, "UNSUPPORTED_MEDIA_TYPE");
        expect(problem.detail).toContain("no Content-Type");
        expect(await allEvents(store)).toEqual(before);
      });

      test("type names percent-encoded oddly (%2F, %00, an overlong UTF-8 escape, a lone %) are 404 and run nothing; an escaped letter names the type itself", async () => {
        const { send, seen } = setup();
        expect((await send(post("/commands/Open%43art", { cartId: "escaped-1" }))).status).toBe(200);
        for (const type of ["OpenCart%2F", "OpenCart%2F..", "OpenCart%00", "%C0%AF", "%E0%A4%A", "%", "Open%2543art"]) {
          const response = await send(post(`/commands/${type}`, { cartId: "never" }));
          expect([type, response.status]).toEqual([type, 404]);
          const problem = await response.json();
          expect(problem.code).toBe("HANDLER_NOT_FOUND");
          expect(problem.detail).not.toContain("ClearCart");
        }
        expect(seen.map((message) => message.payload)).toEqual([{ cartId: "escaped-1" }]);
      });

      test("query parameters repeated, empty, negative or past 64 digits are 400 naming the parameter; one the schema does not name (`skus[]`, `__proto__`) is ignored", async () => {
        const { send } = setup();
        for (const query of [
          "minItems=1&minItems=2",
          "minItems=",
          "minItems",
          "minItems=-1",
          `minItems=${"9".repeat(65)}`,
          "minItems=0x10",
          "minItems=NaN",
          "minItems=1&open=TRUE",
          "open=true",
        ]) {
          const problem = await expectProblem(
            await send(get(`/queries/SearchCarts?${query}`)),
            400,
            "VALIDATION_FAILED",
          );
          expect([query, problem.issues.length > 0]).toEqual([query, true]);
        }
        const ignored = await send(get("/queries/SearchCarts?minItems=3&bogus=1&bogus=2&=x&&"));
        expect(await ignored.json()).toEqual({ cartIds: [], minItems: 3, skus: null, open: null });
        // No bracket syntax: `skus[]` is another name than `skus`, and `__proto__` a name like any other.
        const brackets = await send(
          get("/queries/SearchCarts?minItems=3&skus[]=A&__proto__=1&__proto__[open]=true&constructor=x"),
        );
        expect(await brackets.json()).toEqual({ cartIds: [], minItems: 3, skus: null, open: null });
        expect(Object.prototype).not.toHaveProperty("open");
        const missing = await expectProblem(await send(get("/queries/GetCart?cartId[]=c1")), 400, "VALIDATION_FAILED");
        expect(missing.issues.map((issue: { path: string[] }) => issue.path)).toEqual([["cartId"]]);
      });

      // URLSearchParams reads them as U+FFFD, another value than the client's: refused, as invalid UTF-8 in a body is.
      test("a query parameter with percent-escapes of bytes that are not UTF-8 is 400 naming it; in one the schema does not name, it is ignored", async () => {
        const { send } = setup();
        for (const [query, name] of [
          ["minItems=1&skus=%ED%A0%80", "skus"],
          ["minItems=1&skus=A&skus=%FF", "skus"],
          ["minItems=%C0%AF", "minItems"],
        ] as const) {
          const problem = await expectProblem(
            await send(get(`/queries/SearchCarts?${query}`)),
            400,
            "VALIDATION_FAILED",
          );
          expect([query, problem.issues]).toEqual([
            query,
            [{ path: [name], message: "the value has percent-escapes of bytes that are not UTF-8" }],
          ]);
        }
        const ignored = await send(get("/queries/SearchCarts?minItems=2&utm=%E9t%E9&skus=Caf%C3%A9"));
        expect(await ignored.json()).toEqual({ cartIds: [], minItems: 2, skus: ["Café"], open: null });
      });

      test("issues do not mirror the request: at most 100, keys clipped to 64 characters, so long keys with many issues get a short answer", async () => {
        const commands = new CommandBus();
        const queries = new QueryBus();
        const tags = v.record(v.string(), v.record(v.string(), v.number()));
        const send = driver({
          commands: { bus: commands, schemas: { Tag: tags } },
          queries: { bus: queries, schemas: { Find: v.record(v.string(), v.string()) } },
        } as never);
        const key = "k".repeat(10_000);
        const shown = `${"k".repeat(64)}…`;
        const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`a${i}`, "x"]));
        // 10 KB of key and 200 issues under it: 2 MB of paths and 2 MB of message if echoed whole.
        const response = await send(post("/commands/Tag", { [key]: many }));
        const text = await response.clone().text();
        const problem = await expectProblem(response, 400, "VALIDATION_FAILED");
        expect(problem.issues).toHaveLength(100);
        expect(problem.issues[99]).toEqual({ path: [shown, "a99"], message: 'must be a number, got "x"' });
        expect(problem.detail).toEndWith("; …(190 more)");
        expect(text.length).toBeLessThan(20_000);
        const query = await expectProblem(
          await send(get(`/queries/Find?${"q".repeat(8_000)}%FF=1`)),
          400,
          "VALIDATION_FAILED",
        );
        expect(query.issues).toEqual([
          { path: [`${"q".repeat(64)}…`], message: "the name has percent-escapes of bytes that are not UTF-8" },
        ]);
      });

      test("Accept is not read: whatever it asks for, a command, a query and an error answer JSON or problem+json, never 406", async () => {
        const { send } = setup();
        for (const accept of ["text/html", "application/xml", "application/json;q=0", "*/*;q=0"]) {
          const opened = await send(post("/commands/OpenCart", { cartId: `a-${accept.length}` }, { accept }));
          expect([accept, opened.status, opened.headers.get("content-type")]).toEqual([
            accept,
            200,
            "application/json",
          ]);
          const read = await send(get(`/queries/GetCart?cartId=a-${accept.length}`, { accept }));
          expect([accept, read.status, read.headers.get("content-type")]).toEqual([accept, 200, "application/json"]);
          await expectProblem(await send(post("/commands/Nope", {}, { accept })), 404, "HANDLER_NOT_FOUND");
        }
      });

      test("concurrent requests with one Idempotency-Key run the command once: the others replay it or get 409 with Retry-After, another body 422, none a 5xx", async () => {
        const commands = new CommandBus<{ Slow: { payload: { n: number }; result: { runs: number } } }>();
        let runs = 0;
        commands.register("Slow", async () => {
          runs++;
          await new Promise((resolve) => setTimeout(resolve, 50));
          return { runs };
        });
        const errors: unknown[] = [];
        const send = driver({
          commands: { bus: commands, schemas: { Slow: v.object({ n: v.number() }) } },
          auth: caller("u-1"),
          onError: (error: unknown) => errors.push(error),
        } as never);
        const slow = (n: number) => send(post("/commands/Slow", { n }, { "idempotency-key": "one-key" }));
        const answers = await Promise.all([...Array.from({ length: 8 }, () => slow(1)), slow(2)]);
        expect(runs).toBe(1);
        const statuses = answers.map((answer) => answer.status);
        expect(statuses[8]).toBe(422);
        for (const answer of answers.slice(0, 8)) {
          expect([200, 409]).toContain(answer.status);
          if (answer.status === 409) {
            expect(answer.headers.get("retry-after")).toBe("1");
            expect((await answer.json()).code).toBe("IDEMPOTENCY_IN_PROGRESS");
          } else expect(await answer.json()).toEqual({ runs: 1 });
        }
        expect(statuses.filter((status) => status === 200).length).toBeGreaterThanOrEqual(1);
        const retry = await slow(1);
        expect(retry.headers.get("idempotent-replayed")).toBe("true");
        expect(await retry.json()).toEqual({ runs: 1 });
        expect(runs).toBe(1);
        expect(errors).toEqual([]);
      });
    });

    describe("auth hook", () => {
      const auth: SuiteOptions["auth"] = ({ request, type }) => {
        const token = request.headers.get("authorization");
        if (token === null)
          throw new UnauthorizedError("A bearer token is required", { challenge: 'Bearer realm="x"' });
        if (token === "Bearer reader") return type === "GetCart" ? { userId: "reader" } : false;
        if (token !== "Bearer admin") throw new UnauthorizedError("The token is not valid");
        return { userId: "admin-1", metadata: { tenant: "acme" } };
      };

      test("the metadata hook cannot give a caller the principal has no userId for one", async () => {
        // Before: `{ userId }` from the hook (read from the request, a header say) reached the handler
        // as the caller's identity whenever the principal had none: an anonymous caller could claim any.
        const metadata = () => ({ userId: "mallory", channel: "web" });
        const anonymous = [undefined, () => true as const, () => ({ metadata: { team: "ops" } })];
        for (const hook of anonymous) {
          const { send, seen } = setup({ metadata, ...(hook === undefined ? {} : { auth: hook }) });
          expect((await send(post("/commands/OpenCart", { cartId: "c1" }))).status).toBe(200);
          expect(seen[0]?.metadata.channel).toBe("web");
          expect(seen[0]?.metadata).not.toHaveProperty("userId");
        }
        // The principal's own: its userId, or a userId among its metadata (the auth hook's word either way).
        for (const [hook, userId] of [
          [caller("u-1"), "u-1"],
          [() => ({ metadata: { userId: "svc-1" } }), "svc-1"],
        ] as const) {
          const { send, seen } = setup({ metadata, auth: hook });
          expect((await send(post("/commands/OpenCart", { cartId: "c1" }))).status).toBe(200);
          expect(seen[0]?.metadata).toMatchObject({ userId, channel: "web" });
        }
      });

      test("its principal reaches the metadata; 401 with the challenge, 403, and unknown types stay hidden", async () => {
        const { send, seen, store } = setup({ auth });
        const ok = await send(post("/commands/OpenCart", { cartId: "c1" }, { authorization: "Bearer admin" }));
        expect(ok.status).toBe(200);
        expect(seen[0]?.metadata).toMatchObject({ userId: "admin-1", tenant: "acme" });
        const missing = await send(post("/commands/OpenCart", { cartId: "c2" }));
        await expectProblem(missing, 401, "UNAUTHORIZED");
        expect(missing.headers.get("www-authenticate")).toBe('Bearer realm="x"');
        await expectProblem(
          await send(post("/commands/OpenCart", { cartId: "c2" }, { authorization: "Bearer reader" })),
          403,
          "FORBIDDEN",
        );
        await expectProblem(await send(post("/commands/Nope", {})), 401, "UNAUTHORIZED");
        expect(await allEvents(store)).toHaveLength(1);
      });

      test("health and the document are open by default; with health.auth the hook guards them", async () => {
        expect((await setup({ auth }).send(get("/health/live"))).status).toBe(200);
        const guarded = setup({ auth, health: { auth: true } });
        await expectProblem(await guarded.send(get("/health/ready")), 401, "UNAUTHORIZED");
        await expectProblem(await guarded.send(get("/health/live")), 401, "UNAUTHORIZED");
        expect((await guarded.send(get("/health/ready", { authorization: "Bearer admin" }))).status).toBe(200);
      });
    });

    describe("Idempotency-Key", () => {
      test("a retry replays the first response and runs nothing twice", async () => {
        const { send, store } = setup({ auth: caller("u-1") });
        const init = () => post("/commands/OpenCart", { cartId: "c1" }, { "idempotency-key": "k-1" });
        const first = await send(init());
        const retry = await send(init());
        expect(retry.status).toBe(200);
        expect(await retry.json()).toEqual(await first.json());
        expect(retry.headers.get("idempotent-replayed")).toBe("true");
        expect(await allEvents(store)).toHaveLength(1);
      });

      test("a response over the replay limit is answered once; a retry gets 410 and runs nothing again", async () => {
        const bus = new CommandBus<{ Export: { payload: { size: number }; result: { rows: string } } }>();
        let runs = 0;
        bus.register("Export", ({ size }) => {
          runs++;
          return { rows: "r".repeat(size) };
        });
        const { send } = setup({
          auth: caller("u-1"),
          commands: { bus, schemas: { Export: v.object({ size: v.number() }) } },
        } as never);
        const exportOf = (size: number, key: string) => post("/commands/Export", { size }, { "idempotency-key": key });
        // Just at the limit: kept and replayed as it was.
        const atLimit = MAX_REPLAYED_RESPONSE_BYTES - '{"rows":""}'.length;
        expect((await send(exportOf(atLimit, "k-at"))).status).toBe(200);
        const replay = await send(exportOf(atLimit, "k-at"));
        expect(replay.headers.get("idempotent-replayed")).toBe("true");
        expect(((await replay.json()) as { rows: string }).rows).toHaveLength(atLimit);
        // One byte over: the first caller still gets the whole response, a retry a 410 naming it.
        const first = await send(exportOf(atLimit + 1, "k-over"));
        expect(first.status).toBe(200);
        expect(((await first.json()) as { rows: string }).rows).toHaveLength(atLimit + 1);
        const retry = await send(exportOf(atLimit + 1, "k-over"));
        expect(retry.headers.get("idempotent-replayed")).toBe("true");
        const problem = await expectProblem(retry, 410, "IDEMPOTENCY_RESPONSE_NOT_KEPT");
        expect(problem).toMatchObject({ originalStatus: 200, size: MAX_REPLAYED_RESPONSE_BYTES + 1 });
        expect(problem.limit).toBe(MAX_REPLAYED_RESPONSE_BYTES);
        expect(runs).toBe(2);
      });

      test("the same key with another body is 422", async () => {
        const { send } = setup({ auth: caller("u-1") });
        await send(post("/commands/OpenCart", { cartId: "c1" }, { "idempotency-key": "k-1" }));
        await expectProblem(
          await send(post("/commands/OpenCart", { cartId: "c2" }, { "idempotency-key": "k-1" })),
          422,
          "IDEMPOTENCY_KEY_REUSED",
        );
      });

      test("a caller without identity may not send a key: 400 naming the header; without a key it runs", async () => {
        for (const extra of [{}, { auth: () => true }, { auth: () => ({ metadata: {} }) }] as Partial<SuiteOptions>[]) {
          const { send, store } = setup(extra);
          const problem = await expectProblem(
            await send(post("/commands/OpenCart", { cartId: "c1" }, { "idempotency-key": "k-1" })),
            400,
            "VALIDATION_FAILED",
          );
          expect(problem.issues[0].path).toEqual(["headers", "idempotency-key"]);
          expect(problem.issues[0].message).toContain("Idempotency-Key");
          expect(await allEvents(store)).toEqual([]);
          expect((await send(post("/commands/OpenCart", { cartId: "c1" }))).status).toBe(200);
        }
      });

      test("keys are scoped by the whole identity: two tenants with the same key do not share it", async () => {
        const { send, store } = setup({
          auth: ({ request }) => ({ metadata: { tenant: request.headers.get("x-tenant") } }),
        });
        const as = (tenant: string) =>
          post("/commands/OpenCart", { cartId: "shared" }, { "idempotency-key": "same", "x-tenant": tenant });
        expect((await send(as("acme"))).status).toBe(200);
        const other = await send(as("globex"));
        // Globex's own command ran (and conflicts on the stream): no replay of Acme's response.
        expect(other.headers.get("idempotent-replayed")).toBeNull();
        expect(other.status).toBe(409);
        expect((await send(as("acme"))).headers.get("idempotent-replayed")).toBe("true");
        expect(await allEvents(store)).toHaveLength(1);
      });

      test("a 255-character key is accepted whatever the caller's identity length; 256 is 400 naming the header", async () => {
        const { send } = setup({ auth: caller("u".repeat(2000), { tenant: "t".repeat(500) }) });
        const key = "k".repeat(255);
        const first = await send(post("/commands/OpenCart", { cartId: "c1" }, { "idempotency-key": key }));
        expect(first.status).toBe(200);
        const retry = await send(post("/commands/OpenCart", { cartId: "c1" }, { "idempotency-key": key }));
        expect(retry.headers.get("idempotent-replayed")).toBe("true");
        const problem = await expectProblem(
          await send(post("/commands/OpenCart", { cartId: "c2" }, { "idempotency-key": `${key}k` })),
          400,
          "VALIDATION_FAILED",
        );
        expect(problem.issues[0].path).toEqual(["headers", "idempotency-key"]);
        expect(problem.issues[0].message).toContain("Idempotency-Key");
      });

      test("a key that is empty, blank, not ASCII, holds a control character or comes twice is 400 naming the header; nothing runs", async () => {
        const { send, seen, store } = setup({ auth: caller("u-1") });
        const repeated = post("/commands/OpenCart", { cartId: "c1" });
        repeated.headers.append("idempotency-key", "k-1");
        repeated.headers.append("idempotency-key", "k-2");
        const requests: [string, Request][] = [
          ["empty", post("/commands/OpenCart", { cartId: "c1" }, { "idempotency-key": "" })],
          ["blank", post("/commands/OpenCart", { cartId: "c1" }, { "idempotency-key": "   " })],
          ["quoted empty", post("/commands/OpenCart", { cartId: "c1" }, { "idempotency-key": '""' })],
          ["Latin-1", post("/commands/OpenCart", { cartId: "c1" }, { "idempotency-key": "kl\u00e9" })],
          ["a tab", post("/commands/OpenCart", { cartId: "c1" }, { "idempotency-key": "k\t1" })],
          // Two header lines are one value joined with ", " (RFC 9110 5.3): not a key.
          ["twice", repeated],
        ];
        for (const [what, request] of requests) {
          const problem = await expectProblem(await send(request), 400, "VALIDATION_FAILED");
          expect([what, problem.issues[0].path]).toEqual([what, ["headers", "idempotency-key"]]);
        }
        expect(seen).toEqual([]);
        expect(await allEvents(store)).toEqual([]);
      });

      test("an explicit scope lets callers without identity share one key space", async () => {
        const idempotency = { store: new InMemoryIdempotencyStore(), scope: () => "public" };
        const { send } = setup({ idempotency });
        await send(post("/commands/OpenCart", { cartId: "c1" }, { "idempotency-key": "k" }));
        const retry = await send(post("/commands/OpenCart", { cartId: "c1" }, { "idempotency-key": "k" }));
        expect(retry.headers.get("idempotent-replayed")).toBe("true");
      });
    });

    describe("correlation and trace context", () => {
      test("a traceparent of a later version with a long suffix is kept as its 55-character version-00 form", async () => {
        const { send, seen } = setup();
        const traceparent = `cc-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-${"x".repeat(300)}`;
        const response = await send(post("/commands/OpenCart", { cartId: "c1" }, { traceparent }));
        expect(response.headers.get("x-correlation-id")).toBe("0af7651916cd43dd8448eb211c80319c");
        expect(seen[0]?.metadata.traceparent).toBe("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
      });

      test("with trustClientCorrelation: false the client's ids are ignored and a fresh one is made", async () => {
        const { send, seen } = setup({ trustClientCorrelation: false });
        const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        const response = await send(
          post("/commands/OpenCart", { cartId: "c1" }, { "x-correlation-id": "forged", traceparent }),
        );
        const id = response.headers.get("x-correlation-id");
        expect(id).not.toBe("forged");
        expect(seen[0]?.metadata.correlationId).toBe(id as string);
        expect(seen[0]?.metadata.traceparent).toBeUndefined();
        // The header is not read, so not checked either: a malformed one is no 400.
        const malformed = await send(
          post("/commands/OpenCart", { cartId: "c2" }, { "x-correlation-id": "x".repeat(200) }),
        );
        expect(malformed.status).toBe(200);
        expect(malformed.headers.get("x-correlation-id")).not.toBe("x".repeat(200));
      });

      test("a malformed correlation header is 400 naming it", async () => {
        const { send } = setup();
        const problem = await expectProblem(
          await send(post("/commands/OpenCart", { cartId: "c1" }, { "x-correlation-id": "x".repeat(200) })),
          400,
          "VALIDATION_FAILED",
        );
        expect(problem.issues[0].path).toEqual(["headers", "x-correlation-id"]);
      });
    });

    describe("property: bad requests", () => {
      test("random methods, types, bodies and headers get 4xx problem+json (or run when valid) and never 5xx", async () => {
        const { send, store, errors } = setup({ bodyLimit: 256, auth: caller("u-1") });
        await send(post("/commands/OpenCart", { cartId: "c1" }));
        const before = await allEvents(store);
        const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).map((c) => String.fromCharCode(c)) });
        const token = fc.stringMatching(/^[A-Za-z0-9-]{1,24}$/);
        const header = fc.option(fc.oneof({ arbitrary: token, weight: 4 }, { arbitrary: headerText, weight: 1 }), {
          nil: undefined,
        });
        const request = fc.record({
          path: fc.oneof(
            fc.constantFrom("/commands/AddItem", "/commands/IssueRefund", "/queries/GetCart", "/health/ready"),
            fc.string({ maxLength: 20 }).map((type) => `/commands/${encodeURIComponent(type)}`),
          ),
          method: fc.constantFrom("POST", "POST", "GET", "PUT", "DELETE", "PROPFIND"),
          contentType: fc.option(fc.constantFrom("application/json", "text/plain", "application/x+json"), {
            nil: undefined,
          }),
          body: fc.oneof(
            fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
            fc.string({ maxLength: 300 }),
            fc.constant(""),
          ),
          idempotencyKey: header,
          correlationId: header,
        });
        await fc.assert(
          fc.asyncProperty(request, async (r) => {
            const headers: Record<string, string> = {};
            if (r.contentType !== undefined) headers["content-type"] = r.contentType;
            if (r.idempotencyKey !== undefined) headers["idempotency-key"] = r.idempotencyKey;
            if (r.correlationId !== undefined) headers["x-correlation-id"] = r.correlationId;
            const hasBody = r.method !== "GET" && r.body !== "";
            const response = await send(
              new Request(`${ORIGIN}${r.path}`, { method: r.method, headers, body: hasBody ? r.body : null }),
            );
            expect(response.status).toBeLessThan(500);
            if (response.status >= 400) {
              expect(response.headers.get("content-type")).toBe("application/problem+json");
              expect((await response.json()).status).toBe(response.status);
            }
            // Only a valid AddItem may write, and then exactly one event.
            const after = await allEvents(store);
            if (response.status !== 200 || r.path !== "/commands/AddItem") expect(after).toEqual(before);
            before.splice(0, before.length, ...after);
          }),
          { numRuns: 200 },
        );
        expect(errors).toEqual([]);
      });
    });

    describe("health", () => {
      test("readiness probes, reports each check, and reuses a report within cacheMs", async () => {
        let probes = 0;
        const { send } = setup({
          health: {
            store: new InMemoryEventStore(),
            probes: { counted: async () => void probes++ },
            cacheMs: 60_000,
          },
        });
        const first = await send(get("/health/ready"));
        expect(first.status).toBe(200);
        expect(Object.keys((await first.json()).checks).sort()).toEqual(["counted", "store"]);
        await Promise.all([send(get("/health/ready")), send(get("/health/ready"))]);
        expect(probes).toBe(1);
        const uncached = setup({ health: { probes: { counted: async () => void probes++ }, cacheMs: 0 } });
        await uncached.send(get("/health/ready"));
        await uncached.send(get("/health/ready"));
        expect(probes).toBe(3);
      });

      test("a failing probe is 503 problem+json without its message", async () => {
        const { send, errors } = setup({
          health: {
            probes: {
              db: async () => {
                throw new Error("postgres://admin:hunter2@db");
              },
            },
          },
        });
        const response = await send(get("/health/ready"));
        const text = await response.text();
        expect(response.status).toBe(503);
        expect(text).not.toContain("hunter2");
        expect(JSON.parse(text)).toMatchObject({ code: "NOT_READY", detail: "Not ready: db failed" });
        expect(errors).toHaveLength(1);
      });
    });
  });
}
