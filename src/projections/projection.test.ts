import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { FAKE_EPOCH, withFakeClock } from "../../test/fixtures/fake-clock.ts";
import { isValidationError, ProjectionFailedError, ServiceError, type ValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { InMemoryReadModelStore } from "./in-memory-read-model-store.js";
import { MAX_PROJECTION_NAME_LENGTH, type Projection, projection } from "./projection.js";
import { InMemoryProjectionLock } from "./projection-lock.js";
import { ProjectionRunner } from "./projection-runner.js";

const envelope = (type: string, streamId: string): EventEnvelope => ({
  id: "01J00000000000000000000000",
  type,
  streamId,
  version: 1,
  globalPosition: 1,
  timestamp: "2026-01-01T00:00:00.000Z",
  data: null,
  metadata: {},
});

describe("projection()", () => {
  test("refuses a definition without a name or handler, or with malformed filters, naming each", () => {
    const bad = () =>
      projection({ name: " ", handle: "nope", streams: [""], types: "A" } as unknown as Parameters<
        typeof projection
      >[0]);
    expect(bad).toThrow(/name.*handle.*streams.*types/s);
    // "Cart-1" is a stream: as a category it would match nothing, silently.
    try {
      projection({ name: "p", handle: () => undefined, categories: ["Cart", "Cart-1"] });
      throw new Error("accepted");
    } catch (error) {
      expect((error as ValidationError).issues).toEqual([
        { path: ["categories", 1], message: 'a category holds no "-" ("-" ends it): list a stream under streams' },
      ]);
    }
    expect(() => projection({ name: "x".repeat(MAX_PROJECTION_NAME_LENGTH + 1), handle: () => undefined })).toThrow(
      /over 245/,
    );
  });

  // The limit counts UTF-16 code units, as a checkpoint id's does: 123 emoji are 246 of them. The message
  // said "at most 245 characters" of a name of 123 characters.
  test("a name over the limit is refused in UTF-16 code units, and the message says so", () => {
    const refused = () => projection({ name: "😀".repeat(123), handle: () => undefined });
    expect(refused).toThrow("projection name is 246 UTF-16 code units long, over 245");
    expect(() => projection({ name: `${"😀".repeat(122)}x`, handle: () => undefined })).not.toThrow();
  });

  // Before, such a name was taken here and refused only at first use: the runner's first catch-up failed
  // on its checkpoint id, long after the projection was defined (in a module, at deploy).
  test("a name no checkpoint id can hold (a control character, a lone surrogate) is refused when defined", async () => {
    for (const [name, message] of [
      ["a\u0000b", "projection name must not contain control characters"],
      ["Line\nbreak", "projection name must not contain control characters"],
      ["\u007f", "projection name must not contain control characters"],
      ["half \ud800", expect.stringContaining("projection name")],
    ] as const) {
      let caught: unknown;
      try {
        projection({ name, handle: () => undefined });
      } catch (error) {
        caught = error;
      }
      expect(isValidationError(caught)).toBe(true);
      expect((caught as ValidationError).issues).toEqual([{ path: ["name"], message }]);
    }
    // Whatever projection() takes, the runner takes: nothing it accepts is refused later (property).
    await fc.assert(
      fc.asyncProperty(fc.string({ unit: "binary", minLength: 1, maxLength: 12 }), async (name) => {
        let defined: Projection | undefined;
        try {
          defined = projection({ name, handle: () => undefined });
        } catch (error) {
          expect(isValidationError(error)).toBe(true);
          return;
        }
        const runner = new ProjectionRunner({
          projection: defined,
          eventStore: new InMemoryEventStore(),
          readModels: new InMemoryReadModelStore(),
          lock: new InMemoryProjectionLock(),
        });
        expect(await runner.catchUp()).toEqual({ read: 0, position: 0 });
      }),
      { numRuns: 200 },
    );
  });

  test("a misspelt key is refused by name (`categroies` took every category's events)", () => {
    for (const key of ["categroies", "type", "initalState", "prefecth"]) {
      const error = (() => {
        try {
          projection({ name: "p", handle: async () => undefined, [key]: ["Cart"] } as never);
        } catch (e) {
          return e;
        }
      })();
      expect([key, isValidationError(error) ? error.issues : error]).toEqual([
        key,
        [{ path: [key], message: expect.stringContaining("is not an option") }],
      ]);
    }
  });

  // Each was taken: an empty list matched no event, and a state that is no JSON failed its first commit,
  // which the runner retried for ever (onError, never onFailure).
  test("an empty filter list, or an initialState that is not JSON data, is refused by name when defined", () => {
    const refusal = (extra: Record<string, unknown>): unknown => {
      try {
        projection({ name: "p", handle: async () => undefined, ...extra } as never);
      } catch (e) {
        return isValidationError(e) ? e.issues.map((issue) => issue.path) : e;
      }
      return undefined;
    };
    for (const key of ["streams", "categories", "types"]) expect(refusal({ [key]: [] })).toEqual([[key]]);
    for (const initialState of [
      { n: Number.NaN },
      { text: "a\u0000b" },
      { at: new Date(0) },
      Number.POSITIVE_INFINITY,
    ]) {
      expect((refusal({ initialState }) as (string | number)[][] | undefined)?.[0]?.[0]).toBe("initialState");
    }
    expect(refusal({ initialState: { n: 0, tags: ["a"], note: null } })).toBeUndefined();
    expect(refusal({ types: ["CartOpened"] })).toBeUndefined();
  });

  test("matches exactly the events every given filter takes (property)", () => {
    const word = fc.constantFrom("A", "B", "C");
    fc.assert(
      fc.property(
        // An empty list is refused (it would match nothing).
        fc.option(fc.array(word, { minLength: 1 }), { nil: undefined }),
        fc.option(fc.array(word, { minLength: 1 }), { nil: undefined }),
        word,
        word,
        word,
        (types, categories, type, category, id) => {
          const defined = projection({
            name: "p",
            handle: () => undefined,
            ...(types === undefined ? {} : { types }),
            ...(categories === undefined ? {} : { categories }),
          });
          const expected =
            (types === undefined || types.includes(type)) &&
            (categories === undefined || categories.includes(category));
          expect(defined.matches(envelope(type, `${category}-${id}`))).toBe(expected);
        },
      ),
    );
  });
});

describe("ProjectionRunner options", () => {
  test("refuses bad options with a ValidationError naming each", () => {
    try {
      new ProjectionRunner({
        projection: {} as never,
        eventStore: new InMemoryEventStore(),
        readModels: new InMemoryReadModelStore(),
        batchSize: 0,
        leaseMs: 0,
      });
      throw new Error("accepted");
    } catch (error) {
      expect(isValidationError(error)).toBe(true);
      expect(String(error)).toMatch(/projection.*batchSize.*leaseMs/s);
    }
  });

  test("a lock, owner, hook or flag of the wrong kind is refused when made, naming each, not at the first batch", async () => {
    const eventStore = new InMemoryEventStore();
    await eventStore.appendToStream("Cart-1", [{ type: "T", data: 1 }]);
    const defined = projection({ name: "kinds", handle: () => undefined });
    const bad = { lock: {}, owner: "", onBatch: 5, onError: "log", onFailure: {}, inline: "yes", telemetry: "off" };
    // Before: accepted; the lock failed catchUp() with a TypeError (acquire is not a function), an
    // empty owner with the lock's ValidationError at each lease attempt, a hook that is no function
    // was logged as a throwing hook at every batch, and "yes" / "off" read as false / true.
    const made = (options: object) =>
      new ProjectionRunner({ projection: defined, eventStore, readModels: new InMemoryReadModelStore(), ...options });
    for (const [key, value] of Object.entries(bad)) {
      let error: unknown;
      try {
        await made({ [key]: value }).catchUp();
      } catch (thrown) {
        error = thrown;
      }
      expect([key, isValidationError(error), (error as ValidationError).issues?.map((issue) => issue.path)]).toEqual([
        key,
        true,
        [[key]],
      ]);
    }
    const fine = made({ lock: new InMemoryProjectionLock(), owner: "a", onBatch: () => undefined, inline: false });
    expect(await fine.catchUp()).toEqual({ read: 1, position: 1 });
  });

  test("a wait past setTimeout's limit (2,147,483,647 ms) is refused: it fired at once and the runner polled in a tight loop; the lease is bounded alike, as a rebuild's is", () => {
    const eventStore = new InMemoryEventStore();
    const readModels = new InMemoryReadModelStore();
    for (const key of ["pollIntervalMs", "standbyPollMs", "leaseMs", "retryDelayMs"] as const) {
      const make = (ms: number) =>
        new ProjectionRunner({
          projection: projection({ name: "waits", handle: () => {} }),
          eventStore,
          readModels,
          [key]: ms,
        });
      expect(make(2 ** 31 - 1).running).toBe(false);
      const refused = (() => {
        try {
          make(2 ** 31);
        } catch (error) {
          return error;
        }
      })();
      expect(isValidationError(refused)).toBe(true);
      expect((refused as ValidationError).issues.map((issue) => issue.path)).toEqual([[key]]);
    }
  });
});

describe("ProjectionRunner batch size", () => {
  test("without batchSize it takes the read-model store's defaultBatchSize, 100 when the store gives none or a bad one", async () => {
    const store = new InMemoryEventStore();
    for (let i = 0; i < 25; i++) {
      await store.appendToStream(
        `S-${i}`,
        Array.from({ length: 100 }, () => ({ type: "E", data: {} })),
      );
    }
    const batchesOf = async (defaultBatchSize: unknown, batchSize?: number) => {
      const readModels = new InMemoryReadModelStore();
      Object.defineProperty(readModels, "capabilities", {
        value: { ...readModels.capabilities, defaultBatchSize },
      });
      const sizes: number[] = [];
      const runner = new ProjectionRunner({
        projection: projection({ name: "sized", handle: () => undefined }),
        eventStore: store,
        readModels,
        ...(batchSize === undefined ? {} : { batchSize }),
        onBatch: (batch) => sizes.push(batch.read),
      });
      await runner.catchUp();
      return sizes;
    };
    expect(await batchesOf(1000)).toEqual([1000, 1000, 500]);
    expect(await batchesOf(1000, 2000)).toEqual([2000, 500]);
    for (const bad of [undefined, 0, 1.5, 20_000, "1000"]) expect((await batchesOf(bad)).length).toBe(25);
  });

  // Every catch-up batch cost a transaction and a commit at batchSize however far behind the
  // projection was (PostgreSQL: 20 transactions for 20,000 events); then full batches grew from
  // batchSize (five); now a catch-up reads maxBatchSize from its first batch (two).
  test("catch-up batches read maxBatchSize from the first; every event once, in order (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 100 }),
        async (events, batchSize, extra) => {
          const maxBatchSize = batchSize + extra;
          const store = new InMemoryEventStore();
          if (events > 0) {
            await store.appendToStream(
              "S-1",
              Array.from({ length: events }, (_, n) => ({ type: "E", data: n })),
            );
          }
          const sizes: number[] = [];
          const seen: unknown[] = [];
          const result = await new ProjectionRunner({
            projection: projection({ name: "growing", handle: (event) => void seen.push(event.data) }),
            eventStore: store,
            readModels: new InMemoryReadModelStore(),
            batchSize,
            maxBatchSize,
            onBatch: (batch) => sizes.push(batch.read),
          }).catchUp();
          const expected: number[] = [];
          for (let left = events; ; left -= maxBatchSize) {
            const read = Math.min(left, maxBatchSize);
            if (read > 0) expected.push(read);
            if (read < maxBatchSize) break;
          }
          expect(sizes).toEqual(expected);
          expect(seen).toEqual(Array.from({ length: events }, (_, n) => n));
          expect(result).toEqual({ read: events, position: events });
        },
      ),
      { numRuns: 150 },
    );
  });

  test("given neither option a catch-up reads the store's capabilities.maxBatchSize; none, a bad one, one below batchSize or a batchSize given alone: batchSize", async () => {
    const store = new InMemoryEventStore();
    for (let i = 0; i < 25; i++) {
      await store.appendToStream(
        `S-${i}`,
        Array.from({ length: 100 }, () => ({ type: "E", data: {} })),
      );
    }
    const batchesOf = async (maxBatchSize: unknown, batchSize?: number) => {
      const readModels = new InMemoryReadModelStore();
      Object.defineProperty(readModels, "capabilities", {
        value: { ...readModels.capabilities, defaultBatchSize: 250, maxBatchSize },
      });
      const sizes: number[] = [];
      await new ProjectionRunner({
        projection: projection({ name: "sized", handle: () => undefined }),
        eventStore: store,
        readModels,
        ...(batchSize === undefined ? {} : { batchSize }),
        onBatch: (batch) => sizes.push(batch.read),
      }).catchUp();
      return sizes;
    };
    expect(await batchesOf(1000)).toEqual([1000, 1000, 500]);
    expect(await batchesOf(700)).toEqual([700, 700, 700, 400]);
    // What the caller asked for: 100 a batch, whatever the store could take.
    expect(await batchesOf(1000, 100)).toEqual(Array.from({ length: 25 }, () => 100));
    for (const bad of [undefined, 0, 1.5, 20_000, "1000", 200]) {
      expect(await batchesOf(bad)).toEqual(Array.from({ length: 10 }, () => 250));
    }
  });

  test("a started runner catches up at maxBatchSize, reads batchSize once caught up and doubles after a full batch", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream(
      "S-1",
      Array.from({ length: 1000 }, () => ({ type: "E", data: {} })),
    );
    const sizes: number[] = [];
    const runner = new ProjectionRunner({
      projection: projection({ name: "live", handle: () => undefined }),
      eventStore: store,
      readModels: new InMemoryReadModelStore(),
      batchSize: 100,
      maxBatchSize: 400,
      pollIntervalMs: 10,
      onBatch: (batch) => sizes.push(batch.read),
    });
    runner.start();
    try {
      await runner.whenCaughtUp();
      expect(sizes).toEqual([400, 400, 200]);
      sizes.length = 0;
      await store.appendToStream(
        "S-1",
        Array.from({ length: 250 }, () => ({ type: "E", data: {} })),
      );
      await runner.whenCaughtUp();
      expect(sizes).toEqual([100, 150]);
    } finally {
      await runner.stop();
    }
  });

  test("a started runner, inline or not, takes every event once and in order while appends arrive and its batches grow (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 60 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 200 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 40 }),
        fc.boolean(),
        async (appends, initial, batchSize, extra, inline) => {
          const store = new InMemoryEventStore();
          let n = 0;
          const next = (count: number) => Array.from({ length: count }, () => ({ type: "E", data: n++ }));
          if (initial > 0) await store.appendToStream("S", next(initial));
          const readModels = new InMemoryReadModelStore();
          const seen: unknown[] = [];
          const sizes: number[] = [];
          const runner = new ProjectionRunner({
            projection: projection({
              name: "following",
              handle: async (event, { readModels: tx }) => {
                seen.push(event.data);
                await tx.put("last", "S", event.data);
              },
            }),
            eventStore: store,
            readModels,
            batchSize,
            maxBatchSize: batchSize + extra,
            inline,
            pollIntervalMs: 5,
            onBatch: (batch) => sizes.push(batch.read),
          });
          runner.start();
          try {
            for (const count of appends) await store.appendToStream("S", next(count));
            await runner.whenCaughtUp();
          } finally {
            await runner.stop();
          }
          expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
          expect(await readModels.get("last", "S")).toBe(n - 1);
          expect(sizes.reduce((sum, read) => sum + read, 0)).toBe(n);
          expect(Math.max(...sizes)).toBeLessThanOrEqual(batchSize + extra);
        },
      ),
      { numRuns: 40 },
    );
  });

  test("maxBatchSize must be an integer from batchSize to 10,000", () => {
    const eventStore = new InMemoryEventStore();
    const readModels = new InMemoryReadModelStore();
    const make = (maxBatchSize: unknown, batchSize?: number) =>
      new ProjectionRunner({
        projection: projection({ name: "limits", handle: () => {} }),
        eventStore,
        readModels,
        maxBatchSize: maxBatchSize as number,
        ...(batchSize === undefined ? {} : { batchSize }),
      });
    expect(make(10_000).running).toBe(false);
    expect(make(50, 50).running).toBe(false);
    for (const [bad, batchSize] of [[0], [1.5], [10_001], ["100"], [49, 50], [99]] as const) {
      const refused = (() => {
        try {
          make(bad, batchSize);
        } catch (error) {
          return error;
        }
      })();
      expect(isValidationError(refused)).toBe(true);
      expect((refused as ValidationError).issues.map((issue) => issue.path)).toEqual([["maxBatchSize"]]);
    }
    // A bad batchSize is its own issue, not a reason to refuse a good maxBatchSize too.
    expect(() => make(5000, 20_000)).toThrow(
      expect.objectContaining({ issues: [expect.objectContaining({ path: ["batchSize"] })] }),
    );
  });
});

describe("ProjectionRunner lease", () => {
  // The lease was renewed only between batches: a batch longer than the lease (a large catch-up
  // batch, a slow handler) let it lapse, and a standby took over in the middle of the batch.
  // On a fake clock: a stall of the machine cannot make the standby's try land after a lapse.
  test("a batch that runs longer than a third of the lease renews it as it goes, and no renewal lands after the release", async () => {
    const eventStore = new InMemoryEventStore();
    await eventStore.appendToStream("S-1", [{ type: "Slow", data: {} }]);
    const lock = new InMemoryProjectionLock();
    const calls: string[] = [];
    const acquire = lock.acquire.bind(lock);
    const release = lock.release.bind(lock);
    await withFakeClock(async (clock) => {
      const at = () => clock.now() - FAKE_EPOCH;
      lock.acquire = async (name, owner, ttlMs) => {
        // A renewal slower than a third of the lease: the runner must wait for it before releasing.
        await Bun.sleep(30);
        calls.push(`acquire ${at()}`);
        return acquire(name, owner, ttlMs);
      };
      lock.release = async (name, owner) => {
        calls.push(`release ${at()}`);
        return release(name, owner);
      };
      let standbyDuring: boolean | undefined;
      const runner = new ProjectionRunner({
        projection: projection({
          name: "slow",
          handle: async () => {
            await Bun.sleep(200);
            standbyDuring = await acquire("slow", "standby", 60);
          },
        }),
        eventStore,
        readModels: new InMemoryReadModelStore(),
        lock,
        leaseMs: 60,
      });
      await clock.until(runner.catchUp());
      // Whatever was still due (a renewal the runner did not wait for) lands now, after the release.
      await clock.advance(1000);
      expect(standbyDuring).toBe(false);
      // Taken at 30, then renewed while the batch ran (from 50 on, every 20 ms, each renewal in turn taking
      // 30 ms), never a whole lease (60 ms) after the grant before: the standby's try at 230 found it held.
      const acquired = calls.filter((call) => call.startsWith("acquire")).map((call) => Number(call.split(" ")[1]));
      expect(acquired[0]).toBe(30);
      expect(acquired.filter((t) => t > 30 && t <= 230).length).toBeGreaterThanOrEqual(3);
      expect(acquired.filter((t, i) => i > 0 && t - (acquired[i - 1] ?? 0) >= 60)).toEqual([]);
      // Released last: nothing renews it after, and the lease is free.
      expect(calls.at(-1)).toStartWith("release");
      // One renewal at a time: the batch ended at about 230, and the release waited for the one renewal in
      // flight (30 ms), not for a queue of them (one more every 20 ms while each took 30: released at 320-350).
      expect(Number(calls.at(-1)?.split(" ")[1])).toBeLessThanOrEqual(270);
      expect(await acquire("slow", "standby", 60)).toBe(true);
    });
  });
});

describe("ProjectionRunner lease while caught up", () => {
  // The caught-up runner waited its whole pollIntervalMs before renewing: with a poll longer than
  // the lease, the lease lapsed while it waited and a standby took over from a healthy runner.
  // On a fake clock: 4 s of the runners' time take no real time.
  test("an idle active runner renews its lease once a third of it has passed, however long pollIntervalMs is", async () => {
    const eventStore = new InMemoryEventStore();
    const readModels = new InMemoryReadModelStore();
    const lock = new InMemoryProjectionLock();
    const idle = projection({ name: "idle", handle: () => undefined });
    const options = { projection: idle, eventStore, readModels, lock, leaseMs: 3000, pollIntervalMs: 60_000 };
    await withFakeClock(async (clock) => {
      const active = new ProjectionRunner({ ...options, owner: "active" });
      const standby = new ProjectionRunner({ ...options, owner: "standby", standbyPollMs: 20 });
      active.start();
      await clock.until(active.whenCaughtUp());
      expect(active.active).toBe(true);
      standby.start();
      try {
        // Past the lease: only renewals (every second) keep it from the standby.
        await clock.advance(4000);
        expect([active.active, standby.active]).toEqual([true, false]);
        expect(await lock.acquire("idle", "someone else", 3000)).toBe(false);
      } finally {
        await clock.until(Promise.all([active.stop(), standby.stop()]));
      }
    });
  });
});

describe("ProjectionRunner after a failure", () => {
  test("once the fault is fixed, start() again resumes at the failed event and skips none", async () => {
    const eventStore = new InMemoryEventStore();
    const readModels = new InMemoryReadModelStore();
    await eventStore.appendToStream("A-1", [
      { type: "T", data: 1 },
      { type: "T", data: 2 },
      { type: "T", data: 3 },
    ]);
    let broken = true;
    const seen: unknown[] = [];
    const failures: unknown[] = [];
    const runner = new ProjectionRunner({
      projection: projection({
        name: "restartable",
        handle: (event) => {
          if (broken && event.data === 2) throw new Error("fault");
          seen.push(event.data);
        },
      }),
      eventStore,
      readModels,
      pollIntervalMs: 10,
      onFailure: (error) => failures.push(error),
    });
    runner.start();
    await expect(runner.whenCaughtUp()).rejects.toMatchObject({ code: "PROJECTION_FAILED", position: 2 });
    await Bun.sleep(10);
    expect(runner.running).toBe(false);
    broken = false;
    runner.start();
    await runner.whenCaughtUp();
    await runner.stop();
    // The failed batch (1, 2, 3) rolled back, so 1 is seen again with the rest: nothing is skipped.
    expect(seen).toEqual([1, 1, 2, 3]);
    expect(failures).toHaveLength(1);
  });
});

describe("ProjectionRunner.start() reading ahead", () => {
  test("a batch that fails transiently drops what was read ahead: the retry applies every event once, in order", async () => {
    const eventStore = new InMemoryEventStore();
    const readModels = new InMemoryReadModelStore();
    await eventStore.appendToStream(
      "A-1",
      [1, 2, 3, 4, 5, 6].map((n) => ({ type: "T", data: n })),
    );
    let failOnce = true;
    const seen: unknown[] = [];
    const errors: unknown[] = [];
    const runner = new ProjectionRunner({
      projection: projection({
        name: "read-ahead",
        handle: async (event, { readModels: tx }) => {
          // One event a batch: while event 3's batch runs, event 4 is being read ahead.
          if (failOnce && event.data === 3) {
            failOnce = false;
            throw new ServiceError("test", "handle", "Busy", true, "try again");
          }
          seen.push(event.data);
          const doc = (await tx.get<number[]>("log", "A-1")) ?? [];
          await tx.put("log", "A-1", [...doc, event.data as number]);
        },
      }),
      eventStore,
      readModels,
      batchSize: 1,
      pollIntervalMs: 10,
      retryDelayMs: 1,
      onError: (error) => errors.push(error),
    });
    runner.start();
    await runner.whenCaughtUp();
    await runner.stop();
    expect(errors).toHaveLength(1);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await readModels.get("log", "A-1")).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe("ProjectionRunner prefetch keys", () => {
  test("a prefetch key the store would refuse fails the projection at its event, not a retry", async () => {
    const eventStore = new InMemoryEventStore();
    const readModels = new InMemoryReadModelStore();
    await eventStore.appendToStream("Cart-1", [{ type: "T", data: null }]);
    await eventStore.appendToStream("Cart-2", [{ type: "T", data: null }]);
    for (const bad of [
      ["carts", "   "],
      ["", "Cart-2"],
      ["carts", "a\u0000b"],
      ["carts", "x".repeat(257)],
      // More than [collection, id] (was taken as its first two).
      ["carts", "Cart-2", "extra"],
      ["carts"],
    ] as const) {
      const defined = projection({
        name: "bad-prefetch",
        prefetch: (event) => (event.streamId === "Cart-2" ? (bad as never) : ["carts", event.streamId]),
        handle: async (event, { readModels: tx }) => {
          await tx.put("carts", event.streamId, 1);
        },
      });
      await expectFailureAt(2, defined, eventStore, readModels);
      // The batch rolled back: the event before the bad key is not kept either.
      expect(await readModels.get("carts", "Cart-1")).toBeUndefined();
      expect(await readModels.checkpoints.load("projection:bad-prefetch")).toBeUndefined();
    }
  });
});

describe("ProjectionRunner state", () => {
  test("a state that is not JSON data fails the projection at the event that returned it, not a retry", async () => {
    const eventStore = new InMemoryEventStore();
    await eventStore.appendToStream("Cart-1", [
      { type: "T", data: 1 },
      { type: "T", data: 2 },
      { type: "T", data: 3 },
    ]);
    const defined = projection<EventEnvelope<"T", number>, { n: number }>({
      name: "nan-state",
      types: ["T"],
      initialState: { n: 0 },
      // The second event makes the state NaN, which JSON cannot hold; the third keeps it.
      handle: async (event, { state }) =>
        event.data === 2 ? { n: Number.NaN } : event.data === 3 ? undefined : { n: state.n + event.data },
    });
    const readModels = new InMemoryReadModelStore();
    await expectFailureAt(2, defined, eventStore, readModels);
    expect(await readModels.checkpoints.load("projection:nan-state")).toBeUndefined();
  });

  // No handler returned the state, so none was blamed: the store's refusal left the runner as a failure
  // to retry, for ever (onError), never onFailure.
  test("a state a handler makes no JSON in place fails the projection at the last event handled, not a retry", async () => {
    const eventStore = new InMemoryEventStore();
    await eventStore.appendToStream("Cart-1", [
      { type: "T", data: 1 },
      { type: "T", data: 2 },
    ]);
    const defined = projection<EventEnvelope<"T", number>, { n: number }>({
      name: "nan-in-place",
      types: ["T"],
      initialState: { n: 0 },
      handle: async (event, { state }) => {
        state.n = event.data === 2 ? Number.NaN : state.n + event.data;
      },
    });
    const readModels = new InMemoryReadModelStore();
    await expectFailureAt(2, defined, eventStore, readModels);
  });
});

describe("ProjectionRunner handler failures", () => {
  test("a handler that throws a value that cannot be inspected (a revoked Proxy) fails with a ProjectionFailedError", async () => {
    const eventStore = new InMemoryEventStore();
    await eventStore.appendToStream("Cart-1", [{ type: "T", data: 1 }]);
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    const defined = projection({
      name: "hostile-throw",
      handle: async () => {
        throw proxy;
      },
    });
    const readModels = new InMemoryReadModelStore();
    // Before: the check whether the thrown value was a retryable ServiceError read its `code`, and
    // the revoked Proxy's TypeError left catchUp instead.
    const error = await new ProjectionRunner({
      projection: defined,
      eventStore,
      readModels,
      onFailure: () => undefined,
    })
      .catchUp()
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(ProjectionFailedError);
    expect((error as ProjectionFailedError).cause).toBe(proxy);
    expect(await readModels.checkpoints.load("projection:hostile-throw")).toBeUndefined();
  });
});

/**
 * A failure of the projection, not of a batch to retry: catchUp rejects with a ProjectionFailedError at
 * `position` (a ValidationError its cause), and a started runner reports it to onFailure once, never to onError.
 */
async function expectFailureAt<S>(
  position: number,
  defined: Projection<EventEnvelope<"T", number>, S> | Projection<EventEnvelope, S>,
  eventStore: InMemoryEventStore,
  readModels: InMemoryReadModelStore,
): Promise<void> {
  const projection = defined as Projection<EventEnvelope, S>;
  await expect(
    new ProjectionRunner({ projection, eventStore, readModels, onFailure: () => undefined }).catchUp(),
  ).rejects.toMatchObject({ code: "PROJECTION_FAILED", position, cause: { code: "VALIDATION_FAILED" } });
  const errors: unknown[] = [];
  const failures: unknown[] = [];
  const runner = new ProjectionRunner({
    projection,
    eventStore,
    readModels,
    retryDelayMs: 1,
    onError: (error) => errors.push(error),
    onFailure: (error) => failures.push(error),
  });
  runner.start();
  await expect(runner.whenCaughtUp()).rejects.toMatchObject({ code: "PROJECTION_FAILED", position });
  await runner.stop();
  expect(errors).toEqual([]);
  expect(failures).toHaveLength(1);
}

describe("ProjectionRunner wake-ups", () => {
  // The loop's wake-up was armed only while it paused: an append made while it handled a batch woke
  // nothing, and its event waited for the next poll (10 s here).
  test("an append made while the runner handles a batch is taken in at once, not at the next poll", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream("s-1", [{ type: "First", data: {} }]);
    const handled: string[] = [];
    let appendDuring: Promise<unknown> | undefined;
    const runner = new ProjectionRunner({
      eventStore: store,
      readModels: new InMemoryReadModelStore(),
      pollIntervalMs: 10_000,
      projection: projection({
        name: "wake-during-batch",
        handle: async (event) => {
          if (event.type === "First") {
            appendDuring = store.appendToStream("s-1", [{ type: "Second", data: {} }]);
            await appendDuring;
          }
          handled.push(event.type);
        },
      }),
    });
    // On a fake clock: "at once" is before the poll's 10 s of the runner's time, however loaded the machine.
    await withFakeClock(async (clock) => {
      runner.start();
      try {
        await clock.advance(9_999);
        expect(handled).toEqual(["First", "Second"]);
      } finally {
        await clock.until(Promise.all([appendDuring, runner.stop()]));
      }
    });
  });
});
