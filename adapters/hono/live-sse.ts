import { type EventEnvelope, getLogger, type LiveConnection, type LiveEndReason } from "../../src/index.js";

const encoder = new TextEncoder();

/**
 * One event as an SSE message: `id` is its global position, so `Last-Event-ID` resumes after it. A
 * part of a split event that another part follows (`more`) has no `id`: the parts share the position,
 * and a reader resuming after it would never get the rest. EventSource keeps the last `id` it had, so
 * a reconnect there resumes before the event, and its parts come again.
 */
export function sseEvent(event: EventEnvelope, more = false, escapeMarkup = false): string {
  const json = JSON.stringify(event);
  // The operations UI's JSON escapes `<` (`\u003c`: still JSON), its live feed as its answers.
  const data = `data: ${escapeMarkup ? json.replaceAll("<", "\\u003c") : json}\n\n`;
  return more ? data : `id: ${event.globalPosition ?? ""}\n${data}`;
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
 * `heartbeatMs` idle, and an `end` event when the server ends it. A pull stream: it takes the next
 * event only when the reader (the socket) asks for one, so a client that stops reading stops taking
 * events, its buffer in the hub fills, and the hub ends it (`slow-consumer`). The reader cancelling
 * the body (the client went away) frees the connection at once, in the canceller's own turn: on
 * workerd a cancelled request's pending timers and continuations never run, so no pump waiting on
 * them could notice.
 */
export function sseBody(
  connection: LiveConnection,
  heartbeatMs: number,
  signal: AbortSignal,
  escapeMarkup = false,
): ReadableStream<Uint8Array> {
  const gone = () => connection.close("closed");
  // The client may have gone while the hub connected it: an abort already fired fires no listener.
  if (signal.aborted) gone();
  else signal.addEventListener("abort", gone, { once: true });
  const finish = () => {
    signal.removeEventListener("abort", gone);
    connection.close();
  };
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        // At once: an `open` event with the position the stream starts after (a client that asked
        // for new events only resumes from there if it drops before its first event), also as its
        // `id`, so that a browser's EventSource sends it back as `Last-Event-ID` on that reconnect
        // rather than start again from the head; `retry` sets EventSource's reconnect delay.
        const position = connection.position;
        controller.enqueue(
          encoder.encode(`retry: 1000\nevent: open\nid: ${position}\ndata: {"position":${position}}\n\n`),
        );
      },
      async pull(controller) {
        let item: Awaited<ReturnType<LiveConnection["next"]>>;
        try {
          item = await connection.next(heartbeatMs);
        } catch (error) {
          // An errored body would leave the connection in the hub (a place of `maxClients` held
          // until its buffer fills) and cut the client off without a reason: end it as `error`.
          getLogger().error("live subscription failed", { error });
          connection.close("error");
          item = { kind: "end", reason: "error" };
        }
        if (item === undefined) {
          controller.enqueue(encoder.encode(SSE_HEARTBEAT));
        } else if (item.kind === "event") {
          controller.enqueue(encoder.encode(sseEvent(item.event, item.more === true, escapeMarkup)));
        } else {
          finish();
          // A client that stopped reading gets the end frame when (if) it reads again.
          if (item.reason !== "closed") controller.enqueue(encoder.encode(sseEnd(item.reason)));
          controller.close();
        }
      },
      cancel: finish,
    },
    // Nothing read ahead: an event leaves the hub's buffer only when the socket takes it.
    { highWaterMark: 0 },
  );
}
