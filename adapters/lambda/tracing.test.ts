import { describe, expect, test } from "bun:test";
import { SpanKind } from "@opentelemetry/api";
import * as v from "valibot";
import { CommandBus } from "../../src/index.js";
import { parentOf, useTracing } from "../../test/telemetry/tracing.ts";
import documented from "./fixtures/http-api-v2-event.json";
import { type ApiGatewayProxyEventV2, createHttpApiHandler } from "./index.js";

const tracing = useTracing();
const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";

describe("Lambda HTTP API handler spans", () => {
  test("an API Gateway event gets the dispatcher's server span, continuing the caller's traceparent", async () => {
    const commands = new CommandBus();
    commands.register("Ping", () => ({ pong: true }));
    const handler = createHttpApiHandler({ commands: { bus: commands, schemas: { Ping: v.object({}) } } });
    const base = structuredClone(documented) as unknown as ApiGatewayProxyEventV2;
    const event = {
      ...base,
      rawPath: "/commands/Ping",
      rawQueryString: "",
      headers: { "content-type": "application/json", traceparent: `00-${TRACE}-${PARENT}-01` },
      body: "{}",
      isBase64Encoded: false,
      requestContext: {
        ...base.requestContext,
        http: { ...base.requestContext.http, method: "POST", path: "/commands/Ping" },
      },
    } as ApiGatewayProxyEventV2;
    const result = await handler(event);
    expect(result.statusCode).toBe(200);
    const http = tracing.named("POST /commands/:type");
    expect(http.kind).toBe(SpanKind.SERVER);
    expect(http.spanContext().traceId).toBe(TRACE);
    expect(parentOf(http)).toBe(PARENT);
    expect(parentOf(tracing.named("command Ping"))).toBe(http.spanContext().spanId);
  });
});
