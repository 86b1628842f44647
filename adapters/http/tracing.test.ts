import { afterEach, describe, expect, test } from "bun:test";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import * as v from "valibot";
import { CommandBus, InMemoryEventBus, InMemoryEventStore, jsonLogger, logging, setLogger } from "../../src/index.js";
import {
  CLIENT_SPAN,
  CLIENT_TRACE,
  exportedText,
  oneTraceThroughSubscription,
  SECRET,
  tracedApp,
} from "../../test/telemetry/one-trace.ts";
import { parentOf, useTracing } from "../../test/telemetry/tracing.ts";
import { createHttpDispatcher } from "./index.js";

const tracing = useTracing();
afterEach(() => setLogger(undefined));

describe("HTTP request spans", () => {
  test("one trace from the request's traceparent through command, append and a store subscription's handler", async () => {
    const { http } = await oneTraceThroughSubscription(new InMemoryEventStore(), tracing);
    expect(http.kind).toBe(SpanKind.SERVER);
    expect(http.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/commands/:type",
      "eventflows.message.type": "Pay",
      "http.response.status_code": 200,
    });
  });

  test("a bus subscriber in the same process is a child of the publish span, in the request's trace", async () => {
    const bus = new InMemoryEventBus();
    bus.subscribeToType("Paid", () => {}, { name: "mailer" });
    const { request } = tracedApp(new InMemoryEventStore({ bus }));
    await request({ traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` });
    const processed = tracing.named("process Paid");
    expect(processed.spanContext().traceId).toBe(CLIENT_TRACE);
    expect(parentOf(processed)).toBe(tracing.named("publish").spanContext().spanId);
  });

  test("an untrusted client's traceparent is not continued", async () => {
    const commands = new CommandBus();
    commands.register("Ping", () => ({}));
    const dispatcher = createHttpDispatcher({
      commands: { bus: commands, schemas: { Ping: v.object({}) } },
      trustClientCorrelation: false,
    });
    await dispatcher.handle(
      new Request("http://localhost/commands/Ping", {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
        body: "{}",
      }),
      undefined,
    );
    const http = tracing.named("POST /commands/:type");
    expect(http.spanContext().traceId).not.toBe(CLIENT_TRACE);
    expect(parentOf(http)).toBeUndefined();
  });

  test("a trustClientCorrelation function that throws gets the 500 problem it gets without a tracer", async () => {
    const commands = new CommandBus();
    commands.register("Ping", () => ({}));
    const reported: unknown[] = [];
    const dispatcher = createHttpDispatcher({
      commands: { bus: commands, schemas: { Ping: v.object({}) } },
      trustClientCorrelation: () => {
        throw new Error("trust check failed");
      },
      onError: (error) => reported.push(error),
    });
    const response = await dispatcher.handle(
      new Request("http://localhost/commands/Ping", {
        method: "POST",
        headers: { "content-type": "application/json", traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` },
        body: "{}",
      }),
      undefined,
    );
    expect(response.status).toBe(500);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect((await response.json()).detail).not.toContain("trust check failed");
    expect(reported.map((error) => (error as Error).message)).toEqual(["trust check failed"]);
    const http = tracing.named("POST /commands/:type");
    expect(http.spanContext().traceId).not.toBe(CLIENT_TRACE);
    expect(http.attributes["http.response.status_code"]).toBe(500);
  });

  test("a server error is recorded with its code; a 4xx only sets the status code; unknown types stay out", async () => {
    const commands = new CommandBus();
    commands.register("Boom", () => {
      throw new Error(`db postgres://app:${SECRET}@db.internal refused`);
    });
    const dispatcher = createHttpDispatcher({
      commands: { bus: commands, schemas: { Boom: v.object({}) } },
      onError: () => {},
    });
    const post = (type: string) =>
      dispatcher.handle(
        new Request(`http://localhost/commands/${type}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        }),
        undefined,
      );
    expect((await post("Boom")).status).toBe(500);
    const failed = tracing.named("POST /commands/:type");
    expect(failed.status.code).toBe(SpanStatusCode.ERROR);
    expect(failed.attributes["http.response.status_code"]).toBe(500);
    expect(failed.attributes["error.type"]).toBe("Error");
    tracing.exporter.reset();
    expect((await post("Unknown-Type")).status).toBe(404);
    const missing = tracing.named("POST /commands/:type");
    expect(missing.attributes["eventflows.message.type"]).toBeUndefined();
    expect(missing.status.code).toBe(SpanStatusCode.UNSET);
  });

  test("telemetry: false on the dispatcher makes no request span", async () => {
    const commands = new CommandBus({ telemetry: false });
    commands.register("Ping", () => ({}));
    const dispatcher = createHttpDispatcher({
      commands: { bus: commands, schemas: { Ping: v.object({}) } },
      telemetry: false,
    });
    await dispatcher.handle(
      new Request("http://localhost/commands/Ping", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: "{}",
      }),
      undefined,
    );
    expect(tracing.spans()).toHaveLength(0);
  });
});

describe("no secret in telemetry", () => {
  test("a secret in the payload, a header and a failing backend's message reaches no span attribute or log line", async () => {
    const lines: string[] = [];
    setLogger(jsonLogger({ level: "debug", write: (line) => void lines.push(line) }));
    const store = new InMemoryEventStore();
    const { request, commands } = tracedApp(store);
    commands.use(logging());
    expect((await request()).status).toBe(200);
    const failing = createHttpDispatcher({
      commands: {
        bus: (() => {
          const bus = new CommandBus();
          bus.register("Pay", () => {
            throw new Error(`connect postgres://app:${SECRET}@db.internal failed`);
          });
          return bus;
        })(),
        schemas: { Pay: v.object({ orderId: v.string(), password: v.string() }) },
      },
    });
    const response = await failing.handle(
      new Request("http://localhost/commands/Pay", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${SECRET}` },
        body: JSON.stringify({ orderId: "o1", password: SECRET }),
      }),
      undefined,
    );
    expect(response.status).toBe(500);
    expect(tracing.spans().length).toBeGreaterThan(4);
    expect(lines.length).toBeGreaterThan(0);
    expect(exportedText(tracing)).not.toContain(SECRET);
    expect(lines.join("\n")).not.toContain(SECRET);
  });
});
