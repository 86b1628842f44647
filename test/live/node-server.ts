/**
 * Serves a Hono app on Node for the live tests, without @hono/node-server (not a dependency): a
 * node:http bridge that streams response bodies with backpressure (waits for `drain`), and a Hono
 * WebSocket helper over the `ws` package (present as miniflare's dependency), whose sockets report
 * `bufferedAmount` as the live pump expects. Test code only: it uses Node built-ins.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Hono } from "hono";
import { defineWebSocketHelper, type UpgradeWebSocket, WSContext } from "hono/ws";

interface WsSocket {
  readonly bufferedAmount: number;
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  on(event: "close", listener: (code: number, reason: Buffer) => void): void;
  on(event: "error", listener: (error: Error) => void): void;
  on(event: "message", listener: (data: Buffer) => void): void;
}
interface WsServer {
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, done: (ws: WsSocket) => void): void;
}
export interface WsModule {
  WebSocketServer: new (options: { noServer: true }) => WsServer;
  WebSocket: typeof WebSocket;
}

/** `ws`, loaded at run time from node_modules (it has no types here). */
export async function loadWs(): Promise<WsModule> {
  const name = "ws";
  // Its ESM wrapper names both classes; its default export is only the client class.
  const module = (await import(name)) as WsModule;
  return { WebSocketServer: module.WebSocketServer, WebSocket: module.WebSocket };
}

interface UpgradeEnv {
  readonly incoming: IncomingMessage;
  readonly socket: Duplex;
  readonly head: Buffer;
}

export function nodeUpgradeWebSocket(ws: WsModule): UpgradeWebSocket {
  const wss = new ws.WebSocketServer({ noServer: true });
  return defineWebSocketHelper(async (c, events) => {
    const env = c.env as UpgradeEnv | undefined;
    if (env?.socket === undefined) return;
    await new Promise<void>((resolve) => {
      wss.handleUpgrade(env.incoming, env.socket, env.head, (socket) => {
        const context = new WSContext({
          send: (data) => socket.send(data as string),
          close: (code, reason) => socket.close(code, reason),
          raw: socket,
          readyState: 1,
        });
        socket.on("close", () => events.onClose?.(new Event("close") as CloseEvent, context));
        socket.on("error", () => events.onError?.(new Event("error"), context));
        events.onOpen?.(new Event("open"), context);
        resolve();
      });
    });
    // The socket is upgraded already; this response is never written.
    return new Response(null);
  });
}

/**
 * Resolves true on `drain`, false if the response closes first: a client gone while its socket
 * buffer is full never drains, and waiting for it would hold the body's reader (and the live
 * connection behind it) for ever.
 */
function drained(outgoing: ServerResponse): Promise<boolean> {
  if (outgoing.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => () => {
      outgoing.off("drain", onDrain);
      outgoing.off("close", onClose);
      resolve(ok);
    };
    const onDrain = done(true);
    const onClose = done(false);
    outgoing.once("drain", onDrain);
    outgoing.once("close", onClose);
  });
}

/** Listens on a free port; resolves with the server and its port. */
export async function serveOnNode(app: Hono): Promise<{ server: Server; port: number }> {
  const server = createServer(async (incoming, outgoing) => {
    const controller = new AbortController();
    // Each SSE message is a small write: without this, Nagle's algorithm holds it for the client's delayed ACK.
    incoming.socket.setNoDelay(true);
    const headers = new Headers();
    for (const [name, value] of Object.entries(incoming.headers)) {
      if (typeof value === "string") headers.set(name, value);
    }
    const request = new Request(`http://${incoming.headers.host}${incoming.url}`, {
      method: incoming.method,
      headers,
      signal: controller.signal,
    });
    // Node's Request follows `controller.signal` only through a WeakRef: once nothing holds the
    // Request (the handler has returned its streaming Response), a GC drops the Request's own
    // signal and the client's disconnect never reaches the listeners the live routes put on it.
    // This listener holds the Request until the socket closes.
    outgoing.once("close", () => {
      controller.abort();
      void request.signal.aborted;
    });
    const response = await app.fetch(request);
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    if (response.body === null) return void outgoing.end();
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (!outgoing.write(value) && !(await drained(outgoing))) break;
      }
    } catch {
      // The client went away.
    } finally {
      outgoing.end();
      await reader.cancel().catch(() => {});
    }
  });
  server.on("upgrade", (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
    const request = new Request(`http://${incoming.headers.host}${incoming.url}`, {
      headers: Object.entries(incoming.headers).flatMap(([name, value]) =>
        typeof value === "string" ? [[name, value] as [string, string]] : [],
      ),
    });
    void Promise.resolve(app.fetch(request, { incoming, socket, head } satisfies UpgradeEnv)).then((response) => {
      // Refused before the upgrade (401, 403): answer over the raw socket.
      if (socket.writable && !(socket as { upgraded?: boolean }).upgraded && response.status !== 200) {
        socket.end(`HTTP/1.1 ${response.status} Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  return { server, port: typeof address === "object" && address !== null ? address.port : 0 };
}
