import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { watched, withFakeClock } from "../../test/fixtures/fake-clock.ts";
import { isValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { eventRegistry } from "../evolution/event-registry.js";
import { isName, MAX_STREAM_ID_LENGTH, MAX_TYPE_LENGTH } from "../internal/validate.js";
import { LiveHubClosedError, TooManyLiveClientsError } from "./errors.js";
import { checkFilter, filterFromQuery, filterToQuery, type LiveFilter, matchesFilter } from "./filter.js";
import { type LiveConnection, LiveHub } from "./hub.js";

async function drain(connection: LiveConnection, count: number): Promise<EventEnvelope[]> {
  const events: EventEnvelope[] = [];
  while (events.length < count) {
    const item = await connection.next(2000);
    if (item === undefined) throw new Error(`idle after ${events.length} of ${count} events`);
    if (item.kind === "end") throw new Error(`ended (${item.reason}) after ${events.length} events`);
    events.push(item.event);
  }
  return events;
}

async function append(store: InMemoryEventStore, count: number, streamId = "Order-1"): Promise<EventEnvelope[]> {
  const events = Array.from({ length: count }, (_, n) => ({ type: n % 2 === 0 ? "Even" : "Odd", data: { n } }));
  return [...(await store.appendToStream(streamId, events)).events];
}

describe("LiveHub", () => {
  // Spies on the store's subscribeToAll (no runtime here cancels a request's timers as workerd does):
  // the subscription the first connection started is stopped when it leaves, and one restarted by a
  // remaining connection carries on after the last position handed out.
  test("when the connection that started the shared subscription leaves, a remaining one restarts it without a gap or repeat", async () => {
    const store = new InMemoryEventStore();
    const subscribe = store.subscribeToAll.bind(store);
    const started: { after: number | undefined; stopped: boolean }[] = [];
    store.subscribeToAll = (options) => {
      const record = { after: options.after, stopped: false };
      started.push(record);
      const subscription = subscribe(options);
      return {
        ...subscription,
        stop: () => {
          record.stopped = true;
          return subscription.stop();
        },
      };
    };
    const hub = new LiveHub({ store });
    const owner = await hub.connect();
    const other = await hub.connect();
    const first = await append(store, 3);
    expect((await drain(other, 3)).map((e) => e.globalPosition)).toEqual(first.map((e) => e.globalPosition));
    owner.close();
    expect(started).toEqual([{ after: 0, stopped: true }]);
    // Appended while no subscription runs: the restart must still deliver them.
    const second = await append(store, 4);
    expect((await drain(other, 4)).map((e) => e.globalPosition)).toEqual(second.map((e) => e.globalPosition));
    expect(started).toEqual([
      { after: 0, stopped: true },
      { after: 3, stopped: false },
    ]);
    await hub.close();
    expect(started.every((s) => s.stopped)).toBe(true);
  });

  // Mock: the first shared subscription's loop is dead (workerd cancels a finished request's timers
  // and continuations, and the hub may never hear that the client of that request left).
  test("a shared subscription that stopped making progress (mock: its loop died) is restarted by an idle connection, nothing lost or repeated", async () => {
    const store = new InMemoryEventStore();
    const subscribe = store.subscribeToAll.bind(store);
    let calls = 0;
    store.subscribeToAll = ((options: Parameters<typeof subscribe>[0]) => {
      calls += 1;
      if (calls > 1) return subscribe(options);
      return { stop: async () => undefined } as unknown as ReturnType<typeof subscribe>;
    }) as typeof store.subscribeToAll;
    // On a fake clock: each heartbeat (50 ms) is a stall check, at most one per 4 polls (40 ms) of the hub's time.
    await withFakeClock(async (clock) => {
      const hub = new LiveHub({ store, pollIntervalMs: 10 });
      const connection = await clock.until(hub.connect());
      const appended = await append(store, 5);
      // The first heartbeat notes what was handed out (nothing); the next finds it has not moved: restarted.
      expect(await clock.until(connection.next(50))).toBeUndefined();
      expect(calls).toBe(1);
      const received: EventEnvelope[] = [];
      for (let beat = 0; beat < 10 && received.length < appended.length; beat++) {
        const item = await clock.until(connection.next(50));
        if (item?.kind === "event") received.push(item.event);
      }
      expect(calls).toBe(2);
      expect(received.map((e) => e.id)).toEqual(appended.map((e) => e.id));
      const more = await append(store, 3);
      expect((await clock.until(drain(connection, 3))).map((e) => e.id)).toEqual(more.map((e) => e.id));
      connection.close();
      await clock.until(hub.close());
    });
  });

  test("an idle hub with nothing new appended is not restarted by heartbeats", async () => {
    const store = new InMemoryEventStore();
    const subscribe = store.subscribeToAll.bind(store);
    let calls = 0;
    store.subscribeToAll = ((options: Parameters<typeof subscribe>[0]) => {
      calls += 1;
      return subscribe(options);
    }) as typeof store.subscribeToAll;
    let checks = 0;
    const head = store.getLastGlobalPosition.bind(store);
    // On a fake clock: five heartbeats of 50 ms, each 4 polls (40 ms) or more after the last, are five stall checks.
    await withFakeClock(async (clock) => {
      const hub = new LiveHub({ store, pollIntervalMs: 10 });
      const connection = await clock.until(hub.connect());
      store.getLastGlobalPosition = () => {
        checks++;
        return head();
      };
      for (let i = 0; i < 5; i++) expect(await clock.until(connection.next(50))).toBeUndefined();
      expect({ checks, calls }).toEqual({ checks: 5, calls: 1 });
      connection.close();
      await clock.until(hub.close());
    });
  });

  test("a store read failing during the stall check ends nothing: the connection gets its heartbeat, stays open and goes on", async () => {
    const store = new InMemoryEventStore();
    const head = store.getLastGlobalPosition.bind(store);
    let failing = false;
    let failed = 0;
    store.getLastGlobalPosition = async () => {
      if (failing) {
        failed++;
        throw new Error("connection to postgres://app:secret@db refused");
      }
      return head();
    };
    // On a fake clock: each heartbeat (50 ms) runs the stall check (at most once per 40 ms): three failed reads.
    await withFakeClock(async (clock) => {
      const hub = new LiveHub({ store, pollIntervalMs: 10 });
      const connection = await clock.until(hub.connect());
      failing = true;
      // Its failed read is no stall: the connection gets its heartbeat and stays.
      for (let i = 0; i < 3; i++) expect(await clock.until(connection.next(50))).toBeUndefined();
      expect(failed).toBe(3);
      expect(connection.ended).toBeUndefined();
      expect(hub.size).toBe(1);
      failing = false;
      const appended = await append(store, 2);
      expect((await clock.until(drain(connection, 2))).map((e) => e.id)).toEqual(appended.map((e) => e.id));
      connection.close();
      await clock.until(hub.close());
    });
  });

  test("a connection resuming from an old position catches up, then follows the shared feed without a gap or repeat", async () => {
    const store = new InMemoryEventStore();
    const hub = new LiveHub({ store, batchSize: 7 });
    const history = await append(store, 50);
    const connection = await hub.connect({ after: 10 });
    // Appends while it catches up: some arrive through reads, the rest through the fan-out.
    const first = await drain(connection, 5);
    const more = await append(store, 30);
    const rest = await drain(connection, 40 + 30 - 5);
    expect([...first, ...rest].map((e) => e.globalPosition)).toEqual(
      [...history.slice(10), ...more].map((e) => e.globalPosition),
    );
    await hub.close();
    expect(await connection.next()).toEqual({ kind: "end", reason: "shutdown" });
  });

  test("an event of the feed the store cannot read (an upcaster that throws) ends the live connections with error, as a catch-up read that meets it ends its own", async () => {
    const registry = eventRegistry().split("Unreadable", 1, () => {
      throw new Error("this row cannot be read");
    });
    const store = new InMemoryEventStore({ eventRegistry: registry });
    const hub = new LiveHub({ store, pollIntervalMs: 10 });
    const live = await hub.connect({});
    const good = await append(store, 1);
    expect((await drain(live, 1)).map((e) => e.id)).toEqual(good.map((e) => e.id));
    await store.appendToStream("Order-2", [{ type: "Unreadable", data: {} }]);
    const within = <T>(promise: Promise<T>) =>
      Promise.race([promise, new Promise<string>((resolve) => setTimeout(() => resolve("nothing after 5 s"), 5000))]);
    // Before, the shared subscription retried the same read for ever and the live connection heard nothing.
    expect(await within(live.done)).toBe("error");
    // A connection catches up as it is read: its read meets the same event.
    const later = await hub.connect({ after: 0 });
    expect(await later.next(2000)).toEqual({ kind: "end", reason: "error" });
    await hub.close();
  });

  test("a connection without `after` gets only events appended after it connected", async () => {
    const store = new InMemoryEventStore();
    const hub = new LiveHub({ store });
    await append(store, 5);
    const connection = await hub.connect({ filter: { types: ["Odd"] } });
    const fresh = await append(store, 6);
    expect((await drain(connection, 3)).map((e) => e.id)).toEqual(
      fresh.filter((e) => e.type === "Odd").map((e) => e.id),
    );
    await hub.close();
  });

  test("a connection that does not read is ended with slow-consumer at bufferSize; its buffer is freed; others go on", async () => {
    const store = new InMemoryEventStore();
    const hub = new LiveHub({ store, bufferSize: 10 });
    const slow = await hub.connect({});
    const fast = await hub.connect({});
    const received: EventEnvelope[] = [];
    const reading = (async () => {
      while (received.length < 25) {
        const item = await fast.next(2000);
        if (item?.kind === "event") received.push(item.event);
        else throw new Error("fast connection stopped");
      }
    })();
    for (let i = 0; i < 25; i++) await append(store, 1, `Order-${i}`);
    await reading;
    expect(slow.ended).toBe("slow-consumer");
    expect(await slow.done).toBe("slow-consumer");
    // Buffered events are dropped with it: the end comes at once, then the same end again.
    expect(await slow.next()).toEqual({ kind: "end", reason: "slow-consumer" });
    expect(await slow.next()).toEqual({ kind: "end", reason: "slow-consumer" });
    expect(hub.size).toBe(1);
    await hub.close();
  });

  test("maxClients is enforced with TooManyLiveClientsError; a closed connection frees its place", async () => {
    const hub = new LiveHub({ store: new InMemoryEventStore(), maxClients: 2 });
    const a = await hub.connect();
    await hub.connect();
    await expect(hub.connect()).rejects.toBeInstanceOf(TooManyLiveClientsError);
    a.close();
    expect(hub.size).toBe(1);
    await hub.connect();
    await hub.close();
  });

  test("assertCanConnect throws what connect would for a full or closed hub, and connects nothing", async () => {
    const hub = new LiveHub({ store: new InMemoryEventStore(), maxClients: 1 });
    hub.assertCanConnect();
    expect(hub.size).toBe(0);
    const only = await hub.connect();
    expect(() => hub.assertCanConnect()).toThrow(TooManyLiveClientsError);
    only.close();
    hub.assertCanConnect();
    await hub.close();
    expect(() => hub.assertCanConnect()).toThrow(LiveHubClosedError);
    await expect(hub.connect()).rejects.toBeInstanceOf(LiveHubClosedError);
    expect(hub.size).toBe(0);
  });

  test("next resolves undefined after idleMs without an event (the caller's heartbeat)", async () => {
    // On a fake clock: not a millisecond before idleMs of the hub's time.
    await withFakeClock(async (clock) => {
      const hub = new LiveHub({ store: new InMemoryEventStore() });
      const connection = await clock.until(hub.connect());
      const next = watched(connection.next(20));
      await clock.advance(19);
      expect(next.settled).toBe(false);
      await clock.advance(1);
      expect(next.settled).toBe(true);
      expect(await next.promise).toBeUndefined();
      await clock.until(hub.close());
    });
  });

  test("an allow callback that throws withholds the event", async () => {
    const store = new InMemoryEventStore();
    const hub = new LiveHub({ store });
    const connection = await hub.connect({
      allow: (event) => {
        if (event.type === "Odd") throw new Error("no");
        return true;
      },
    });
    const appended = await append(store, 4);
    expect((await drain(connection, 2)).map((e) => e.id)).toEqual([appended[0]?.id, appended[2]?.id]);
    await hub.close();
  });

  test("invalid options and positions are ValidationErrors", async () => {
    const store = new InMemoryEventStore();
    for (const options of [{ bufferSize: 0 }, { maxClients: -1 }, { batchSize: 1.5 }, { pollIntervalMs: "1" }]) {
      expect(() => new LiveHub({ store, ...(options as object) })).toThrow(/Invalid live hub options/);
    }
    // One issue per mistake: a 0 was named twice, once for the range and once for "at least 1".
    for (const key of ["maxClients", "bufferSize", "batchSize"]) {
      let thrown: unknown;
      try {
        new LiveHub({ store, [key]: 0 });
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown) && thrown.issues.map((issue) => issue.path.join("."))).toEqual([key]);
    }
    const hub = new LiveHub({ store });
    const refused = await hub.connect({ after: -1 }).catch((error: unknown) => error);
    expect(isValidationError(refused)).toBe(true);
    await hub.close();
  });

  // Before, only the keys were checked: a filter list given as a string matched by substring
  // ("Order-12".includes("Order-1")), a filter that was no object matched every event, an `allow` that
  // was no function withheld every event (its TypeError taken for a refusal), and null was a TypeError.
  test("connect checks every option's value as the client's filter is checked, naming its path; nothing connects", async () => {
    const store = new InMemoryEventStore();
    const hub = new LiveHub({ store });
    const pathsOf = async (options: unknown) => {
      const refused = await hub.connect(options as never).catch((error: unknown) => error);
      expect(isValidationError(refused)).toBe(true);
      return (refused as { issues: { path: (string | number)[] }[] }).issues.map((issue) => issue.path.join("."));
    };
    expect(await pathsOf(null)).toEqual([""]);
    expect(await pathsOf("Order-1")).toEqual([""]);
    expect(await pathsOf({ allow: "yes" })).toEqual(["allow"]);
    expect(await pathsOf({ filter: "Order-1" })).toEqual(["filter"]);
    expect(await pathsOf({ filter: { streams: "Order-1" } })).toEqual(["filter.streams"]);
    expect(await pathsOf({ filter: { types: [5] } })).toEqual(["filter.types"]);
    expect(await pathsOf({ filter: { categories: ["Order-1"] } })).toEqual(["filter.categories"]);
    expect(await pathsOf({ filter: { streams: ["a\u0000b"] }, afterr: 3 })).toEqual(["afterr", "filter.streams"]);
    expect(await pathsOf({ filter: { types: Array.from({ length: 101 }, (_, n) => `T${n}`) } })).toEqual(["filter"]);
    expect(hub.size).toBe(0);
    // What the filter allows still connects and matches as before.
    const connection = await hub.connect({ filter: { streams: ["Order-1", "Order-1"] }, allow: () => true });
    const [own] = await append(store, 1, "Order-1");
    await append(store, 1, "Order-12");
    expect((await drain(connection, 1)).map((e) => e.id)).toEqual([own?.id]);
    expect(await connection.next(20)).toBeUndefined();
    await hub.close();
  });
});

describe("live filters", () => {
  const name = fc.stringMatching(/^[A-Za-z0-9_]{1,8}$/);
  const list = fc.option(fc.uniqueArray(name, { minLength: 1, maxLength: 4 }), { nil: undefined });
  const filter = fc
    .record({ streams: list, categories: list, types: list })
    .map((f) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== undefined))) as fc.Arbitrary<LiveFilter>;

  test("a filter survives its query string (property)", () => {
    fc.assert(
      fc.property(filter, (f) => {
        expect(filterFromQuery(filterToQuery(f))).toEqual(f);
      }),
    );
    // Any entry a filter accepts (every character but the comma, "&", "=", "%", "+", spaces, any script) too.
    const entry = fc
      .string({ unit: "grapheme", minLength: 1, maxLength: 12 })
      .filter((s) => !s.includes(",") && isName(s, MAX_STREAM_ID_LENGTH));
    fc.assert(
      fc.property(fc.uniqueArray(entry, { minLength: 1, maxLength: 5 }), (streams) => {
        const checked = checkFilter({ streams });
        expect(filterFromQuery(filterToQuery(checked))).toEqual(checked);
      }),
    );
  });

  test("an entry checkFilter accepts survives its query string whatever its code units: a lone surrogate is refused (property)", () => {
    // The query form is UTF-8: a lone surrogate would reach the server as U+FFFD, naming another stream or type.
    const unit = fc.oneof(
      fc.string({ unit: "binary", maxLength: 3 }),
      fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)),
    );
    const entry = fc.array(unit, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(""));
    fc.assert(
      fc.property(
        fc.uniqueArray(entry, { minLength: 1, maxLength: 3 }),
        fc.constantFrom("streams", "categories", "types"),
        (values, key) => {
          let checked: LiveFilter;
          try {
            checked = checkFilter({ [key]: values });
          } catch (error) {
            expect(isValidationError(error)).toBe(true);
            return;
          }
          expect(filterFromQuery(filterToQuery(checked))).toEqual(checked);
        },
      ),
      { numRuns: 500 },
    );
    expect(() => checkFilter({ streams: ["Cart-\uD800"] })).toThrow(/lone UTF-16 surrogate/);
    expect(() => checkFilter({ types: ["\uDC00Placed"] })).toThrow(/lone UTF-16 surrogate/);
  });

  test("an entry no stream id or type can be is refused, not a subscription that matches nothing (property)", () => {
    // Before: ?stream=%00 or ?type=%20%20 opened a stream that could never deliver an event.
    const entry = fc.oneof(
      fc.string({ unit: "binary", minLength: 1, maxLength: 6 }),
      fc.constantFrom("\0", " ", "\t", "Cart-\u0007", "  \n", "\u007f"),
    );
    fc.assert(
      fc.property(entry, fc.constantFrom("streams", "categories", "types"), (value, key) => {
        fc.pre(!value.includes(","));
        let accepted = true;
        try {
          checkFilter({ [key]: [value] });
        } catch (error) {
          expect(isValidationError(error)).toBe(true);
          accepted = false;
        }
        const limit = key === "types" ? MAX_TYPE_LENGTH : MAX_STREAM_ID_LENGTH;
        if (!isName(value, limit)) expect(accepted).toBe(false);
      }),
      { numRuns: 500 },
    );
    expect(() => filterFromQuery(new URLSearchParams("stream=%00"))).toThrow(/control characters/);
    expect(() => filterFromQuery(new URLSearchParams("type=%20%20"))).toThrow(/only whitespace/);
  });

  test("a filter checkFilter accepts matches the same events once through its query string (property)", () => {
    // What subscribeLive sends: an empty list, which the query cannot carry, must not widen to every event.
    const anyList = fc.option(fc.uniqueArray(name, { maxLength: 3 }), { nil: undefined });
    const anyFilter = fc.record({ streams: anyList, categories: anyList, types: anyList });
    fc.assert(
      fc.property(anyFilter, name, name, name, (f, category, id, type) => {
        let checked: LiveFilter;
        try {
          checked = checkFilter(f);
        } catch (error) {
          expect(isValidationError(error)).toBe(true);
          return;
        }
        const event = { streamId: `${category}-${id}`, type } as EventEnvelope;
        expect(matchesFilter(filterFromQuery(filterToQuery(checked)), event)).toBe(matchesFilter(f, event));
      }),
    );
    expect(() => checkFilter({ streams: [] })).toThrow(/streams must list at least one entry/);
  });

  test("a filter matches exactly the events of its streams, categories and types (property)", () => {
    fc.assert(
      fc.property(filter, name, name, name, (f, category, id, type) => {
        const event = { streamId: `${category}-${id}`, type } as EventEnvelope;
        const expected =
          (f.streams === undefined || f.streams.includes(event.streamId)) &&
          (f.categories === undefined || f.categories.includes(category)) &&
          (f.types === undefined || f.types.includes(type));
        expect(matchesFilter(f, event)).toBe(expected);
      }),
    );
  });

  test("a filter can name any stream the store accepts, by id or category, and any type (property)", async () => {
    // Stream ids of up to 512 characters, types of up to 256: entries were capped at 256 for all three.
    const segment = (max: number) => fc.stringMatching(new RegExp(`^[A-Za-z0-9_]{1,${max}}$`));
    await fc.assert(
      fc.asyncProperty(
        fc.tuple(segment(300), fc.option(segment(211), { nil: undefined })),
        segment(256),
        async ([category, id], type) => {
          const store = new InMemoryEventStore();
          const streamId = id === undefined ? category : `${category}-${id}`;
          const [event] = (await store.appendToStream(streamId, [{ type, data: {} }])).events;
          for (const filter of [{ streams: [streamId] }, { categories: [category] }, { types: [type] }]) {
            const parsed = filterFromQuery(filterToQuery(checkFilter(filter)));
            expect(matchesFilter(parsed, event as EventEnvelope)).toBe(true);
          }
        },
      ),
      { numRuns: 50 },
    );
    expect(() => checkFilter({ streams: ["S".repeat(513)] })).toThrow(/1 to 512 characters/);
    expect(() => checkFilter({ types: ["T".repeat(257)] })).toThrow(/1 to 256 characters/);
  });

  test("too many or empty entries are refused", () => {
    expect(() =>
      filterFromQuery(
        new URLSearchParams({
          type: Array(101)
            .fill("A")
            .map((a, i) => a + i)
            .join(","),
        }),
      ),
    ).toThrow(/at most 100/);
    expect(() => filterFromQuery(new URLSearchParams("stream=a,,b"))).toThrow(/1 to 512 characters/);
  });

  test("an entry holding a comma is refused: the query form would split it into entries never named", () => {
    for (const filter of [{ streams: ["Order-a,b"] }, { categories: ["Or,der"] }, { types: ["Placed,Paid"] }]) {
      expect(() => checkFilter(filter)).toThrow(/cannot hold a comma/);
    }
    // What the query form does with a comma is unchanged: it separates entries.
    expect(filterFromQuery(new URLSearchParams("stream=Order-a,b")).streams).toEqual(["Order-a", "b"]);
  });

  test("a category holding '-' is refused: it ends a category, so such a filter would match nothing", () => {
    expect(() => checkFilter({ categories: ["Order-1"] })).toThrow(/a category holds no "-"/);
    expect(() => filterFromQuery(new URLSearchParams("category=Order-1"))).toThrow(/list a stream under streams/);
    expect(checkFilter({ streams: ["Order-1"], categories: ["Order"] })).toEqual({
      streams: ["Order-1"],
      categories: ["Order"],
    });
  });
});
