/**
 * LiveSubscribers' flow control and cap with a stand-in for workerd's hibernation API (a ctx that
 * keeps accepted sockets, a WebSocketPair whose server end records what it was sent): the mock is
 * for what no emulator gives Bun; test/runtime/suites/sqlite-live.ts runs the same rules in workerd.
 */
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ErrorCode, InMemoryEventStore, LiveErrorCode } from "../../src/index.js";
import { bunSqliteDriver } from "./bun-driver.js";
import { SqliteEventStore } from "./event-store.js";
import { LiveSubscribers } from "./live-subscribers.js";

class FakeSocket {
  sent: string[] = [];
  closed: { code?: number; reason?: string } | undefined;
  #attachment: unknown = null;
  send(message: string) {
    if (this.closed !== undefined) throw new Error("closed");
    this.sent.push(message);
  }
  close(code?: number, reason?: string) {
    this.closed = { code, reason };
  }
  serializeAttachment(value: unknown) {
    this.#attachment = structuredClone(value);
  }
  deserializeAttachment() {
    return this.#attachment;
  }
  events() {
    return this.sent.map((m) => JSON.parse(m)).filter((m) => m.kind === "event");
  }
}

const globals = globalThis as Record<string, unknown>;
beforeAll(() => {
  globals.WebSocketPair = class {
    0 = new FakeSocket();
    1 = new FakeSocket();
  };
});
afterAll(() => {
  delete globals.WebSocketPair;
});

function setup(options = {}, store: InMemoryEventStore | SqliteEventStore = new InMemoryEventStore()) {
  const sockets: FakeSocket[] = [];
  const ctx = {
    acceptWebSocket: (socket: FakeSocket) => void sockets.push(socket),
    getWebSockets: () => sockets.filter((s) => s.closed === undefined),
  };
  const live = new LiveSubscribers(ctx as never, store, options);
  const upgrade = () => new Request("https://o/subscribe", { headers: { upgrade: "websocket" } });
  const subscribe = async (after = 0) => {
    live.accept(upgrade(), after);
    await live.deliver();
    return sockets.at(-1) as FakeSocket;
  };
  const append = async (count: number) => {
    for (let i = 0; i < count; i++) await store.appendToStream("S-1", [{ type: "E", data: i }]);
    await live.deliver();
  };
  return { live, store, sockets, subscribe, append, upgrade };
}

describe("LiveSubscribers (stand-in hibernation API)", () => {
  test("the open message gives the position, ackEvery (half the window) and pingMs", async () => {
    const { subscribe } = setup({ maxUnacknowledged: 20, pingMs: 5000 });
    const socket = await subscribe(7);
    expect(JSON.parse(socket.sent[0] as string)).toEqual({ kind: "open", position: 7, ackEvery: 10, pingMs: 5000 });
  });

  test("a subscriber is paused at its window, resumes when it acknowledges, and is dropped only after ackTimeoutMs", async () => {
    const { subscribe, append, live } = setup({ maxUnacknowledged: 5, ackTimeoutMs: 1000 });
    const socket = await subscribe();
    await append(12);
    expect(socket.events().map((m) => m.event.data)).toEqual([0, 1, 2, 3, 4]);
    expect(live.message(socket as never, '{"kind":"ack","received":5}')).toBe(true);
    await live.deliver();
    expect(socket.events().map((m) => m.event.data)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // An acknowledgement past what was sent counts as all of it, no more: 10 acknowledged, 12 sent,
    // so 3 of the next 10 fit the window.
    live.message(socket as never, '{"kind":"ack","received":1000}');
    await live.deliver();
    expect(socket.events()).toHaveLength(12);
    await append(10);
    expect(socket.events()).toHaveLength(15);
    expect(socket.closed).toBeUndefined();
    await Bun.sleep(1100);
    await append(1);
    expect(socket.closed).toEqual({ code: 4008, reason: "slow-consumer" });
    expect(live.message(socket as never, "not json")).toBe(false);
  });

  test("a paused subscriber that repeats an acknowledgement of nothing new is still dropped after ackTimeoutMs, and its repeats start no delivery", async () => {
    const store = new InMemoryEventStore();
    const { subscribe, append, live } = setup({ maxUnacknowledged: 4, ackTimeoutMs: 600 }, store);
    const socket = await subscribe();
    await append(6);
    live.message(socket as never, '{"kind":"ack","received":2}');
    await live.deliver();
    expect(socket.events()).toHaveLength(6);
    await append(4);
    expect(socket.events()).toHaveLength(6); // paused: 6 sent, 2 acknowledged
    let reads = 0;
    const readAll = store.readAll.bind(store);
    store.readAll = ((options) => {
      reads++;
      return readAll(options);
    }) as typeof store.readAll;
    // Acknowledgements of what it acknowledged already (or less), every 100 ms past the timeout.
    for (let i = 0; i < 8; i++) {
      expect(live.message(socket as never, `{"kind":"ack","received":${i % 3}}`)).toBe(true);
      await Bun.sleep(100);
    }
    expect(reads).toBe(0);
    await append(1);
    expect(socket.closed).toEqual({ code: 4008, reason: "slow-consumer" });
    expect(socket.events()).toHaveLength(6);
  });

  // The clock ran from the last acknowledgement (or the connect): after a quiet spell with nothing to
  // acknowledge, the burst that filled the window closed the client in that same delivery, though it
  // kept up (found by an outside audit in workerd).
  test("the ackTimeoutMs clock starts when the window fills: a burst after a quiet spell pauses, it does not drop", async () => {
    const { subscribe, append, live } = setup({ maxUnacknowledged: 4, ackTimeoutMs: 300 });
    const socket = await subscribe();
    await Bun.sleep(400);
    await append(10);
    expect(socket.closed).toBeUndefined();
    expect(socket.events()).toHaveLength(4);
    live.message(socket as never, '{"kind":"ack","received":4}');
    await live.deliver();
    expect(socket.events()).toHaveLength(8);
    // Paused again, now with no acknowledgement for longer than ackTimeoutMs: dropped at the next delivery.
    await Bun.sleep(400);
    await append(1);
    expect(socket.closed).toEqual({ code: 4008, reason: "slow-consumer" });
  });

  test("maxSubscribers caps the sockets with TooManyLiveClientsError; a closed one frees its slot", async () => {
    const { subscribe, live, upgrade, sockets } = setup({ maxSubscribers: 2 });
    await subscribe();
    await subscribe();
    expect(() => live.accept(upgrade(), 0)).toThrow(expect.objectContaining({ code: LiveErrorCode.TooManyClients }));
    sockets[0]?.close(1000, "bye");
    expect(live.count).toBe(1);
    await subscribe();
    expect(live.count).toBe(2);
  });

  test("an event that cannot be read ends each subscriber that reaches it with a typed error and 1011, and the object serves the others", async () => {
    const db = new Database(":memory:");
    const store = new SqliteEventStore({ driver: bunSqliteDriver(db) });
    await store.migrate();
    const { subscribe, append, live } = setup({}, store);
    await append(3);
    // Written behind the library's back: position 2's data is not JSON.
    db.run(`UPDATE eventflows_events SET data = '{"card": "4111 1111' WHERE position = 2`);
    const logged: unknown[] = [];
    const log = console.error;
    console.error = (...args: unknown[]) => void logged.push(args);
    try {
      // Subscribed first, so the delivery meets the corrupt event before it serves the others.
      const behind = await subscribe(0);
      const past = await subscribe(2);
      const alsoBehind = await subscribe(1);
      await append(2);
      await live.deliver();
      for (const socket of [behind, alsoBehind]) {
        const last = JSON.parse(socket.sent.at(-1) as string);
        expect(last).toMatchObject({
          kind: "error",
          error: { code: ErrorCode.EventCorrupt, fields: { streamId: "S-1", version: 2 } },
        });
        expect(socket.sent.join("\n")).not.toContain("4111");
        expect(socket.closed).toEqual({ code: 1011, reason: "error" });
      }
      // The page holding the corrupt event fails whole: nothing of it is sent, the position stays.
      expect(behind.events()).toEqual([]);
      expect(alsoBehind.events()).toEqual([]);
      expect(past.closed).toBeUndefined();
      expect(past.events().map((m) => m.event.globalPosition)).toEqual([3, 4, 5]);
      await append(1);
      expect(past.events().map((m) => m.event.globalPosition)).toEqual([3, 4, 5, 6]);
      expect(logged.length).toBeGreaterThan(0);
    } finally {
      console.error = log;
      db.close();
    }
  });

  test("a delivery's reads are bounded in bytes: any event sizes and bound send every event once, in order (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: fc.constantFrom("a", "é", "😀"), maxLength: 500 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 4000 }),
        fc.integer({ min: 1, max: 40 }),
        async (sizes, maxBatchBytes, batchSize) => {
          const store = new InMemoryEventStore();
          // What each of the delivery's reads pulled from the store, as messages' UTF-8 bytes (as sent).
          const reads: number[][] = [];
          const readAll = store.readAll.bind(store);
          store.readAll = ((options) => {
            const pulled: number[] = [];
            reads.push(pulled);
            return (async function* () {
              for await (const event of readAll(options)) {
                pulled.push(new TextEncoder().encode(JSON.stringify({ kind: "event", event })).byteLength);
                yield event;
              }
            })();
          }) as typeof store.readAll;
          const { subscribe, live } = setup({ maxBatchBytes, batchSize }, store);
          const socket = await subscribe();
          await store.appendToStream(
            "S-1",
            sizes.map((data) => ({ type: "E", data })),
          );
          await live.deliver();
          expect(socket.events().map((m) => m.event.data)).toEqual(sizes);
          for (const pulled of reads) {
            // Held at once: what the read kept (the last one pulled may be the one that ended it, not kept).
            const kept = pulled.slice(0, -1);
            expect(pulled.length).toBeLessThanOrEqual(batchSize);
            // More than one: within the bound (a first event larger than it goes alone).
            if (kept.length > 1) expect(kept.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(maxBatchBytes);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  test("bad limits are refused", () => {
    const ctx = { acceptWebSocket: () => {}, getWebSockets: () => [] };
    for (const options of [
      { maxSubscribers: 0 },
      { maxUnacknowledged: 1.5 },
      { ackTimeoutMs: -1 },
      { pingMs: 0 },
      { maxBatchBytes: 0 },
    ]) {
      expect(() => new LiveSubscribers(ctx, new InMemoryEventStore(), options)).toThrow(
        expect.objectContaining({ code: "VALIDATION_FAILED" }),
      );
    }
  });
});
