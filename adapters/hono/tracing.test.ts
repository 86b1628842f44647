import { describe, expect, test } from "bun:test";
import { SpanKind } from "@opentelemetry/api";
import { Hono } from "hono";
import * as v from "valibot";
import { QueryBus } from "../../src/index.js";
import { parentOf, useTracing } from "../../test/telemetry/tracing.ts";
import { eventFlowsRoutes } from "./index.js";

const tracing = useTracing();
const TRACE = "0af7651916cd43dd8448eb211c80319c";
const PARENT = "b7ad6b7169203331";

describe("Hono route spans", () => {
  test("a query through the mounted routes gets the dispatcher's server span in the caller's trace", async () => {
    const queries = new QueryBus();
    queries.register("Stock", () => ({ units: 3 }));
    const app = new Hono();
    app.route("/api", eventFlowsRoutes({ queries: { bus: queries, schemas: { Stock: v.object({}) } } }));
    const response = await app.request("/api/queries/Stock", { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } });
    expect(response.status).toBe(200);
    const http = tracing.named("GET /queries/:type");
    expect(http.kind).toBe(SpanKind.SERVER);
    expect(http.attributes).toMatchObject({ "http.route": "/queries/:type", "http.response.status_code": 200 });
    expect(http.spanContext().traceId).toBe(TRACE);
    expect(parentOf(http)).toBe(PARENT);
    expect(parentOf(tracing.named("query Stock"))).toBe(http.spanContext().spanId);
  });
});
