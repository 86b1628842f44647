/**
 * Type-level tests of subscribeLive's options. Checked by `tsc -p tsconfig.test.json`, whose Bun types give the
 * global `fetch` a `preconnect` method that a function of one's own does not have.
 */
import { expect, test } from "bun:test";
import { subscribeLive } from "./subscribe.js";

test("fetch takes a plain function, as the live-streams guide passes Hono's app.request", async () => {
  const urls: string[] = [];
  // No cast: `typeof fetch` in Bun's types also asks for `fetch.preconnect`, which a user's function has not.
  const fetch = async (input: string | URL | Request, _init?: RequestInit) => {
    urls.push(input instanceof Request ? input.url : String(input));
    return new Response(null, { status: 401 });
  };
  const subscription = subscribeLive({ url: "http://localhost/events", fetch, onEvent: () => {}, onError: () => {} });
  await subscription.closed;
  expect(urls).toEqual(["http://localhost/events/stream"]);
});

/** What a `ws` socket's events carry (Node 20 has no global WebSocket: the client's own error message says to pass `ws`). */
interface NodeStyleEvents {
  message: { readonly data: unknown; readonly type: string };
  close: { readonly code: number; readonly reason: string; readonly wasClean: boolean };
  error: { readonly error: unknown; readonly message: string };
  open: { readonly type: string };
}

/**
 * A socket of `ws`'s shape: EventEmitter-style, a generic `addEventListener`, no `dispatchEvent`, no static
 * `CONNECTING`. This one opens, is told the stream starts at 0, and is closed by the server (`1001 shutdown`).
 */
class NodeStyleSocket {
  readyState = 1;
  readonly #listeners = new Map<string, ((event: never) => void)[]>();
  constructor(_url: string | URL, _protocols?: string | string[]) {
    queueMicrotask(() => {
      this.#emit("message", { data: '{"kind":"open","position":0}', type: "message" });
      this.readyState = 3;
      this.#emit("close", { code: 1001, reason: "shutdown", wasClean: true });
    });
  }
  send(_data: string): void {}
  close(_code?: number, _reason?: string): void {}
  addEventListener<K extends keyof NodeStyleEvents>(type: K, listener: (event: NodeStyleEvents[K]) => void): void {
    this.#listeners.set(type, [...(this.#listeners.get(type) ?? []), listener as (event: never) => void]);
  }
  #emit<K extends keyof NodeStyleEvents>(type: K, event: NodeStyleEvents[K]): void {
    for (const listener of this.#listeners.get(type) ?? []) (listener as (event: NodeStyleEvents[K]) => void)(event);
  }
}

test("WebSocket takes a class of ws's shape, without a cast (Node 20 has no global WebSocket)", async () => {
  const { promise: ended, resolve } = Promise.withResolvers<string>();
  const subscription = subscribeLive({
    url: "http://localhost/events",
    transport: "websocket",
    WebSocket: NodeStyleSocket,
    onEvent: () => {},
    onEnd: resolve,
  });
  expect(await ended).toBe("shutdown");
  await subscription.close();
});
