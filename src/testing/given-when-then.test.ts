import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { AggregateRoot, type EventOfType } from "../aggregate/aggregate-root.js";
import { ErrorCode, HandlerNotFoundError, type RehydrationError, ValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { AssertionError } from "./assert.js";
import { aggregateSpec, commandSpec } from "./given-when-then.js";

type LampEvent = { type: "SwitchedOn"; data: { by: string } } | { type: "SwitchedOff"; data: null };

class Lamp extends AggregateRoot<{ on: boolean }, LampEvent> {
  constructor(id: string) {
    super(id, { on: false });
  }
  switchOn(by: string) {
    if (this.state.on) throw new ValidationError("already on");
    this.raise("SwitchedOn", { by });
  }
  protected onSwitchedOn(_: EventOfType<LampEvent, "SwitchedOn">) {
    this.state.on = true;
  }
  protected onSwitchedOff() {
    this.state.on = false;
  }
}

describe("aggregateSpec", () => {
  const spec = aggregateSpec((id) => new Lamp(id));

  test("passes when the decision raises the expected events", async () => {
    await spec
      .given([
        { type: "SwitchedOn", data: { by: "a" } },
        { type: "SwitchedOff", data: null },
      ])
      .when((lamp) => lamp.switchOn("b"))
      .thenEvents([{ type: "SwitchedOn", data: { by: "b" } }]);
  });

  test("fails, saying what differs, when the events differ", async () => {
    const outcome = spec
      .given([])
      .when((lamp) => lamp.switchOn("b"))
      .thenEvents([{ type: "SwitchedOn", data: { by: "c" } }]);
    await expect(outcome).rejects.toBeInstanceOf(AssertionError);
    await expect(outcome).rejects.toThrow('"by":"c"');
  });

  test("thenThrows matches by code, class or predicate, and fails when nothing is thrown", async () => {
    const on = spec.given([{ type: "SwitchedOn", data: { by: "a" } }]).when((lamp) => lamp.switchOn("b"));
    await on.thenThrows(ErrorCode.Validation);
    await on.thenThrows(ValidationError);
    await on.thenThrows((e) => (e as Error).message === "already on");
    await expect(on.thenThrows(TypeError)).rejects.toBeInstanceOf(AssertionError);
    const off = spec.given([]).when((lamp) => lamp.switchOn("b"));
    await expect(off.thenThrows(ValidationError)).rejects.toThrow("expected the decision to throw");
  });

  test("thenThrows takes an error class that does not extend Error (its type lets one through) as a class", async () => {
    class DomainError {
      readonly name = "DomainError";
      readonly message = "no lamp";
    }
    const thrown = new DomainError();
    const failing = spec.given([]).when(() => {
      throw thrown;
    });
    expect(await failing.thenThrows(DomainError)).toBe(thrown);
    const succeeding = spec.given([]).when((lamp) => lamp.switchOn("b"));
    const error = await succeeding.thenThrows(DomainError).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AssertionError);
    expect((error as Error).message).toBe("expected the decision to throw a DomainError, but it succeeded");
    const other = spec.given([]).when(() => {
      throw new RangeError("elsewhere");
    });
    await expect(other.thenThrows(DomainError)).rejects.toThrow(
      "expected the decision to throw a DomainError, but it threw RangeError (no code): elsewhere",
    );
  });
});

describe("aggregateSpec's given", () => {
  const spec = aggregateSpec((id) => new Lamp(id));
  // A history the aggregate cannot replay: it has no handler for this type.
  const broken = spec.given([{ type: "SwitchedAround", data: null } as unknown as LampEvent]);

  test("a history that cannot be replayed fails thenThrows, whatever it expects: the decision never ran", async () => {
    for (const expected of [HandlerNotFoundError, ErrorCode.HandlerNotFound, () => true] as const) {
      const outcome = broken.when((lamp) => lamp.switchOn("b")).thenThrows(expected);
      await expect(outcome).rejects.toBeInstanceOf(AssertionError);
      await expect(outcome).rejects.toThrow("the given history could not be replayed, so the decision never ran");
    }
  });

  test("and thenEvents alike, naming the replay's error as the cause", async () => {
    const error = await broken
      .when((lamp) => lamp.switchOn("b"))
      .thenEvents([{ type: "SwitchedOn", data: { by: "b" } }])
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AssertionError);
    expect((error as Error).cause).toBeInstanceOf(HandlerNotFoundError);
  });

  test("a handler that throws on the history (an Error or not) is named with what it threw", async () => {
    for (const [thrown, said] of [
      [new RangeError("no such lamp"), "RangeError (no code): no such lamp"],
      ["a bare string", "a non-error value: a bare string"],
    ] as const) {
      class FragileLamp extends Lamp {
        protected override onSwitchedOn() {
          throw thrown;
        }
      }
      const error = await aggregateSpec((id) => new FragileLamp(id))
        .given([{ type: "SwitchedOn", data: { by: "a" } }])
        .when((lamp) => lamp.switchOn("b"))
        .thenEvents([])
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AssertionError);
      expect((error as Error).message).toBe(
        `the given history could not be replayed, so the decision never ran: RehydrationError with code REHYDRATION_FAILED: FragileLamp could not apply event "SwitchedOn" at version 1 of stream "spec-aggregate": its handler threw (see cause), because ${said}`,
      );
      expect(((error as Error).cause as RehydrationError).cause).toBe(thrown);
    }
  });
});

describe("aggregateSpec and what a store would take", () => {
  type StampEvent = { type: "Stamped"; data: { at: Date | string; n?: number | bigint } };
  class Stamp extends AggregateRoot<{ stamps: number }, StampEvent> {
    constructor(id: string) {
      super(id, { stamps: 0 });
    }
    stamp(data: StampEvent["data"]) {
      this.raise("Stamped", data);
    }
    protected onStamped() {
      return { stamps: this.state.stamps + 1 };
    }
  }
  const spec = aggregateSpec((id) => new Stamp(id));
  const unstorable: [StampEvent["data"], string][] = [
    [{ at: new Date(0) }, "0.data.at: a Date"],
    [{ at: "x", n: Number.NaN }, "0.data.n: NaN"],
    [{ at: "x", n: 1n }, "0.data.n"],
  ];

  test("a decision that raises events no store appends fails: raise refuses them, and thenThrows sees it", async () => {
    for (const [data, where] of unstorable) {
      const error = await spec
        .given([])
        .when((stamp) => stamp.stamp(data))
        .thenEvents([{ type: "Stamped", data }])
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toContain(where.replace(/^0\./, ""));
      await spec
        .given([])
        .when((stamp) => stamp.stamp(data))
        .thenThrows(ValidationError);
    }
    // Nesting is each store's limit (maxJsonDepth, 64 by default): raise leaves it to the store, and
    // thenEvents checks it as a default store would.
    let deep: unknown = "x";
    for (let level = 0; level < 65; level++) deep = [deep];
    const tooDeep = await spec
      .given([])
      .when((stamp) => stamp.stamp({ at: deep as string }))
      .thenEvents([{ type: "Stamped", data: { at: deep as string } }])
      .catch((caught: unknown) => caught);
    expect(tooDeep).toBeInstanceOf(AssertionError);
    expect((tooDeep as Error).message).toStartWith(
      "the decision raised the expected events, but no event store would append them: ValidationError",
    );
    expect((tooDeep as Error).cause).toBeInstanceOf(ValidationError);
    await spec
      .given([])
      .when((stamp) => stamp.stamp({ at: "1970-01-01T00:00:00.000Z" }))
      .thenEvents([{ type: "Stamped", data: { at: "1970-01-01T00:00:00.000Z" } }]);
  });

  test("a history of events no store holds fails thenEvents and thenThrows: handlers never meet such data", async () => {
    for (const [data, where] of unstorable) {
      const given = spec.given([{ type: "Stamped", data }]).when((stamp) => stamp.stamp({ at: "y" }));
      for (const outcome of [
        given.thenEvents([{ type: "Stamped", data: { at: "y" } }]),
        given.thenThrows(() => true),
      ]) {
        const error = await outcome.catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(AssertionError);
        expect((error as Error).message).toStartWith(
          "the given history holds events no event store would have stored, so the decision never ran",
        );
        expect((error as Error).message).toContain(where);
      }
    }
  });
});

describe("misused helpers", () => {
  const spec = aggregateSpec((id) => new Lamp(id));
  const refused = async (label: string, use: () => unknown) => {
    let thrown: unknown;
    try {
      await use();
    } catch (error) {
      thrown = error;
    }
    expect({ label, thrown }).toEqual({ label, thrown: expect.any(ValidationError) });
    expect((thrown as ValidationError).message).toStartWith("Invalid Given-When-Then argument");
  };

  test("refuse arguments that are not what they take with a ValidationError, never a TypeError", async () => {
    const throwing = spec.given([]).when(() => {
      throw new Error("the decision");
    });
    const succeeding = spec.given([]).when((lamp) => lamp.switchOn("a"));
    for (const expected of [undefined, null, 42, "", {}]) {
      await refused(`thenThrows(${String(expected)}) after a throw`, () => throwing.thenThrows(expected as never));
      await refused(`thenThrows(${String(expected)}) after a success`, () => succeeding.thenThrows(expected as never));
    }
    await refused("aggregateSpec(42)", () => aggregateSpec(42 as never));
    // A create that makes no aggregate, as the repository refuses it: replaying failed with its own TypeError.
    for (const made of [{}, null, 42]) {
      const notAggregate = aggregateSpec(() => made as never)
        .given([])
        .when(() => undefined);
      await refused(`aggregateSpec(() => ${JSON.stringify(made)})`, () => notAggregate.thenEvents([]));
      await refused(`aggregateSpec(() => ${JSON.stringify(made)}) thenThrows`, () =>
        notAggregate.thenThrows("VALIDATION_ERROR"),
      );
    }
    await refused("given(null)", () => spec.given(null as never));
    await refused("when(5)", () => spec.given([]).when(5 as never));
    await refused("thenEvents(null)", () => succeeding.thenEvents(null as never));
    await refused("commandSpec(null)", () => commandSpec(null as never));
    const store = new InMemoryEventStore();
    await refused("commandSpec given(null)", () => commandSpec(store).given(null as never));
    await refused("commandSpec when(5)", () =>
      commandSpec(store)
        .given()
        .when(5 as never),
    );
    const seeded = commandSpec(store)
      .given({ "Lamp-9": [{ type: "SwitchedOn", data: { by: "x" } }] })
      .when(() => undefined);
    await refused("commandSpec thenEvents(null)", () => seeded.thenEvents("Lamp-9", null as never));
    await refused("commandSpec thenThrows(undefined)", () => seeded.thenThrows(undefined as never));
    expect(await store.streamExists("Lamp-9")).toBe(false);
    // given's streams are checked at given, the call that is wrong: not at then, by the seeding.
    const badStreams: unknown[] = [
      { "Lamp-1": "SwitchedOn" },
      { "Lamp-1": [null] },
      { "Lamp-1": [{ type: "SwitchedOn" }] },
      { "Lamp-1": [{ type: "", data: null }] },
      { "": [] },
      { "Lamp-1": [{ type: "SwitchedOn", data: null }], "Lamp-\u0000": [] },
      // The system stream no append may write: refused at the seeding, after given had taken it.
      { $streams: [{ type: "SwitchedOn", data: null }] },
    ];
    for (const streams of badStreams) {
      await refused(`commandSpec given(${JSON.stringify(streams)})`, () => commandSpec(store).given(streams as never));
    }
    expect(() => commandSpec(store).given({ "Lamp-1": [{ type: "SwitchedOn" }] } as never)).toThrow(
      expect.objectContaining({ issues: [{ path: ["streams", "Lamp-1", 0, "data"], message: expect.any(String) }] }),
    );
    expect(await store.streamExists("Lamp-1")).toBe(false);
  });

  // Not an event: what a JavaScript caller (or a JSON fixture) may put in a history or expectation.
  const notAnEvent = fc.oneof(
    fc.constantFrom(null, undefined, 0, "", "SwitchedOn", [], [{ type: "SwitchedOn" }], () => undefined),
    fc.record({ type: fc.oneof(fc.constant(""), fc.integer(), fc.constant(null), fc.array(fc.string())) }),
    fc.record({ data: fc.anything() }),
  );
  const eventsWithOneBad = fc
    .tuple(fc.integer({ min: 0, max: 3 }), notAnEvent)
    .map(([at, bad]) => [...Array.from({ length: at }, () => ({ type: "SwitchedOff", data: null })), bad]);

  test("an element of given's or thenEvents' events that is not an event is refused before anything runs", async () => {
    await fc.assert(
      fc.asyncProperty(eventsWithOneBad, async (events) => {
        let decided = false;
        const decide = (lamp: Lamp) => {
          decided = true;
          lamp.switchOn("a");
        };
        await refused("given([...])", () =>
          spec
            .given(events as never)
            .when(decide)
            .thenEvents([]),
        );
        await refused("thenEvents([...])", () =>
          spec
            .given([])
            .when(decide)
            .thenEvents(events as never),
        );
        const store = new InMemoryEventStore();
        await refused("commandSpec thenEvents([...])", () =>
          commandSpec(store)
            .given()
            .when(() => {
              decided = true;
            })
            .thenEvents("Lamp-8", events as never),
        );
        expect(decided).toBe(false);
      }),
      { numRuns: 200 },
    );
    expect(() => spec.given([{ type: "SwitchedOff", data: null }, null] as never)).toThrow(
      expect.objectContaining({
        issues: [{ path: ["history", 1], message: "must be an event ({ type, data }), got null" }],
      }),
    );
  });
});

describe("commandSpec", () => {
  test("checks only the events the command appended", async () => {
    const store = new InMemoryEventStore();
    await commandSpec(store)
      .given({ "Lamp-1": [{ type: "SwitchedOn", data: { by: "x" } }] })
      .when(() => store.appendToStream("Lamp-1", [{ type: "SwitchedOff", data: null }]))
      .thenEvents("Lamp-1", [{ type: "SwitchedOff", data: null }]);
    const failing = commandSpec(new InMemoryEventStore())
      .given()
      .when(() => undefined)
      .thenEvents("Lamp-2", [{ type: "SwitchedOff", data: null }]);
    await expect(failing).rejects.toBeInstanceOf(AssertionError);
  });

  test("thenThrows runs the seed first, then expects the command to throw", async () => {
    const store = new InMemoryEventStore();
    await commandSpec(store)
      .given({ "Lamp-3": [{ type: "SwitchedOn", data: { by: "x" } }] })
      .when(() =>
        store.appendToStream("Lamp-3", [{ type: "SwitchedOff", data: null }], { expectedVersion: "no-stream" }),
      )
      .thenThrows(ErrorCode.Concurrency);
  });
});
