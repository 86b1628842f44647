/**
 * One application for the tracing tests of every store: an HTTP command that appends an event, a
 * store subscription that handles it, and the checks that all of it is one trace.
 */
import { expect } from "bun:test";
import * as v from "valibot";
import { createHttpDispatcher } from "../../adapters/http/index.js";
import {
  CommandBus,
  type EventEnvelope,
  type EventStore,
  eventMetadataFor,
  parseTraceparent,
} from "../../src/index.js";
import { parentOf, type TracingFixture } from "./tracing.ts";

export const CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
export const CLIENT_SPAN = "00f067aa0ba902b7";
export const SECRET = "sk_live_9f8e7d6c5b4a39281726";

/** An HTTP command that appends an event; a store subscription handles it. */
export function tracedApp(store: EventStore) {
  const commands = new CommandBus();
  commands.register("Pay", async (payload: unknown, message) => {
    const { orderId } = payload as { orderId: string; password: string };
    await store.appendToStream(`Order-${orderId}`, [{ type: "Paid", data: payload }], {
      metadata: eventMetadataFor(message),
    });
    return { ok: true };
  });
  const dispatcher = createHttpDispatcher({
    commands: { bus: commands, schemas: { Pay: v.object({ orderId: v.string(), password: v.string() }) } },
  });
  const request = (headers: Record<string, string> = {}) =>
    dispatcher.handle(
      new Request("http://localhost/commands/Pay", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${SECRET}`, ...headers },
        body: JSON.stringify({ orderId: "o1", password: SECRET }),
      }),
      undefined,
    );
  return { commands, dispatcher, request };
}

/** Every attribute, event attribute, link and status message of every span, as one text. */
export function exportedText(fixture: TracingFixture): string {
  return JSON.stringify(
    fixture.spans().map((span) => ({
      name: span.name,
      attributes: span.attributes,
      events: span.events.map((event) => [event.name, event.attributes]),
      status: span.status,
    })),
  );
}

/** Runs the app's request, waits for the subscription to handle the event, returns the spans in one trace. */
export async function oneTraceThroughSubscription(store: EventStore, fixture: TracingFixture) {
  const { request } = tracedApp(store);
  const handled: EventEnvelope[] = [];
  const after = await store.getLastGlobalPosition();
  const subscription = store.subscribeToAll({
    name: "receipts",
    after,
    pollIntervalMs: 10,
    handler: (event) => void handled.push(event),
  });
  try {
    const response = await request({ traceparent: `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01` });
    expect(response.status).toBe(200);
    const deadline = Date.now() + 5000;
    while (handled.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  } finally {
    await subscription.stop();
  }
  expect(handled).toHaveLength(1);
  const http = fixture.named("POST /commands/:type");
  const command = fixture.named("command Pay");
  const append = fixture.named("appendToStream");
  const processed = fixture
    .spans()
    .filter((span) => span.name === "process Paid" && span.attributes["messaging.consumer.group.name"] === "receipts");
  expect(processed).toHaveLength(1);
  const handler = processed[0] as (typeof processed)[number];
  for (const span of [http, command, append, handler]) expect(span.spanContext().traceId).toBe(CLIENT_TRACE);
  expect(parentOf(http)).toBe(CLIENT_SPAN);
  expect(parentOf(command)).toBe(http.spanContext().spanId);
  expect(parentOf(append)).toBe(command.spanContext().spanId);
  expect(parentOf(handler)).toBe(append.spanContext().spanId);
  expect(parseTraceparent(handled[0]?.metadata.traceparent)?.spanId).toBe(append.spanContext().spanId);
  return { http, command, append, handler };
}
