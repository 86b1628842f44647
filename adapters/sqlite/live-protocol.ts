/**
 * The messages a live subscriber sends a Durable Object's `LiveSubscribers` (the object sends the
 * Hono live routes' messages: `open`, `event`, `heartbeat`). Text frames of JSON.
 */

/** A subscriber's ping; the runtime answers {@link LIVE_HEARTBEAT} itself, without waking the object. */
export const LIVE_PING = '{"kind":"ping"}';
export const LIVE_HEARTBEAT = '{"kind":"heartbeat"}';

/** An acknowledgement: `received` events of this connection handled so far. */
export function ackMessage(received: number): string {
  return `{"kind":"ack","received":${received}}`;
}

/** The count an acknowledgement carries, or `undefined` for any other message. */
export function parseClientMessage(data: string | ArrayBuffer): number | undefined {
  if (typeof data !== "string" || data.length > 100) return undefined;
  try {
    const message = JSON.parse(data) as { kind?: unknown; received?: unknown };
    const received = message.received;
    return message.kind === "ack" && Number.isSafeInteger(received) && (received as number) >= 0
      ? (received as number)
      : undefined;
  } catch {
    return undefined;
  }
}
