/**
 * When a WebSocket connection ends for the client: at its own decision (the idle timeout, close(), a
 * failed handler) or at the socket's first error, not when the runtime's close event comes. That
 * event waits for the server's close reply (about 30 s from a silent peer on Bun and with `ws`), and
 * Node 22's built-in WebSocket never fires it after a failed connect or a refused upgrade.
 */
import { afterEach, expect, test } from "bun:test";
import { LiveClientErrorCode, type LiveSocket, subscribeLive } from "./index.js";

let server: { stop(closeActiveConnections?: boolean): void } | undefined;
afterEach(() => {
  server?.stop(true);
  server = undefined;
});

/**
 * A real TCP peer that completes the upgrade by hand, sends the `open` message, then reads nothing
 * and answers nothing, the close frame included: a hung or half-open server.
 */
function silentPeer(): { url: string; upgrades: () => number } {
  let upgrades = 0;
  const listener = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket, bytes) {
        const text = new TextDecoder().decode(bytes);
        const key = /sec-websocket-key:\s*(\S+)/i.exec(text)?.[1];
        if (key === undefined) return; // a frame after the upgrade: ignored
        upgrades += 1;
        const hash = new Bun.CryptoHasher("sha1");
        hash.update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`);
        const accept = hash.digest("base64");
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
        );
        const open = new TextEncoder().encode('{"kind":"open","position":0}');
        socket.write(new Uint8Array([0x81, open.length, ...open]));
      },
    },
  });
  server = listener;
  return { url: `http://127.0.0.1:${listener.port}/events`, upgrades: () => upgrades };
}

async function settles(promise: Promise<unknown>, withinMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), withinMs);
  });
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(check: () => boolean, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  while (!check() && Date.now() < deadline) await Bun.sleep(10);
  return check();
}

test("a silent peer: the idle timeout drops the connection and reconnects, without waiting for its close reply", async () => {
  const { url, upgrades } = silentPeer();
  const errors: unknown[] = [];
  const subscription = subscribeLive({
    url,
    transport: "websocket",
    from: 0,
    idleTimeoutMs: 200,
    backoff: { initialMs: 10, maxMs: 10 },
    onEvent: () => {},
    onError: (error) => void errors.push(error),
  });
  try {
    // Before, the drop waited out Bun's close handshake (31 s here) and no second connection came.
    expect(await until(() => upgrades() >= 2, 10_000)).toBe(true);
    expect(errors[0]).toMatchObject({ code: LiveClientErrorCode.Disconnected });
  } finally {
    // close() ends the connection in hand at once, reply or not (before: the same 31 s).
    expect(await settles(subscription.close(), 10_000)).toBe(true);
  }
});

test("a socket that fires error and never close (Node 22's WebSocket on a refused upgrade; a stand-in, as Bun's fires both): a drop, retried", async () => {
  let made = 0;
  class ErrorOnlySocket implements LiveSocket {
    readyState = 0;
    readonly #errors: (() => void)[] = [];
    constructor() {
      made += 1;
      setTimeout(() => {
        this.readyState = 3;
        for (const listener of this.#errors) listener();
      }, 1);
    }
    send(): void {}
    close(): void {}
    addEventListener(type: string, listener: (event: never) => void): void {
      if (type === "error") this.#errors.push(listener as () => void);
    }
  }
  const errors: unknown[] = [];
  const subscription = subscribeLive({
    url: "http://127.0.0.1:9/events",
    transport: "websocket",
    WebSocket: ErrorOnlySocket,
    backoff: { initialMs: 10, maxMs: 10 },
    onEvent: () => {},
    onError: (error) => void errors.push(error),
  });
  try {
    // Before, the first connection never ended: no onError, no second socket.
    expect(await until(() => made >= 3 && errors.length >= 2, 10_000)).toBe(true);
    expect(errors[0]).toMatchObject({ code: LiveClientErrorCode.Disconnected });
  } finally {
    expect(await settles(subscription.close(), 10_000)).toBe(true);
  }
});

test("an idle drop of a socket that fires error from inside close() while connecting (as a stand-in for such a class): reported as the idle close (4000), not 1006", async () => {
  class ErrorOnCloseSocket implements LiveSocket {
    readyState = 0;
    readonly #errors: (() => void)[] = [];
    send(): void {}
    close(): void {
      this.readyState = 3;
      for (const listener of this.#errors) listener();
    }
    addEventListener(type: string, listener: (event: never) => void): void {
      if (type === "error") this.#errors.push(listener as () => void);
    }
  }
  const errors: { message?: string }[] = [];
  const subscription = subscribeLive({
    url: "http://127.0.0.1:9/events",
    transport: "websocket",
    WebSocket: ErrorOnCloseSocket,
    idleTimeoutMs: 20,
    backoff: { initialMs: 10, maxMs: 10 },
    onEvent: () => {},
    onError: (error) => void errors.push(error as { message?: string }),
  });
  try {
    expect(await until(() => errors.length >= 1, 10_000)).toBe(true);
    expect(errors[0]).toMatchObject({
      code: LiveClientErrorCode.Disconnected,
      message: "The live stream closed (4000)",
    });
  } finally {
    expect(await settles(subscription.close(), 10_000)).toBe(true);
  }
});
