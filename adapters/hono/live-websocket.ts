import type { Context, MiddlewareHandler } from "hono";
import { type EventEnvelope, getLogger, type LiveConnection, type LiveEndReason } from "../../src/index.js";

/**
 * The part of Hono's `WSContext` the pump uses. Declared here rather than imported from `hono/ws`,
 * whose declarations need the DOM library: the package's types must compile with Node's types alone.
 */
export interface LiveSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  readonly readyState: number;
  /** The runtime's socket: Bun's has `getBufferedAmount()`, browsers' API `bufferedAmount`. */
  readonly raw?: unknown;
}

/** The handlers a Hono WebSocket helper calls (a subset of Hono's `WSEvents`). */
export interface LiveSocketEvents {
  onOpen(event: unknown, ws: LiveSocket): void;
  onClose(): void;
  onError(): void;
}

/** Hono's `upgradeWebSocket` (from `hono/bun`, `hono/deno`, `@hono/node-ws`; not `hono/cloudflare-workers`, which never calls `onOpen`). */
export type UpgradeWebSocket = (createEvents: (c: Context) => LiveSocketEvents) => MiddlewareHandler;

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
  /** First: the global position the stream starts after. */
  | { readonly kind: "open"; readonly position: number }
  /** `more`: another part of the same stored event follows (see `LiveItem`); its position is no resume point yet. */
  | { readonly kind: "event"; readonly event: E; readonly more?: true }
  | { readonly kind: "heartbeat" };

interface BufferedSocket {
  readonly bufferedAmount?: number;
  getBufferedAmount?(): number;
  send?(data: string): unknown;
}

/** What the runtime's socket has not sent yet, in bytes, when the runtime tells (Bun, browsers' API); else 0. */
function buffered(ws: LiveSocket): number {
  const raw = ws.raw as BufferedSocket | undefined;
  if (typeof raw?.getBufferedAmount === "function") return raw.getBufferedAmount();
  return typeof raw?.bufferedAmount === "number" ? raw.bufferedAmount : 0;
}

/**
 * Sends one message; false when the runtime dropped it. Bun's `send` answers 0 for a message it drops
 * (past the server's `backpressureLimit`, 16 MiB by default, when `closeOnBackpressureLimit` is off),
 * which Hono's helper does not pass on: a pump that went on would leave a gap the client never sees.
 */
function sent(ws: LiveSocket, message: LiveMessage): boolean {
  const text = JSON.stringify(message);
  const raw = ws.raw as BufferedSocket | undefined;
  if (typeof raw?.getBufferedAmount === "function" && typeof raw.send === "function") return raw.send(text) !== 0;
  ws.send(text);
  return true;
}

/**
 * The WebSocket handlers of one live connection: on open, a pump sends each event as a
 * {@link LiveMessage}, waiting while the socket holds more than `maxBufferedBytes` unsent (the hub
 * ends a connection that stays behind: close code 4008, reason `slow-consumer`). Teardown is one `finally`.
 */
export function liveSocketEvents(
  connection: LiveConnection,
  heartbeatMs: number,
  maxBufferedBytes: number,
): LiveSocketEvents {
  const pump = async (ws: LiveSocket) => {
    let reason: LiveEndReason = "closed";
    try {
      let delivered = sent(ws, { kind: "open", position: connection.position });
      for (;;) {
        // A message the runtime dropped: the client would miss it unknowing. End it as behind; it resumes.
        if (!delivered) {
          reason = "slow-consumer";
          break;
        }
        while (buffered(ws) > maxBufferedBytes && connection.ended === undefined) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        let item: Awaited<ReturnType<LiveConnection["next"]>>;
        try {
          item = await connection.next(heartbeatMs);
        } catch (error) {
          // The server failed, not the socket: 1011, as the SSE body ends with `error`.
          getLogger().error("live subscription failed", { error });
          reason = "error";
          break;
        }
        if (item === undefined) {
          delivered = sent(ws, { kind: "heartbeat" });
        } else if (item.kind === "end") {
          reason = item.reason;
          break;
        } else {
          delivered = sent(
            ws,
            item.more ? { kind: "event", event: item.event, more: true } : { kind: "event", event: item.event },
          );
        }
      }
    } catch {
      reason = "closed"; // the socket closed under a send
    } finally {
      connection.close(reason === "slow-consumer" ? reason : undefined);
      if (ws.readyState === 1) ws.close(LIVE_CLOSE_CODES[reason], reason);
    }
  };
  // A helper may never call back at all: @hono/node-ws answers the route before the upgrade, and when
  // `ws` then refuses it (no or a malformed Sec-WebSocket-Key) or the client has left, neither onOpen
  // nor onClose comes. The connection would hold a place of `maxClients` for good (for good indeed
  // with a filter nothing matches): a socket not open within a heartbeat is taken as never to open.
  const unopened = setTimeout(() => connection.close("closed"), heartbeatMs);
  const settle = () => clearTimeout(unopened);
  return {
    onOpen: (_event, ws) => {
      settle();
      void pump(ws);
    },
    onClose: () => {
      settle();
      connection.close("closed");
    },
    onError: () => {
      settle();
      connection.close("closed");
    },
  };
}
