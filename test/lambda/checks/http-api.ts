/**
 * The HTTP API function through RIE: documented API Gateway v2 events in, API Gateway results out
 * (status, headers, JSON and problem+json bodies), on the "prod" stage, whose prefix the handler drops.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { type HttpRequestSpec, httpApiEvent } from "../events.ts";
import { type CheckContext, resultOf } from "./context.ts";

interface HttpResult {
  statusCode: number;
  headers?: Record<string, string>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

async function send(ctx: CheckContext, spec: HttpRequestSpec, patch: Record<string, unknown> = {}) {
  return resultOf<HttpResult>(await ctx.fn.invoke({ ...httpApiEvent(spec), ...patch }));
}

function header(result: HttpResult, name: string): string | undefined {
  const entry = Object.entries(result.headers ?? {}).find(([key]) => key.toLowerCase() === name);
  return entry?.[1];
}

const json = { "content-type": "application/json" };

/** A command that does nothing and returns nothing: the request cold starts are measured with. */
export const forgetRequest: HttpRequestSpec = { method: "POST", path: "/commands/Forget", headers: json, body: "{}" };

/** Requests the adapter must refuse, with the status of the problem it answers. */
const PROBLEMS: readonly { name: string; status: number; spec: HttpRequestSpec; patch?: Record<string, unknown> }[] = [
  {
    name: "an unknown command",
    status: 404,
    spec: { method: "POST", path: "/commands/Nope", headers: json, body: "{}" },
  },
  {
    name: "a command registered without a schema",
    status: 404,
    spec: { method: "POST", path: "/commands/Internal", headers: json, body: "{}" },
  },
  { name: "a path with no route", status: 404, spec: { method: "POST", path: "/orders/1", headers: json, body: "{}" } },
  {
    name: "a payload its schema refuses",
    status: 400,
    spec: { method: "POST", path: "/commands/AddItem", headers: json, body: JSON.stringify({ sku: 7 }) },
  },
  { name: "GET on a command route", status: 405, spec: { method: "GET", path: "/commands/AddItem" } },
  {
    name: "a body that is not JSON",
    status: 400,
    spec: { method: "POST", path: "/commands/AddItem", headers: json, body: "{sku:" },
  },
  {
    name: "a base64 body that does not decode",
    status: 400,
    spec: { method: "POST", path: "/commands/AddItem", headers: json, base64: true, body: "{}" },
    patch: { body: "%%not*base64%%" },
  },
  {
    name: "a body over the 1 KiB limit",
    status: 413,
    spec: { method: "POST", path: "/commands/AddItem", headers: json, body: JSON.stringify({ pad: "x".repeat(2048) }) },
  },
  {
    name: "a version conflict",
    status: 409,
    spec: { method: "POST", path: "/commands/Stale", headers: json, body: "{}" },
  },
  {
    name: "a handler crash",
    status: 500,
    spec: { method: "POST", path: "/commands/Crash", headers: json, body: "{}" },
  },
];

export async function httpApiChecks(ctx: CheckContext): Promise<void> {
  const { report, runtime } = ctx;
  await report.check(
    runtime,
    "http: POST with a base64 body, cookies, comma-joined headers, a JWT subject on a stage path",
    async () => {
      const sent = { sku: "Bücher-1", quantity: 2 };
      const result = await send(ctx, {
        method: "POST",
        path: "/commands/AddItem",
        headers: { ...json, "x-correlation-id": "corr-lambda-1" },
        cookies: ["session=abc123", "theme=dark"],
        body: JSON.stringify(sent),
        base64: true,
        claims: { sub: "user-42" },
      });
      strictEqual(result.statusCode, 200, result.body);
      ok(
        header(result, "content-type")?.startsWith("application/json"),
        `content-type ${header(result, "content-type")}`,
      );
      strictEqual(header(result, "x-correlation-id"), "corr-lambda-1");
      const echo = JSON.parse(result.body ?? "") as { payload: unknown; metadata: Record<string, unknown> };
      deepStrictEqual(echo.payload, sent);
      strictEqual(echo.metadata.correlationId, "corr-lambda-1");
      strictEqual(echo.metadata.userId, "user-42");
      strictEqual(echo.metadata.cookies, "session=abc123; theme=dark");
      strictEqual(echo.metadata.forwardedFor, "198.51.100.7, 10.0.0.12");
    },
  );
  await report.check(runtime, "http: GET query parameters become the schema's list and number", async () => {
    const result = await send(ctx, { method: "GET", path: "/queries/FindItems", query: "tag=a&tag=b&limit=5" });
    strictEqual(result.statusCode, 200, result.body);
    deepStrictEqual(JSON.parse(result.body ?? ""), { payload: { tag: ["a", "b"], limit: 5 } });
  });
  await report.check(runtime, "http: the $default stage adds no prefix to the path", async () => {
    const result = await send(ctx, {
      method: "POST",
      stage: "$default",
      path: "/commands/AddItem",
      headers: json,
      body: JSON.stringify({ sku: "b", quantity: 1 }),
    });
    strictEqual(result.statusCode, 200, result.body);
  });
  await report.check(runtime, "http: a command without a result answers 204 with no body", async () => {
    const result = await send(ctx, forgetRequest);
    strictEqual(result.statusCode, 204, result.body);
    ok(result.body === undefined || result.body === "", `body ${result.body}`);
  });
  for (const problem of PROBLEMS) {
    await report.check(runtime, `http: ${problem.name} is a ${problem.status} problem+json`, async () => {
      const result = await send(ctx, problem.spec, problem.patch);
      strictEqual(result.statusCode, problem.status, result.body);
      strictEqual(header(result, "content-type")?.split(";")[0], "application/problem+json");
      ok(header(result, "x-correlation-id"), "no x-correlation-id on the problem");
      const body = JSON.parse(result.body ?? "") as { status?: number; title?: unknown };
      strictEqual(body.status, problem.status);
      ok(typeof body.title === "string" && body.title !== "", "the problem has no title");
      if (problem.status === 405) ok(header(result, "allow")?.includes("POST"), `allow ${header(result, "allow")}`);
      if (problem.status === 500)
        ok(!result.body?.includes("secret-connection-string"), "the 500 leaks the error message");
    });
  }
  await report.check(runtime, "http: an event that is not an HTTP API event is a function error", async () => {
    const invocation = await ctx.fn.invoke({ hello: "world" });
    const body = JSON.parse(invocation.body) as { errorType?: string; errorMessage?: string };
    ok(typeof body.errorType === "string" && body.errorType.endsWith("Error"), invocation.body);
    ok(typeof body.errorMessage === "string" && body.errorMessage !== "", invocation.body);
  });
}
