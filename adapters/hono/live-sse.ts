import type { EventEnvelope, LiveConnection, LiveEndReason } from "../../src/index.js";

const encoder = new TextEncoder();

/** One event as an SSE message: `id` is its global position, so `Last-Event-ID` resumes after it. */
export function sseEvent(event: EventEnvelope): string {
  return `id: ${event.globalPosition ?? ""}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** The last message of a stream the server ends: an `end` event naming why. */
export function sseEnd(reason: LiveEndReason): string {
  return `event: end\ndata: ${JSON.stringify({ reason })}\n\n`;
}

export const SSE_HEARTBEAT = ": heartbeat\n\n";

export const SSE_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  // Proxies (nginx) must pass each message on, not buffer the stream.
  "x-accel-buffering": "no",
} as const;

/**
 * The body of an SSE response: the connection's events as they come, a heartbeat comment after
 * `heartbeatMs` idle, and an `end` event when the server ends it. Each write waits for the reader
 * (the socket) to take the last one, so a client that stops reading stops the pump, its buffer in the
 * hub fills, and the hub ends it (`slow-consumer`). Teardown is one `finally`.
 */
export function sseBody(
  connection: LiveConnection,
  heartbeatMs: number,
  signal: AbortSignal,
): ReadableStream<Uint8Array> {
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const writer = writable.getWriter();
  const gone = () => connection.close("closed");
  signal.addEventListener("abort", gone, { once: true });
  const pump = async () => {
    let reason: LiveEndReason | undefined;
    try {
      // At once: an `open` event with the position the stream starts after (a client that asked for
      // new events only resumes from there if it drops before its first event); `retry` sets
      // EventSource's reconnect delay.
      await writer.write(encoder.encode(`retry: 1000\nevent: open\ndata: {"position":${connection.position}}\n\n`));
      for (;;) {
        // A reader that never drains must not hold the pump: the hub ending the connection frees it.
        const ready = await Promise.race([writer.ready.then(() => true), connection.done.then(() => false)]);
        if (!ready) {
          reason = connection.ended;
          break;
        }
        const item = await connection.next(heartbeatMs);
        if (item === undefined) {
          await writer.write(encoder.encode(SSE_HEARTBEAT));
        } else if (item.kind === "end") {
          reason = item.reason;
          break;
        } else {
          await writer.write(encoder.encode(sseEvent(item.event)));
        }
      }
    } catch {
      // The client went away (the write failed): nothing to tell it.
    } finally {
      signal.removeEventListener("abort", gone);
      connection.close();
      // Not awaited: a client that does not read gets the end frame when (if) it reads again.
      if (reason !== undefined && reason !== "closed") writer.write(encoder.encode(sseEnd(reason))).catch(() => {});
      writer.close().catch(() => {});
    }
  };
  void pump();
  return readable;
}
