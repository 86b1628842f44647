import type { UpgradeWebSocket, WSContext, WSEvents } from "hono/ws";
import type { EventEnvelope, LiveConnection, LiveEndReason } from "../../src/index.js";

/**
 * WebSocket close codes a live stream ends with (the reason text is the {@link LiveEndReason}):
 * 4008 a slow consumer, dropped; 1001 the server is shutting down; 1011 the server failed; 1000 closed.
 */
export const LIVE_CLOSE_CODES: Readonly<Record<LiveEndReason, number>> = {
  "slow-consumer": 4008,
  shutdown: 1001,
  error: 1011,
  closed: 1000,
};

/** One WebSocket message of a live stream: JSON, an event or a heartbeat. */
export type LiveMessage<E extends EventEnvelope = EventEnvelope> =
  | { readonly kind: "event"; readonly event: E }
  | { readonly kind: "heartbeat" };

export type { UpgradeWebSocket };

interface BufferedSocket {
  readonly bufferedAmount?: number;
  getBufferedAmount?(): number;
}

/** What the runtime's socket has not sent yet, in bytes, when the runtime tells (Bun, browsers' API); else 0. */
function buffered(ws: WSContext): number {
  const raw = ws.raw as BufferedSocket | undefined;
  if (typeof raw?.getBufferedAmount === "function") return raw.getBufferedAmount();
  return typeof raw?.bufferedAmount === "number" ? raw.bufferedAmount : 0;
}

/**
 * The WebSocket handlers of one live connection: on open, a pump sends each event as a
 * {@link LiveMessage}, waiting while the socket holds more than `maxBufferedBytes` unsent (the hub
 * ends a connection that stays behind: close code 4008, reason `slow-consumer`). Teardown is one `finally`.
 */
export function liveSocketEvents(connection: LiveConnection, heartbeatMs: number, maxBufferedBytes: number): WSEvents {
  const pump = async (ws: WSContext) => {
    let reason: LiveEndReason = "closed";
    try {
      for (;;) {
        while (buffered(ws) > maxBufferedBytes && connection.ended === undefined) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const item = await connection.next(heartbeatMs);
        if (item === undefined) {
          ws.send(JSON.stringify({ kind: "heartbeat" } satisfies LiveMessage));
        } else if (item.kind === "end") {
          reason = item.reason;
          break;
        } else {
          ws.send(JSON.stringify({ kind: "event", event: item.event } satisfies LiveMessage));
        }
      }
    } catch {
      reason = "closed"; // the socket closed under a send
    } finally {
      connection.close();
      if (ws.readyState === 1) ws.close(LIVE_CLOSE_CODES[reason], reason);
    }
  };
  return {
    onOpen: (_event, ws) => void pump(ws),
    onClose: () => connection.close("closed"),
    onError: () => connection.close("closed"),
  };
}
