// Rehydration resolves handlers through a per-class table fetched once per call; these tests pin
// down what that cache must not change.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { HandlerNotFoundError } from "../errors.js";
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
