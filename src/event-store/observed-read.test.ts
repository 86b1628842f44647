import { describe, expect, test } from "bun:test";
import type { EventEnvelope } from "../events/envelope.js";
import { ObservedRead } from "./observed-read.js";

const event = (version: number): EventEnvelope =>
  ({
    id: `E${version}`,
    type: "T",
    streamId: "S-1",
    version,
    timestamp: "",
    data: null,
    metadata: {},
  }) as EventEnvelope;

/** A store's reader over `count` events that fails at `failAt`, recording whether its cursor was released. */
function reader(count: number, failAt?: number) {
  const state = { released: false };
  const events = (async function* () {
    try {
      for (let v = 1; v <= count; v++) {
        if (v === failAt) throw new Error("disk I/O error");
        yield event(v);
      }
    } finally {
      state.released = true;
    }
  })();
  return { events, state };
}

describe("ObservedRead", () => {
  test("hands out every event, then reports once with the count; later calls are done", async () => {
    const reports: number[] = [];
    const { events } = reader(3);
    const read = new ObservedRead(
      events,
      undefined,
      () => undefined,
      (_, __, count) => reports.push(count),
    );
    expect((await Array.fromAsync(read)).map((e) => e.version)).toEqual([1, 2, 3]);
    expect(await read.next()).toEqual({ value: undefined, done: true });
    expect(reports).toEqual([3]);
  });

  test("stopped early it releases the store's cursor and reports what it handed out; never started, it reports nothing", async () => {
    const reports: number[] = [];
    const { events, state } = reader(5);
    const read = new ObservedRead(
      events,
      undefined,
      () => undefined,
      (_, __, count) => reports.push(count),
    );
    for await (const e of read) if (e.version === 2) break;
    expect(state.released).toBe(true);
    expect(reports).toEqual([2]);
    const unstarted = new ObservedRead(
      reader(5).events,
      undefined,
      () => undefined,
      () => reports.push(-1),
    );
    expect(await unstarted.return()).toEqual({ value: undefined, done: true });
    expect(reports).toEqual([2]);
  });

  test("a refused event is not handed out: the cursor is released, the check's error thrown, reported once", async () => {
    const reports: number[] = [];
    const { events, state } = reader(5);
    const refuse = (e: EventEnvelope) => {
      if (e.version === 3) throw new Error("not yours");
    };
    const read = new ObservedRead(
      events,
      refuse,
      () => undefined,
      (_, __, count) => reports.push(count),
    );
    const seen: number[] = [];
    const error = await (async () => {
      for await (const e of read) seen.push(e.version);
    })().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect((error as Error).message).toBe("not yours");
    expect(seen).toEqual([1, 2]);
    expect(state.released).toBe(true);
    expect(reports).toEqual([2]);
    expect((await read.next()).done).toBe(true);
  });

  test("a store that fails mid-read: its error thrown, reported once, done after", async () => {
    const reports: number[] = [];
    const read = new ObservedRead(
      reader(5, 2).events,
      undefined,
      () => undefined,
      (_, __, count) => reports.push(count),
    );
    expect((await read.next()).value?.version).toBe(1);
    await expect(read.next()).rejects.toThrow("disk I/O error");
    expect(reports).toEqual([1]);
    expect((await read.next()).done).toBe(true);
  });
});
