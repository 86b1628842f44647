/**
 * The routes on `Deno.serve`, driven by real clients (Deno's fetch and WebSocket), as the docs show
 * them: the live routes with `hono/deno`'s `upgradeWebSocket` (docs/guide/live-streams.md, the
 * scenario every runtime runs), and the HTTP dispatcher as a bare handler (docs/adapters/hono.md).
 * Bundled and run by test/runtime/deno/run.ts against the built package.
 */
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import * as v from "valibot";
import { createHttpDispatcher } from "../../../adapters/http/index.js";
import { CommandBus } from "../../../src/index.js";
import { runLiveScenario } from "../../live/scenario.js";
import { scenarioServer } from "../../live/scenario-access.js";

interface DenoServer {
  readonly addr: { readonly port: number };
  shutdown(): Promise<void>;
}
declare const Deno: {
  test(options: {
    name: string;
    fn: () => Promise<void>;
    permissions: { net: string[]; env: boolean; read: boolean; write: boolean };
    sanitizeOps?: boolean;
    sanitizeResources?: boolean;
  }): void;
  serve(options: {
    hostname: string;
    port: number;
    onListen?: () => void;
    handler: (request: Request) => Response | Promise<Response>;
  }): DenoServer;
  connect(options: { hostname: string; port: number }): Promise<{
    write(data: Uint8Array): Promise<number>;
    close(): void;
  }>;
};

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** As the docs say: serving needs the network, and no other permission. */
const permissions = { net: ["127.0.0.1"], env: false, read: false, write: false };

const serve = (handler: (request: Request) => Response | Promise<Response>) =>
  Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {}, handler });

Deno.test({
  name: "live routes on Deno.serve with hono/deno's upgradeWebSocket: SSE and WebSocket clients, resume, 401/403",
  permissions,
  // The hub's poll timer and the clients' sockets end with hub.close and server.shutdown.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const { store, hub, routes } = scenarioServer(upgradeWebSocket);
    const app = new Hono();
    app.route("/api", routes);
    const server = serve(app.fetch);
    try {
      await runLiveScenario({
        base: `http://127.0.0.1:${server.addr.port}/api/events`,
        store,
        connections: () => hub.size,
        WebSocket,
        clientsPerTransport: 10,
        events: 300,
        log: (line) => console.log(`deno: ${line}`),
      });
      // Clients that go away (an SSE reader aborted, a WebSocket closed) give their place in the hub back.
      const base = `127.0.0.1:${server.addr.port}/api/events`;
      await until(() => hub.size === 0, "the scenario's clients to be released");
      const aborted = new AbortController();
      const sse = await fetch(`http://${base}/stream?token=alice`, { signal: aborted.signal });
      if (sse.status !== 200) throw new Error(`SSE answered ${sse.status}`);
      await sse.body?.getReader().read();
      const socket = new WebSocket(`ws://${base}/ws?token=alice`);
      await new Promise((resolve, reject) => {
        socket.onmessage = resolve;
        socket.onerror = () => reject(new Error("the WebSocket failed"));
      });
      await until(() => hub.size === 2, "both clients to be connected");
      aborted.abort();
      socket.close();
      await until(() => hub.size === 0, "the SSE and WebSocket clients that left to be released");
    } finally {
      await hub.close();
      await server.shutdown();
    }
  },
});

Deno.test({
  name: "Deno.serve({ handler: (request) => dispatcher.handle(request, undefined) }): commands, errors, 405, bodies streamed past the limit or cut short",
  permissions,
  fn: async () => {
    const commands = new CommandBus<{ Ping: { payload: { n: number }; result: { n: number } } }>();
    commands.register("Ping", ({ n }) => ({ n }));
    const dispatcher = createHttpDispatcher({
      commands: { bus: commands, schemas: { Ping: v.object({ n: v.number() }) } },
    });
    const server = serve((request) => dispatcher.handle(request, undefined));
    const base = `http://127.0.0.1:${server.addr.port}`;
    const post = (body: string, headers: Record<string, string> = { "content-type": "application/json" }) =>
      fetch(`${base}/commands/Ping`, { method: "POST", headers, body });
    const expect = async (response: Response, status: number, what: string) => {
      const text = await response.text();
      if (response.status !== status) throw new Error(`${what}: ${response.status} ${text}, expected ${status}`);
      return text;
    };
    try {
      const ok = await expect(await post('{"n":1}'), 200, "a valid command");
      if (JSON.parse(ok).n !== 1) throw new Error(`a valid command answered ${ok}`);
      const invalid = await post('{"n":"one"}');
      await expect(invalid, 400, "an invalid payload");
      if (!invalid.headers.get("content-type")?.startsWith("application/problem+json"))
        throw new Error(`an invalid payload answered ${invalid.headers.get("content-type")}`);
      await expect(await post('{"n":'), 400, "malformed JSON");
      await expect(await post("x".repeat(1024 * 1024 + 1)), 413, "a body over 1 MiB");
      await expect(await fetch(`${base}/commands/Nope`, { method: "POST", body: "{}" }), 404, "an unknown command");
      const propfind = await fetch(`${base}/commands/Ping`, { method: "PROPFIND" });
      await expect(propfind, 405, "PROPFIND");
      if (propfind.headers.get("allow") !== "POST") throw new Error(`405 allow: ${propfind.headers.get("allow")}`);
      // A body streamed without a length, past the limit: refused as too large.
      const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
      let sent = 0;
      const endless = new ReadableStream<Uint8Array>({
        pull(controller) {
          sent += chunk.length;
          if (sent > 4 * 1024 * 1024) controller.close();
          else controller.enqueue(chunk);
        },
      });
      const streamed = await fetch(`${base}/commands/Ping`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: endless,
        duplex: "half",
      } as RequestInit);
      await expect(streamed, 413, "a streamed body over 1 MiB");
      // A client that sends half its body and hangs up: the server goes on serving.
      const socket = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
      await socket.write(
        new TextEncoder().encode(
          'POST /commands/Ping HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{"n":',
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      socket.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await expect(await post('{"n":2}'), 200, "a command after a client hung up mid-body");
    } finally {
      await server.shutdown();
    }
  },
});
