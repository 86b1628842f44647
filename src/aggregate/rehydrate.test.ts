// Rehydration resolves handlers through a per-class table fetched once per call; these tests pin
// down what that cache must not change.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  AggregateBrokenError,
  HandlerNotFoundError,
  RehydrationError,
  ServiceError,
  ValidationError,
} from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";
import { AggregateRoot, type EventHandlerMap, type EventOfType } from "./aggregate-root.js";

type Ev = { type: "Added"; data: { n: number } } | { type: "Doubled"; data: null } | { type: "Unknown"; data: null };

const at = (version: number, type: Ev["type"], data: unknown = null): EventEnvelope => ({
  id: `e${version}`,
  type,
  data,
  streamId: "Calc-1",
  version,
  timestamp: "2026-01-01T00:00:00.000Z",
  metadata: {},
});

class Calc extends AggregateRoot<{ value: number }, Ev> {
  constructor() {
    super("Calc-1", { value: 0 });
  }
  get value(): number {
    return this.state.value;
  }
  protected onAdded(event: EventOfType<Ev, "Added">): void {
    this.state.value += event.data.n;
  }
  protected onDoubled(): void {
    this.state.value *= 2;
  }
}

class TenfoldCalc extends Calc {
  protected override onAdded(event: EventOfType<Ev, "Added">): void {
    this.state.value += 10 * event.data.n;
  }
}

const calcMap: EventHandlerMap<number, Ev> = {
  Added: (state, { data }) => state + data.n,
  Doubled: (state) => state * 2,
  Unknown: () => {
    throw new Error("never applied in these tests");
  },
};

class MapCalc extends AggregateRoot<number, Ev> {
  constructor() {
    super("Calc-1", 0);
  }
  protected override get handlers(): EventHandlerMap<number, Ev> {
    return calcMap;
  }
}

describe("rehydrate", () => {
  test("a missing handler mid-history throws each time, leaving the version at the last applied event", () => {
    const history = [at(1, "Added", { n: 2 }), at(2, "Unknown"), at(3, "Added", { n: 5 })];
    for (let attempt = 0; attempt < 2; attempt++) {
      const calc = new Calc();
      expect(() => calc.rehydrate(history)).toThrow(HandlerNotFoundError);
      expect(calc.value).toBe(2);
      expect(calc.version).toBe(1);
      expect(calc.persistedVersion).toBe(0);
    }
  });

  test("each class keeps its own handlers, even when a subclass overrides one", () => {
    const history = [at(1, "Added", { n: 1 }), at(2, "Doubled")];
    expect(new Calc().rehydrate(history).value).toBe(2);
    expect(new TenfoldCalc().rehydrate(history).value).toBe(20);
    expect(new Calc().rehydrate(history).value).toBe(2);
  });

  test("method handlers, a handler map and a plain fold agree on any history", () => {
    const step = fc.oneof(
      fc.integer({ min: -1000, max: 1000 }).map((n) => ({ type: "Added" as const, n })),
      fc.constant({ type: "Doubled" as const, n: 0 }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const history = steps.map((s, i) => at(i + 1, s.type, s.type === "Added" ? { n: s.n } : null));
        const expected = steps.reduce((value, s) => (s.type === "Added" ? value + s.n : value * 2), 0);
        const methods = new Calc().rehydrate(history);
        const map = new MapCalc().rehydrate(history);
        expect(methods.value).toBe(expected);
        expect(map.currentState).toBe(expected);
        expect(methods.version).toBe(history.length);
        expect(map.persistedVersion).toBe(history.length);
      }),
    );
  });
});

type Tick = { type: "Ticked"; data: { n: number } } | { type: "Echoed"; data: null };

/** Throws on a tick of 13; `Echoed` raises an event from inside its handler, which handlers must not do. */
class Clock extends AggregateRoot<{ ticks: number }, Tick> {
  constructor() {
    super("Clock-1", { ticks: 0 });
  }
  tick(n: number) {
    this.raise("Ticked", { n });
  }
  echo() {
    this.raise("Echoed", null);
  }
  protected onTicked(event: EventOfType<Tick, "Ticked">) {
    if (event.data.n === 13) throw new TypeError(`unlucky ${event.data.n}`);
    return { ticks: this.state.ticks + 1 };
  }
  protected onEchoed() {
    this.raise("Ticked", { n: 1 });
  }
}

const tick = (version: number, type: Tick["type"], data: unknown): EventEnvelope => ({
  ...at(version, "Added"),
  streamId: "Clock-1",
  type,
  data,
});

describe("a handler that throws while replaying", () => {
  const history = [tick(1, "Ticked", { n: 1 }), tick(2, "Ticked", { n: 13 }), tick(3, "Ticked", { n: 2 })];

  test("is a RehydrationError naming the aggregate, stream, version and type, with the handler's error as cause", async () => {
    for (const replay of [
      async () => new Clock().rehydrate(history),
      // A plain iterable too, as `for await` takes one.
      async () => new Clock().rehydrateAsync(history as unknown as AsyncIterable<EventEnvelope>),
      async () =>
        new Clock().rehydrateAsync(
          (async function* () {
            yield* history;
          })(),
        ),
    ]) {
      const error = await replay().catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(RehydrationError);
      const { aggregate, streamId, version, eventType, code, message, cause } = error as RehydrationError;
      expect({ aggregate, streamId, version, eventType, code }).toEqual({
        aggregate: "Clock",
        streamId: "Clock-1",
        version: 2,
        eventType: "Ticked",
        code: "REHYDRATION_FAILED",
      });
      expect(message).toBe(
        'Clock could not apply event "Ticked" at version 2 of stream "Clock-1": its handler threw (see cause)',
      );
      expect(message).not.toContain("unlucky");
      expect(cause).toBeInstanceOf(TypeError);
    }
  });

  test("the source's own errors (the store failing mid-read) and a missing handler are not wrapped", async () => {
    const down = new ServiceError("db", "read", "down", true, "connection lost");
    const failing = (async function* () {
      yield tick(1, "Ticked", { n: 1 });
      throw down;
    })();
    expect(await new Clock().rehydrateAsync(failing).catch((thrown: unknown) => thrown)).toBe(down);
    expect(() => new Calc().rehydrate([at(1, "Unknown")])).toThrow(HandlerNotFoundError);
  });

  test("raising from a handler is refused: a decision records nothing, a replay fails instead of recording events", () => {
    const clock = new Clock();
    clock.tick(5);
    expect(() => clock.echo()).toThrow("raise was called from an event handler");
    // Its handler threw, so the aggregate goes no further, and says why.
    expect(clock.version).toBe(1);
    const broken = (() => {
      try {
        clock.tick(6);
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(broken).toBeInstanceOf(AggregateBrokenError);
    expect((broken as AggregateBrokenError).cause).toBeInstanceOf(ValidationError);
    expect((broken as AggregateBrokenError).eventType).toBe("Echoed");

    const replayed = new Clock();
    let error: unknown;
    try {
      replayed.rehydrate([tick(1, "Ticked", { n: 1 }), tick(2, "Echoed", null)]);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(RehydrationError);
    expect((error as RehydrationError).cause).toBeInstanceOf(ValidationError);
    // Nothing was recorded, and a replay that failed leaves nothing to save either.
    expect(replayed.version).toBe(1);
    expect(() => replayed.uncommittedEvents).toThrow(AggregateBrokenError);
  });
});

describe("a handler that returns a promise (an async handler, from JavaScript)", () => {
  class AsyncClock extends AggregateRoot<{ ticks: number }, Tick> {
    constructor() {
      super("Clock-1", { ticks: 0 });
    }
    tick(n: number) {
      this.raise("Ticked", { n });
    }
    // @ts-expect-error TypeScript refuses an async handler; JavaScript does not.
    protected async onTicked() {
      return { ticks: this.state.ticks + 1 };
    }
  }
  class AsyncMapClock extends AggregateRoot<{ ticks: number }, Tick> {
    constructor() {
      super("Clock-1", { ticks: 0 });
    }
    protected override get handlers() {
      return { Ticked: async (state: { ticks: number }) => ({ ticks: state.ticks + 1 }) } as never;
    }
  }

  test("is refused where it runs: a raise records nothing, a replay fails with a RehydrationError; the state is never the promise", async () => {
    const clock = new AsyncClock();
    expect(() => clock.tick(1)).toThrow('the handler of "Ticked" returned a promise: handlers are synchronous');
    // The async handler ran up to its first await: the aggregate goes no further, its state is not shown.
    expect(clock.version).toBe(0);
    expect(() => clock.currentState).toThrow(AggregateBrokenError);
    expect(() => clock.tick(1)).toThrow(AggregateBrokenError);
    for (const replayed of [new AsyncClock(), new AsyncMapClock()]) {
      const error = await replayed.rehydrateAsync(history(1)).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(RehydrationError);
      expect((error as RehydrationError).cause).toBeInstanceOf(ValidationError);
      expect(replayed.version).toBe(0);
      expect(() => replayed.currentState).toThrow(AggregateBrokenError);
    }
  });
});

async function* history(count: number): AsyncGenerator<EventEnvelope> {
  for (let version = 1; version <= count; version++) yield tick(version, "Ticked", { n: version });
}

describe("a stored event without a version (built by hand, from JavaScript)", () => {
  // The repository's next save expects persistedVersion: undefined was taken as "any", and a decision
  // made on a stale state was appended with no check at all.
  for (const version of [undefined, 0, -1, 1.5, "2", Number.NaN]) {
    test(`version ${String(version)} is a ValidationError, and the aggregate is not used further`, async () => {
      const calc = new Calc();
      const events = [at(1, "Added", { n: 1 }), { ...at(2, "Added", { n: 2 }), version } as unknown as EventEnvelope];
      expect(() => calc.rehydrate(events)).toThrow(ValidationError);
      expect(() => calc.rehydrate([])).toThrow(AggregateBrokenError);
      const later = new Calc();
      await expect(
        later.rehydrateAsync(
          (async function* () {
            yield* events;
          })(),
        ),
      ).rejects.toBeInstanceOf(ValidationError);
    });
  }
});
