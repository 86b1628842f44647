import { describe, expect, jest, test } from "bun:test";
import { CommandBus, ValidationError } from "../index.js";
import { defineSaga } from "./define-saga.js";
import { InMemorySagaStore } from "./in-memory-saga-store.js";
import { SagaRuntime } from "./saga-runtime.js";
import { SagaAlarmDriver, sagaCronHandler } from "./timer-drivers.js";

type Armed = { type: "Armed"; data: { id: string; after: number } };
const sagaOf = (fired: string[], name = "Timer") =>
  defineSaga<Armed, object>({
    name,
    startedBy: ["Armed"],
    correlate: (event) => event.data.id,
    initialState: {},
    on: {
      Armed: (state, event, ctx) => {
        ctx.schedule({ after: event.data.after, name: "t" });
        return state;
      },
    },
    onTimeout: {
      t: (state, _timeout, ctx) => {
        fired.push(ctx.key);
        ctx.complete();
        return state;
      },
    },
  });
const armed = (id: string, after: number) => ({
  id: `e-${id}`,
  type: "Armed",
  streamId: `T-${id}`,
  version: 1,
  timestamp: new Date(0).toISOString(),
  data: { id, after },
  metadata: {},
});

/** A Durable Object's alarm storage, in memory (the real one is exercised in miniflare: timer-drivers.workerd.test.ts). */
function fakeStorage() {
  const set: number[] = [];
  let alarm: number | null = null;
  return {
    set,
    getAlarm: async () => alarm,
    setAlarm: async (at: number) => {
      alarm = at;
      set.push(at);
    },
    fire: () => {
      alarm = null;
    },
  };
}

function setup() {
  let now = 1_000_000;
  const fired: string[] = [];
  const runtime = new SagaRuntime({
    store: new InMemorySagaStore(),
    commands: new CommandBus(),
    sagas: [sagaOf(fired)],
    now: () => now,
  });
  return { runtime, fired, clock: { get: () => now, set: (t: number) => (now = t) } };
}

describe("SagaAlarmDriver", () => {
  test("sleeps until the next due time, fires it, then sleeps until the following one", async () => {
    const { runtime, fired, clock } = setup();
    const storage = fakeStorage();
    const driver = new SagaAlarmDriver(storage, runtime, { now: clock.get });
    expect(await driver.wake()).toBe(clock.get() + 60_000); // nothing due: the longest sleep
    await runtime.handle(armed("a", 5_000));
    await runtime.handle(armed("b", 9_000));
    expect(await driver.wake()).toBe(1_005_000); // earlier than the alarm set: moved forward
    await runtime.handle(armed("c", 30_000));
    expect(await driver.wake()).toBe(1_005_000); // later than the alarm set: kept
    clock.set(1_005_000);
    storage.fire();
    expect((await driver.alarm()).fired.map((f) => f.key)).toEqual(["a"]);
    expect(await storage.getAlarm()).toBe(1_009_000);
    clock.set(1_009_050);
    storage.fire();
    const [late] = (await driver.alarm()).fired;
    expect(late).toMatchObject({ key: "b", latenessMs: 50 });
    expect(await storage.getAlarm()).toBe(1_030_000);
    expect(fired).toEqual(["a", "b"]);
  });

  test("an overdue timeout sets the alarm minDelayMs ahead, never in the past (no spinning)", async () => {
    const { runtime, clock } = setup();
    const storage = fakeStorage();
    await runtime.handle(armed("a", 1));
    clock.set(clock.get() + 100);
    expect((await runtime.tick()).fired.length).toBe(1);
    await runtime.handle(armed("b", 1));
    clock.set(clock.get() + 100); // b is overdue too
    const driver = new SagaAlarmDriver(storage, runtime, { now: clock.get, minDelayMs: 250 });
    expect(await driver.wake()).toBe(clock.get() + 250);
  });

  test("over a store shared with another deployment, it sleeps past that one's overdue timeout", async () => {
    // Counted, the other's timeout woke this driver every minDelayMs, and its tick claimed nothing.
    let now = 1_000_000;
    const store = new InMemorySagaStore();
    const deployment = (name: string) =>
      new SagaRuntime({ store, commands: new CommandBus(), sagas: [sagaOf([], name)], now: () => now });
    const theirs = deployment("Theirs");
    const ours = deployment("Ours");
    await theirs.handle(armed("a", 1));
    await ours.handle(armed("b", 5_000));
    now += 100; // theirs is overdue, and stays so until their own runtime ticks
    const driver = new SagaAlarmDriver(fakeStorage(), ours, { now: () => now });
    expect(await driver.wake()).toBe(1_005_000);
    expect(await ours.nextTimeoutAt()).toBe(1_005_000);
    expect(await theirs.nextTimeoutAt()).toBe(1_000_001);
  });

  test("a tick that throws still re-arms the alarm", async () => {
    const { runtime, clock } = setup();
    const storage = fakeStorage();
    const broken = Object.assign(Object.create(runtime) as SagaRuntime, {
      tick: async () => {
        throw new Error("store down");
      },
      nextTimeoutAt: async () => undefined,
    });
    const driver = new SagaAlarmDriver(storage, broken, { now: clock.get, maxSleepMs: 5_000 });
    await expect(driver.alarm()).rejects.toThrow("store down");
    expect(await storage.getAlarm()).toBe(clock.get() + 5_000);
  });

  test("bad options are a ValidationError", () => {
    const { runtime } = setup();
    expect(() => new SagaAlarmDriver({} as never, runtime)).toThrow("Invalid saga alarm driver options");
    expect(() => new SagaAlarmDriver(fakeStorage(), runtime, { maxSleepMs: 0 })).toThrow(
      "Invalid saga alarm driver options",
    );
    // From JavaScript: options of the wrong kind, and a clock that is no function (a TypeError on every alarm before).
    for (const options of ["x", 5, { now: 5 }, { now: "Date.now" }]) {
      expect(() => new SagaAlarmDriver(fakeStorage(), runtime, options as never)).toThrow(ValidationError);
    }
  });

  test("null options are the defaults, as undefined are: Date.now, a 60 s longest sleep, a 100 ms shortest delay", async () => {
    // The default clock is Date.now: pinned (fake timers), each alarm is checked to the millisecond. Pinned in the
    // past: ids made meanwhile (the saga store's) would otherwise carry a future time into every later id of the
    // process, the ULID generator being monotonic.
    jest.useFakeTimers({ now: 1_500_000_000_000 });
    try {
      const { runtime } = setup();
      const at = async (given: null | undefined) => {
        const storage = fakeStorage();
        return new SagaAlarmDriver(storage, runtime, given).wake();
      };
      expect([await at(null), await at(undefined)]).toEqual([1_500_000_060_000, 1_500_000_060_000]);
      // A timeout due at the runtime's own clock, long before Date.now: overdue, so the shortest delay.
      await runtime.handle(armed("a", 1));
      expect([await at(null), await at(undefined)]).toEqual([1_500_000_000_100, 1_500_000_000_100]);
    } finally {
      jest.useRealTimers();
    }
  });
});

describe("sagaCronHandler", () => {
  test("each scheduled event fires what is due, under waitUntil, with a runtime made from env", async () => {
    const { runtime, fired, clock } = setup();
    await runtime.handle(armed("a", 1_000));
    const waited: Promise<unknown>[] = [];
    const ticks: number[] = [];
    const handler = sagaCronHandler((env: { ready: boolean }) => (env.ready ? runtime : Promise.reject()), {
      onTick: (result) => ticks.push(result.fired.length),
    });
    const ctx = { waitUntil: (p: Promise<unknown>) => void waited.push(p) };
    await handler.scheduled({ cron: "* * * * *" }, { ready: true }, ctx);
    expect(ticks).toEqual([0]);
    clock.set(clock.get() + 1_000);
    await handler.scheduled({ cron: "* * * * *" }, { ready: true }, ctx);
    expect({ ticks, fired, waited: waited.length }).toEqual({ ticks: [0, 1], fired: ["a"], waited: 2 });
  });

  test("an onTick that throws is logged: the scheduled event still succeeds", async () => {
    // Before, its throw failed the invocation (and the waitUntil promise) after the timeouts had fired.
    const { runtime, fired, clock } = setup();
    await runtime.handle(armed("a", 1_000));
    clock.set(clock.get() + 1_000);
    const waited: Promise<unknown>[] = [];
    const handler = sagaCronHandler(runtime, {
      onTick: () => {
        throw new Error("dashboard down");
      },
    });
    await handler.scheduled({}, {}, { waitUntil: (p) => void waited.push(p) });
    await Promise.all(waited);
    expect(fired).toEqual(["a"]);
  });

  test("a source or onTick that is not one is a ValidationError, at once or from the factory: never a TypeError", async () => {
    const { runtime } = setup();
    const ctx = { waitUntil: () => {} };
    for (const bad of [undefined, null, {}, 5]) {
      expect(() => sagaCronHandler(bad as never)).toThrow(ValidationError);
    }
    expect(() => sagaCronHandler(runtime, { onTick: 5 as never })).toThrow(ValidationError);
    expect(() => sagaCronHandler(runtime, { onTick: null as never })).toThrow(ValidationError);
    for (const options of ["x", 5, true])
      expect(() => sagaCronHandler(runtime, options as never)).toThrow(ValidationError);
    await sagaCronHandler(runtime, null).scheduled({}, {}, ctx);
    for (const made of [{}, undefined, Promise.resolve(null)]) {
      const handler = sagaCronHandler(() => made as never);
      await expect(handler.scheduled({}, {}, ctx)).rejects.toBeInstanceOf(ValidationError);
    }
  });
});

describe("the timer drivers refuse keys their options do not take", () => {
  const issuesOf = (build: () => unknown) => {
    try {
      build();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return (error as ValidationError).issues;
    }
    throw new Error("expected a ValidationError");
  };

  test("SagaAlarmDriver: a misspelt maxSleepMs is refused by name, not dropped for the 60 s default", () => {
    const { runtime } = setup();
    expect(issuesOf(() => new SagaAlarmDriver(fakeStorage(), runtime, { maxSleep: 5_000 } as never))).toEqual([
      { path: ["maxSleep"], message: "is not an option (the options are maxSleepMs, minDelayMs, now)" },
    ]);
  });

  test("sagaCronHandler: a misspelt onTick is refused by name, not dropped unobserved", () => {
    const { runtime } = setup();
    expect(issuesOf(() => sagaCronHandler(runtime, { ontick: () => undefined } as never))).toEqual([
      { path: ["ontick"], message: "is not an option (the options are onTick)" },
    ]);
  });
});
