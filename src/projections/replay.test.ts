import { describe, expect, jest, test } from "bun:test";
import fc from "fast-check";
import { withFakeClock } from "../../test/fixtures/fake-clock.ts";
import { isAbortedError, ProjectionFailedError, ServiceError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { InMemoryReadModelStore } from "./in-memory-read-model-store.js";
import type { Progress } from "./progress.js";
import { projection } from "./projection.js";
import { rebuildProjection } from "./rebuild.js";
import { replay } from "./replay.js";

type Counted = EventEnvelope<"Counted", { readonly n: number }>;

async function seeded(): Promise<InMemoryEventStore> {
  const store = new InMemoryEventStore();
  await store.appendToStream(
    "Cart-a",
    [1, 2, 3].map((n) => ({ type: "Counted", data: { n } })),
  );
  await store.appendToStream(
    "Order-a",
    [4].map((n) => ({ type: "Counted", data: { n } })),
  );
  await store.appendToStream(
    "Cart-b",
    [5, 6].map((n) => ({ type: "Counted", data: { n } })),
  );
  return store;
}

/**
 * Runs `run` on a fake clock that starts at 0 (fake timers: Date.now reads it) and moves only to the
 * next pending timer, once the run has nothing else to do: what the pacer waits for is seen to the
 * millisecond, however fast or loaded the machine.
 */
async function onFakeClock<T>(run: () => Promise<T>): Promise<T> {
  jest.useFakeTimers({ now: 0 });
  try {
    let done = false;
    const result = run().finally(() => {
      done = true;
    });
    // Bounded, so a run that waits on something other than a timer fails the test instead of hanging.
    for (let turns = 0; !done && turns < 10_000; turns++) {
      if (jest.getTimerCount() > 0) jest.advanceTimersToNextTimer();
      else await Promise.resolve();
    }
    return await result;
  } finally {
    jest.useRealTimers();
  }
}

const counting = async (
  event: Counted,
  { readModels }: { readModels: import("./read-model-store.js").ReadModelWriter },
) => {
  const doc = (await readModels.get<{ sum: number }>("sums", event.streamId)) ?? { sum: 0 };
  await readModels.put("sums", event.streamId, { sum: doc.sum + event.data.n });
};

describe("replay", () => {
  test("a dry run by default: the handler sees every event and reads its own writes; nothing is written", async () => {
    const eventStore = await seeded();
    const readModels = new InMemoryReadModelStore();
    await readModels.checkpoints.store("replay-x", 0);
    const result = await replay<Counted>({
      eventStore,
      readModels,
      checkpoint: "replay-x",
      handle: counting,
      batchSize: 2,
    });
    expect(result).toMatchObject({ read: 6, handled: 6, dryRun: true, writes: 6, position: 6 });
    expect(result.recorded.at(-1)).toEqual({ collection: "sums", id: "Cart-b", document: { sum: 11 } });
    expect(result.recorded.filter((w) => w.id === "Cart-a").map((w) => w.document)).toEqual([
      { sum: 1 },
      { sum: 3 },
      { sum: 6 },
    ]);
    expect(await readModels.list("sums")).toEqual([]);
    expect(await readModels.checkpoints.load("replay-x")).toBe(0);
  });

  test("a dry run given a checkpoint starts where it stands and leaves it: the confirming run replays what the dry run saw (it was ignored: the dry run started at 0)", async () => {
    const eventStore = await seeded();
    const readModels = new InMemoryReadModelStore();
    await readModels.checkpoints.store("r", 4);
    const dry = await replay<Counted>({ eventStore, readModels, checkpoint: "r", handle: counting });
    expect(dry).toMatchObject({ read: 2, handled: 2, dryRun: true, position: 6 });
    expect(dry.recorded).toEqual([
      { collection: "sums", id: "Cart-b", document: { sum: 5 } },
      { collection: "sums", id: "Cart-b", document: { sum: 11 } },
    ]);
    expect(await readModels.checkpoints.load("r")).toBe(4);
    const applied = await replay<Counted>({
      eventStore,
      readModels,
      dryRun: false,
      checkpoint: "r",
      to: dry.position,
      handle: counting,
    });
    expect(applied).toMatchObject({ read: dry.read, position: dry.position, writes: dry.writes });
    expect(await readModels.checkpoints.load("r")).toBe(6);
  });

  test("dryRun false writes in each batch's transaction and moves the checkpoint; a second run resumes there", async () => {
    const eventStore = await seeded();
    const readModels = new InMemoryReadModelStore();
    const first = await replay<Counted>({ eventStore, readModels, dryRun: false, checkpoint: "r", handle: counting });
    expect(first).toMatchObject({ read: 6, handled: 6, writes: 6, recorded: [] });
    expect(await readModels.get("sums", "Cart-a")).toEqual({ sum: 6 });
    expect(await readModels.checkpoints.load("r")).toBe(6);
    await eventStore.appendToStream("Cart-a", [{ type: "Counted", data: { n: 10 } }]);
    const second = await replay<Counted>({ eventStore, readModels, dryRun: false, checkpoint: "r", handle: counting });
    expect(second.read).toBe(1);
    expect(await readModels.get("sums", "Cart-a")).toEqual({ sum: 16 });
  });

  test("a checkpointed replay from `after` past the checkpoint (or with none yet) starts there and moves it", async () => {
    const eventStore = await seeded();
    const readModels = new InMemoryReadModelStore();
    const first = await replay<Counted>({
      eventStore,
      readModels,
      dryRun: false,
      checkpoint: "r",
      after: 3,
      batchSize: 2,
      handle: counting,
    });
    expect(first).toMatchObject({ read: 3, handled: 3, position: 6 });
    expect(await readModels.checkpoints.load("r")).toBe(6);
    expect(await readModels.get("sums", "Cart-b")).toEqual({ sum: 11 });
    // A checkpoint behind `after`: the replay skips ahead to `after` and the checkpoint follows.
    await readModels.checkpoints.store("s", 1);
    const second = await replay<Counted>({
      eventStore,
      readModels,
      dryRun: false,
      checkpoint: "s",
      after: 4,
      handle: counting,
    });
    expect(second).toMatchObject({ read: 2, position: 6 });
    expect(await readModels.checkpoints.load("s")).toBe(6);
    // A checkpoint ahead of `after` wins: nothing is read twice.
    const third = await replay<Counted>({
      eventStore,
      readModels,
      dryRun: false,
      checkpoint: "s",
      after: 2,
      handle: counting,
    });
    expect(third.read).toBe(0);
  });

  test("a stream by version, a category over the feed, from a position", async () => {
    const eventStore = await seeded();
    const seen = (result: Counted[]) => result.map((e) => `${e.streamId}:${e.data.n}`);
    const stream: Counted[] = [];
    const s = await replay<Counted>({ eventStore, stream: "Cart-a", after: 1, handle: (e) => void stream.push(e) });
    expect(seen(stream)).toEqual(["Cart-a:2", "Cart-a:3"]);
    expect(s.position).toBe(3);
    const category: Counted[] = [];
    await replay<Counted>({ eventStore, category: "Cart", after: 2, handle: (e) => void category.push(e) });
    expect(seen(category)).toEqual(["Cart-a:3", "Cart-b:5", "Cart-b:6"]);
    // After the largest version there is: nothing to read, not an error about a version past it.
    const last = await replay({
      eventStore,
      stream: "Cart-a",
      after: Number.MAX_SAFE_INTEGER,
      handle: () => undefined,
    });
    expect({ read: last.read, position: last.position }).toEqual({ read: 0, position: Number.MAX_SAFE_INTEGER });
  });

  test("to: a stream up to a version, the feed up to a position (inclusive), events appended later left out", async () => {
    const eventStore = await seeded();
    const seen: Counted[] = [];
    const s = await replay<Counted>({ eventStore, stream: "Cart-a", to: 2, handle: (e) => void seen.push(e) });
    expect(seen.map((e) => e.data.n)).toEqual([1, 2]);
    expect(s.position).toBe(2);
    const feed: Counted[] = [];
    const f = await replay<Counted>({ eventStore, after: 1, to: 4, batchSize: 2, handle: (e) => void feed.push(e) });
    expect(feed.map((e) => e.data.n)).toEqual([2, 3, 4]);
    expect({ read: f.read, position: f.position }).toEqual({ read: 3, position: 4 });
    await expect(replay({ eventStore, to: -1, handle: () => undefined })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
  });

  test("since: an ISO 8601 date (UTC midnight) or date-time with a zone", async () => {
    const eventStore = await seeded();
    for (const since of ["2020-01-01", "2020-01-01T00:00:00Z", "2020-01-01T01:00:00.5+01:00"]) {
      const result = await replay({ eventStore, since, handle: () => undefined });
      expect(result.handled).toBeGreaterThan(0);
    }
    expect((await replay({ eventStore, since: "2999-01-01", handle: () => undefined })).handled).toBe(0);
  });

  test("since: an offset in any of ISO 8601's forms (±hh:mm, ±hhmm, ±hh) is the instant Date.parse gives the extended one", async () => {
    const pad = (n: number, width = 2) => String(n).padStart(width, "0");
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: Date.parse("1971-01-01T00:00:00Z"), max: Date.parse("9998-12-31T00:00:00Z") }),
        fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }),
        fc.constantFrom("minutes", "seconds", "milliseconds"),
        async (at, offsetMinutes, precision) => {
          const unit = { minutes: 60_000, seconds: 1000, milliseconds: 1 }[precision];
          const instant = at - (at % unit);
          // The wall-clock time at that offset, written with the precision drawn.
          const local = new Date(instant + offsetMinutes * 60_000).toISOString();
          const time = local.slice(0, { minutes: 16, seconds: 19, milliseconds: 23 }[precision]);
          const sign = offsetMinutes < 0 ? "-" : "+";
          const [hh, mm] = [pad(Math.trunc(Math.abs(offsetMinutes) / 60)), pad(Math.abs(offsetMinutes) % 60)];
          const extended = `${time}${sign}${hh}:${mm}`;
          expect(Date.parse(extended)).toBe(instant);
          const forms = [extended, `${time}${sign}${hh}${mm}`, ...(mm === "00" ? [`${time}${sign}${hh}`] : [])];
          // One event a millisecond before the instant, one at it and one after: `since` lets through the last two.
          const eventStore = new InMemoryEventStore();
          await eventStore.appendToStream(
            "Cart-a",
            [-1, 0, 1].map((n) => ({ type: "Counted", data: { n }, timestamp: new Date(instant + n).toISOString() })),
          );
          for (const since of forms) {
            const seen: number[] = [];
            await replay<Counted>({ eventStore, since, handle: (e) => void seen.push(e.data.n) });
            expect({ since, seen }).toEqual({ since, seen: [0, 1] });
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  test("since: only events at or after a time", async () => {
    // On a fake clock: the seeded events are 5 ms before since, the last one at it to the millisecond.
    const { eventStore, since } = await withFakeClock(async (clock) => {
      const eventStore = await seeded();
      await clock.advance(5);
      const since = new Date();
      await eventStore.appendToStream("Cart-c", [{ type: "Counted", data: { n: 7 } }]);
      return { eventStore, since };
    });
    const seen: number[] = [];
    const result = await replay<Counted>({ eventStore, since, handle: (e) => void seen.push(e.data.n) });
    expect(seen).toEqual([7]);
    expect(result).toMatchObject({ read: 7, handled: 1 });
  });

  test("eventsPerSecond paces the handler; progress reports done, rate and ETA", async () => {
    const eventStore = await seeded();
    const progress: Progress[] = [];
    const handedAt: number[] = [];
    await onFakeClock(() =>
      replay({
        eventStore,
        eventsPerSecond: 50,
        batchSize: 2,
        handle: () => void handedAt.push(Date.now()),
        onProgress: (p) => progress.push(p),
      }),
    );
    // 6 events at 50/s: one every 20 ms from the start, the sixth 100 ms after it.
    expect(handedAt).toEqual([0, 20, 40, 60, 80, 100]);
    expect(progress.map((p) => p.done)).toEqual([2, 4, 6]);
    expect(progress.map((p) => p.remaining)).toEqual([4, 2, 0]);
    // Reported after each batch's second event: 2 in 20 ms, 4 in 60 ms, 6 in 100 ms.
    expect(progress.map((p) => p.eventsPerSecond)).toEqual([100, 4000 / 60, 60]);
    expect(progress[0]).toMatchObject({ elapsedMs: 20, etaMs: 40 });
    expect(progress.at(-1)).toMatchObject({ position: 6, head: 6, remaining: 0, etaMs: 0, elapsedMs: 100 });
  });

  test("eventsPerSecond holds after a slow handler: the events it held up are not handed on in a burst", async () => {
    const eventStore = new InMemoryEventStore();
    await eventStore.appendToStream(
      "Cart-a",
      Array.from({ length: 30 }, (_, n) => ({ type: "Counted", data: { n } })),
    );
    const handedAt: number[] = [];
    await onFakeClock(() =>
      replay<Counted>({
        eventStore,
        eventsPerSecond: 20,
        handle: async () => {
          handedAt.push(Date.now());
          // The first event stalls the handler for a second: twenty events' worth of time.
          if (handedAt.length === 1) await new Promise((resolve) => setTimeout(resolve, 1000));
        },
      }),
    );
    // The second event is handed on as soon as the stall ends, then one every interval (50 ms) from
    // there. Paced from the start alone, the 20 events due during the stall went out at once, at 1000.
    expect(handedAt).toEqual([0, ...Array.from({ length: 29 }, (_, n) => 1000 + 50 * n)]);
  });

  test("eventsPerSecond below one event per timer's longest delay (24.8 days) still holds the next event back", async () => {
    const eventStore = await seeded();
    const controller = new AbortController();
    const seen: number[] = [];
    // On a fake clock: 50 ms of the replay's time, then the abort, whatever the machine's load.
    await withFakeClock(async (clock) => {
      const run = replay<Counted>({
        eventStore,
        eventsPerSecond: 1e-7, // one event per 116 days
        signal: controller.signal,
        handle: (e) => void seen.push(e.data.n),
      }).catch((e: unknown) => e);
      await clock.advance(50);
      controller.abort();
      expect(((await clock.until(run)) as Error).name).toBe("AbortedError");
    });
    expect(seen).toEqual([1]);
  });

  test("an abort stops the replay with AbortedError between two events", async () => {
    const eventStore = await seeded();
    const controller = new AbortController();
    const seen: number[] = [];
    const run = replay<Counted>({
      eventStore,
      signal: controller.signal,
      handle: (e) => {
        seen.push(e.data.n);
        if (seen.length === 2) controller.abort("stop");
      },
    });
    await expect(run).rejects.toMatchObject({ code: "ABORTED", cause: "stop" });
    expect(seen).toEqual([1, 2]);
  });

  test("a dry run refuses the writes the store refuses, as the real run does, with the same ValidationError (property)", async () => {
    // It recorded them (undefined as a delete, NaN as null) or threw a DOMException from structuredClone.
    const eventStore = await seeded();
    const write = fc.record({
      op: fc.constantFrom("put", "delete", "get"),
      collection: fc.oneof(fc.constant("sums"), fc.string({ maxLength: 3 })),
      id: fc.oneof(fc.constant("a"), fc.string({ maxLength: 3 })),
      document: fc.oneof(fc.jsonValue(), fc.anything({ withBigInt: true, withMap: true, withDate: true })),
    });
    type Write = { op: string; collection: string; id: string; document: unknown };
    const outcome = async (dryRun: boolean, { op, collection, id, document }: Write) =>
      replay({
        eventStore,
        readModels: new InMemoryReadModelStore(),
        dryRun,
        to: 1,
        handle: async (_event, { readModels }) => {
          if (op === "put") await readModels.put(collection, id, document);
          else if (op === "delete") await readModels.delete(collection, id);
          else await readModels.get(collection, id);
        },
      }).then(
        () => "ok",
        // The store's refusal is the cause of the replay's failure, the same in both runs.
        (error: { name: string; code?: string; cause?: { name: string; code?: string; issues?: unknown } }) => [
          error.name,
          error.code,
          error.cause?.name,
          error.cause?.code,
          error.cause?.issues,
        ],
      );
    await fc.assert(
      fc.asyncProperty(write, async (w) => {
        expect(await outcome(true, w)).toEqual(await outcome(false, w));
      }),
      { numRuns: 300 },
    );
  });

  test("writes without readModels outside a dry run, and bad options, are refused", async () => {
    const eventStore = await seeded();
    await expect(replay({ eventStore, dryRun: false, handle: counting as never })).rejects.toMatchObject({
      code: "REPLAY_FAILED",
      cause: { code: "VALIDATION_FAILED" },
    });
    for (const bad of [
      { stream: "Cart-a", category: "Cart" },
      { after: -1 },
      // An empty range is the two swapped: it handled nothing and reported position 5.
      { after: 5, to: 2 },
      { since: "not a time" },
      // Date.parse guesses at these (a locale's order, the machine's zone, a day moved to March 2).
      { since: "12/01/2026" },
      { since: "2026-11-01T09:30" },
      { since: "2026-02-30" },
      { since: new Date(Number.NaN) },
      { eventsPerSecond: 0 },
      { batchSize: 0 },
      { checkpoint: "c" },
      { stream: "Cart-a", checkpoint: "c", readModels: new InMemoryReadModelStore() },
    ]) {
      await expect(replay({ eventStore, handle: () => undefined, ...bad })).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
      });
    }
  });

  test("an onProgress, signal or readModels of the wrong kind is refused before anything is read or written (it was a TypeError after the first batch committed, or ignored)", async () => {
    const eventStore = await seeded();
    const readModels = new InMemoryReadModelStore();
    let handled = 0;
    for (const bad of [
      { onProgress: 5 },
      { onProgress: "log" },
      { signal: 5 },
      { signal: { aborted: false } },
      { readModels: 5 },
      // Longer than any stream id (512 UTF-16 code units): named here, not left to the store's refusal.
      { stream: `S-${"x".repeat(600)}` },
      { category: "C".repeat(513) },
    ]) {
      const error = await replay({
        eventStore,
        readModels,
        dryRun: false,
        handle: async (_event, context) => {
          handled++;
          await context.readModels.put("sizes", "x", handled);
        },
        ...(bad as object),
      }).catch((e: unknown) => e);
      expect([bad, error]).toMatchObject([
        bad,
        { code: "VALIDATION_FAILED", issues: [{ path: [Object.keys(bad)[0]] }] },
      ]);
    }
    expect(handled).toBe(0);
    expect(await readModels.list("sizes")).toEqual([]);
  });

  test("a misspelt option is refused by name before anything is read or written (`dryrun: false` ran a dry run, `categroy` replayed every category)", async () => {
    const eventStore = await seeded();
    const readModels = new InMemoryReadModelStore();
    let handled = 0;
    for (const [key, value] of [
      ["dryrun", false],
      ["categroy", "Cart"],
      ["batchsize", 1],
    ] as const) {
      const error = await replay({
        eventStore,
        readModels,
        dryRun: false,
        handle: async (_event, context) => {
          handled++;
          await context.readModels.put("sizes", "x", handled);
        },
        ...({ [key]: value } as object),
      }).catch((e: unknown) => e);
      expect([key, error]).toMatchObject([
        key,
        { code: "VALIDATION_FAILED", issues: [{ path: [key], message: expect.stringContaining("is not an option") }] },
      ]);
    }
    expect(handled).toBe(0);
    expect(await readModels.list("sizes")).toEqual([]);
  });

  test("the events handled are exactly the feed after `after` in the category (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.constantFrom("Cart", "Order", "User"), fc.integer({ min: 0, max: 3 })), { maxLength: 30 }),
        fc.integer({ min: 0, max: 35 }),
        fc.constantFrom(undefined, "Cart", "Order"),
        fc.integer({ min: 1, max: 7 }),
        fc.option(fc.integer({ min: 0, max: 35 }), { nil: undefined }),
        async (appends, after, category, batchSize, toPastAfter) => {
          // to is never below after (that range is refused).
          const to = toPastAfter === undefined ? undefined : after + toPastAfter;
          const eventStore = new InMemoryEventStore();
          for (const [cat, k] of appends)
            await eventStore.appendToStream(`${cat}-${k}`, [{ type: "Counted", data: { n: 1 } }]);
          const all: EventEnvelope[] = [];
          for await (const e of eventStore.readAll()) all.push(e);
          const inRange = (e: EventEnvelope) =>
            (e.globalPosition ?? 0) > after && (to === undefined || (e.globalPosition ?? 0) <= to);
          const expected = all
            .filter(inRange)
            .filter((e) => category === undefined || e.streamId.startsWith(`${category}-`))
            .map((e) => e.id);
          const seen: string[] = [];
          const result = await replay({
            eventStore,
            after,
            to,
            category,
            batchSize,
            handle: (e) => void seen.push(e.id),
          });
          expect(seen).toEqual(expected);
          expect(result.read).toBe(all.filter(inRange).length);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe("replay: a handler that throws", () => {
  const thrown = [
    ["an Error", new Error("boom")],
    ["a string", "boom"],
    ["undefined", undefined],
    ["a ServiceError that is not retryable", new ServiceError("db", "get", "DOWN", false, "down")],
  ] as const;
  for (const [what, value] of thrown) {
    for (const dryRun of [true, false]) {
      test(`${what} stops it with a ReplayFailedError naming the event, the throw its cause (dryRun ${dryRun})`, async () => {
        const eventStore = await seeded();
        const [, second] = await Array.fromAsync(eventStore.readAll());
        const handled: number[] = [];
        const run = replay<Counted>({
          eventStore,
          dryRun,
          readModels: new InMemoryReadModelStore(),
          handle: (event) => {
            if (event.id === second?.id) throw value;
            handled.push(event.globalPosition ?? 0);
          },
        });
        const error = await run.then(
          () => undefined,
          (failure: unknown) => failure,
        );
        expect(error).toMatchObject({
          name: "ReplayFailedError",
          code: "REPLAY_FAILED",
          position: second?.globalPosition,
          eventId: second?.id,
          eventType: "Counted",
        });
        expect((error as Error).cause).toBe(value);
        expect(handled).toEqual([1]);
      });
    }
  }

  test("by stream, the position is the event's version", async () => {
    const eventStore = await seeded();
    const error = await replay({
      eventStore,
      stream: "Cart-b",
      handle: () => {
        throw new Error("boom");
      },
    }).catch((failure: unknown) => failure);
    expect(error).toMatchObject({ code: "REPLAY_FAILED", position: 1 });
  });

  test("a retryable ServiceError and a ProjectionFailedError (which names its event already) pass as they are", async () => {
    const eventStore = await seeded();
    for (const value of [
      new ServiceError("db", "get", "BUSY", true, "busy"),
      new ProjectionFailedError("carts", 1, "01J", "Counted"),
    ]) {
      const error = await replay({
        eventStore,
        handle: () => {
          throw value;
        },
      }).catch((failure: unknown) => failure);
      expect(error).toBe(value);
    }
  });
});

describe("replay and rebuild stop on their signal while the store does not answer", () => {
  test("a signal fired while the reads before the run hang (a database that never replies) rejects with an AbortedError at once", async () => {
    // Outside audit: those reads took no signal, so a Ctrl-C waited for the connect timeout.
    class HungStore extends InMemoryEventStore {
      override getLastGlobalPosition(): Promise<number> {
        return new Promise(() => {});
      }
    }
    const readModels = new InMemoryReadModelStore();
    const runs = [
      (signal: AbortSignal) => replay({ eventStore: new HungStore(), signal, handle: () => {} }),
      (signal: AbortSignal) =>
        rebuildProjection({
          projection: projection({ name: "hung", handle: () => {} }),
          eventStore: new HungStore(),
          readModels,
          collections: ["hung"],
          signal,
        }),
    ];
    for (const run of runs) {
      const controller = new AbortController();
      const outcome = run(controller.signal).then(
        () => "finished",
        (error: unknown) => (isAbortedError(error) ? "aborted" : String(error)),
      );
      setTimeout(() => controller.abort(new Error("Ctrl-C")), 20);
      const late = new Promise((resolve) => setTimeout(() => resolve("still waiting after 2 s"), 2000));
      expect(await Promise.race([outcome, late])).toBe("aborted");
    }
  });
});
