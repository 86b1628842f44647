import { describe, expect, test } from "bun:test";
import { recordingBus } from "../../test/sagas/order-saga.ts";
import { ErrorCode, isNoTransitionError } from "../errors.js";
import { testEnvelope } from "../testing/event-bus-contract.js";
import { InMemorySagaStore } from "./in-memory-saga-store.js";
import { defineProcessManager } from "./process-manager.js";
import { SagaRuntime } from "./saga-runtime.js";

type PaymentEvent =
  | { type: "PaymentRequested"; data: { paymentId: string; amount: number } }
  | { type: "PaymentAuthorized"; data: { paymentId: string; amount: number } }
  | { type: "PaymentCaptured"; data: { paymentId: string } }
  | { type: "PaymentReminderSent"; data: { paymentId: string } };

type PaymentState = "requested" | "authorized" | "captured" | "expired" | "rejected";

const payment = defineProcessManager<PaymentEvent, PaymentState, { amount: number; reminders: number }>({
  name: "Payment",
  startedBy: ["PaymentRequested"],
  handles: ["PaymentAuthorized", "PaymentCaptured", "PaymentReminderSent"],
  correlate: (event) => event.data.paymentId,
  states: ["requested", "authorized", "captured", "expired", "rejected"],
  initial: "requested",
  final: ["captured", "expired", "rejected"],
  data: { amount: 0, reminders: 0 },
  transitions: {
    requested: {
      PaymentRequested: {
        to: "requested",
        action: (_data, event, ctx) => {
          ctx.schedule({ after: 60_000, name: "expiry" });
          return { amount: event.data.amount, reminders: 0 };
        },
      },
      PaymentAuthorized: [
        { to: "authorized", guard: (data, event) => event.data.amount === data.amount },
        {
          to: "rejected",
          action: (_data, event, ctx) => void ctx.dispatch("ReleaseStock", { orderId: event.data.paymentId }),
        },
      ],
    },
    authorized: { PaymentCaptured: { to: "captured" } },
  },
  ignore: { authorized: ["PaymentReminderSent"] },
  onTimeout: { expiry: { requested: { to: "expired" } } },
});

function setup() {
  const store = new InMemorySagaStore();
  const errors: unknown[] = [];
  const { bus, sent } = recordingBus();
  const runtime = new SagaRuntime({
    store,
    commands: bus,
    sagas: [payment],
    now: () => 0,
    onError: (failure) => errors.push(failure.error),
  });
  const event = (type: PaymentEvent["type"], data: object = {}) =>
    testEnvelope(type, "Payment-p1", { paymentId: "p1", ...data });
  const stateOf = async () => (await store.load("Payment", "p1"))?.state as { state: PaymentState; data: unknown };
  return { store, errors, runtime, event, stateOf, sent };
}

describe("defineProcessManager", () => {
  test("transitions move the state; a guard picks between them; a final state completes", async () => {
    const { runtime, event, stateOf, store } = setup();
    await runtime.handle(event("PaymentRequested", { amount: 10 }));
    expect(await stateOf()).toEqual({ state: "requested", data: { amount: 10, reminders: 0 } });
    await runtime.handle(event("PaymentAuthorized", { amount: 10 }));
    expect((await stateOf()).state).toBe("authorized");
    const [outcome] = await runtime.handle(event("PaymentCaptured"));
    expect(outcome?.outcome).toBe("completed");
    expect((await store.load("Payment", "p1"))?.status).toBe("completed");
  });

  test("the next transition is tried when a guard refuses; its action dispatches", async () => {
    const { runtime, event, stateOf, sent } = setup();
    await runtime.handle(event("PaymentRequested", { amount: 10 }));
    await runtime.handle(event("PaymentAuthorized", { amount: 9 }));
    expect((await stateOf()).state).toBe("rejected");
    expect(sent.map((s) => s.type)).toEqual(["ReleaseStock"]);
  });

  test("an event declared ignored in a state is an ignored outcome, nothing saved", async () => {
    const { runtime, event, store } = setup();
    await runtime.handle(event("PaymentRequested", { amount: 10 }));
    await runtime.handle(event("PaymentAuthorized", { amount: 10 }));
    const [outcome] = await runtime.handle(event("PaymentReminderSent"));
    expect(outcome).toMatchObject({ outcome: "ignored" });
    expect(outcome?.reason).toContain('declared ignored in state "authorized"');
    expect((await store.load("Payment", "p1"))?.version).toBe(2);
  });

  test("an event with no transition from the state is a NoTransitionError, reported, not dropped", async () => {
    const { runtime, event, errors, store } = setup();
    await runtime.handle(event("PaymentRequested", { amount: 10 }));
    const captured = event("PaymentCaptured");
    const [outcome] = await runtime.handle(captured);
    expect(outcome?.outcome).toBe("failed");
    expect(isNoTransitionError(outcome?.error)).toBe(true);
    expect(outcome?.error).toMatchObject({
      code: ErrorCode.NoTransition,
      state: "requested",
      eventType: "PaymentCaptured",
    });
    expect(errors).toHaveLength(1);
    expect((await store.failures({ saga: "Payment" }))[0]).toMatchObject({ eventId: captured.id, key: "p1" });
  });

  test("a timeout transition expires the payment; from another state it is ignored", async () => {
    const { runtime, event, stateOf } = setup();
    await runtime.handle(event("PaymentRequested", { amount: 10 }));
    const { fired } = await runtime.tick(60_000);
    expect(fired.map((f) => f.outcome)).toEqual(["completed"]);
    expect((await stateOf()).state).toBe("expired");
  });

  // A valid definition as a JavaScript caller might write it, to break one part at a time.
  const define = defineProcessManager as (input: unknown) => unknown;
  const base = {
    name: "Bad",
    startedBy: ["A"],
    correlate: () => "k",
    states: ["a"],
    initial: "a",
    data: {},
    transitions: { a: { A: { to: "a" } } },
  };
  /** The error a definition of `base` with `extra` over it is refused with, or undefined. */
  const refusal = (extra: object) => {
    try {
      define({ ...base, ...extra });
    } catch (error) {
      return error as { code?: string; issues?: { path: unknown[]; message: string }[] };
    }
    return undefined;
  };

  test("a JavaScript caller's undeclared state is refused at definition", () => {
    expect(() => define({ ...base, transitions: { a: { A: { to: "nowhere" } }, b: {} } })).toThrow(
      /goes to "nowhere", not a declared state[\s\S]*"b" is not a declared state/,
    );
  });

  test("a JavaScript caller's undeclared state under ignore or onTimeout is refused at definition", () => {
    expect(refusal({ ignore: { b: ["A"] } })).toMatchObject({
      code: ErrorCode.Validation,
      issues: [{ path: ["ignore", "b"], message: '"b" is not a declared state' }],
    });
    expect(refusal({ onTimeout: { expiry: { a: { to: "nowhere" } } } })).toMatchObject({
      code: ErrorCode.Validation,
      issues: [{ path: ["onTimeout", "expiry", "a"], message: 'goes to "nowhere", not a declared state' }],
    });
    expect(refusal({ onTimeout: { expiry: { b: { to: "a" } } } })).toMatchObject({
      code: ErrorCode.Validation,
      issues: [{ path: ["onTimeout", "expiry", "b"], message: '"b" is not a declared state' }],
    });
    expect(refusal({ ignore: { a: ["A"] }, onTimeout: { expiry: { a: { to: "a" } } } })).toBeUndefined();
  });

  test("a key the definition does not take (ignores for ignore) is refused at definition, by name", () => {
    // Taken, `ignores` was dropped: the events it listed were NoTransitionErrors in that state.
    expect(refusal({ ignores: { a: ["A"] }, onTimout: {} })).toMatchObject({
      code: ErrorCode.Validation,
      issues: [
        {
          path: ["ignores"],
          message: expect.stringMatching(/^is not an option \(the options are name, .*ignore, onTimeout\)$/),
        },
        { path: ["onTimout"], message: expect.stringContaining("is not an option") },
      ],
    });
    expect(refusal({ handles: [], final: [], ignore: {}, onTimeout: {} })).toBeUndefined();
  });

  test("a transition's misspelt key, a transition or correlation on an undeclared type are refused by name", () => {
    // Each was taken: a `gaurd` was dropped and the transition always taken; a transition or a
    // correlation function on a type in neither startedBy nor handles never ran.
    expect(refusal({ transitions: { a: { A: { to: "a", gaurd: () => false } } } })?.issues).toEqual([
      { path: ["transitions", "a", "A", "gaurd"], message: "is not an option (the options are to, guard, action)" },
    ]);
    expect(refusal({ transitions: { a: { A: { to: "a" }, C: { to: "a" } } } })?.issues?.map((i) => i.path)).toEqual([
      ["transitions", "a", "C"],
    ]);
    expect(refusal({ correlate: { A: () => "k", C: () => "k" } })?.issues?.map((i) => i.path)).toEqual([
      ["correlate", "C"],
    ]);
    expect(
      refusal({ transitions: { a: { A: [{ to: "a", guard: () => true, action: () => undefined }] } } }),
    ).toBeUndefined();
  });

  test("states named like Object's methods find no transition, ignore list or timeout transition on Object", async () => {
    // TypeScript refuses these state names; a JavaScript caller may use them.
    const pm = defineProcessManager({
      name: "Proto",
      startedBy: ["Start"],
      handles: ["Poke"],
      correlate: (event: { data: { id: string } }) => event.data.id,
      states: ["constructor", "toString"],
      initial: "constructor",
      data: {},
      transitions: {
        constructor: {
          Start: {
            to: "constructor",
            action: (data: object, _event: unknown, ctx: { schedule(o: object): void }) => {
              ctx.schedule({ at: 1, name: "t" });
              return data;
            },
          },
        },
      },
      onTimeout: { t: { toString: { to: "constructor" } } },
    } as never);
    const store = new InMemorySagaStore();
    const runtime = new SagaRuntime({ store, commands: recordingBus().bus, sagas: [pm], onError: () => {} });
    expect((await runtime.handle(testEnvelope("Start", "P-1", { id: "p" })))[0]?.outcome).toBe("started");
    // No transition for Poke from "constructor": a NoTransitionError, not a TypeError from Object's own members.
    const [poke] = await runtime.handle(testEnvelope("Poke", "P-1", { id: "p" }));
    expect(isNoTransitionError(poke?.error)).toBe(true);
    // The timeout has no transition from "constructor": ignored, and the state stays a declared one.
    expect((await runtime.tick(10)).fired.map((f) => f.outcome)).toEqual(["ignored"]);
    expect((await store.load("Proto", "p"))?.state).toEqual({ state: "constructor", data: {} });
  });

  test("a JavaScript caller's guard or action that is not a function is refused at definition, not a TypeError per event", () => {
    expect(
      refusal({
        transitions: {
          a: {
            A: [
              { to: "a", guard: "yes" },
              { to: "a", action: 42 },
            ],
          },
        },
      }),
    ).toMatchObject({
      code: ErrorCode.Validation,
      issues: [
        { path: ["transitions", "a", "A", "guard"], message: 'guard must be a function, got "yes"' },
        { path: ["transitions", "a", "A", "action"], message: "action must be a function, got 42" },
      ],
    });
    expect(refusal({ onTimeout: { expiry: { a: { to: "a", guard: null } } } })).toMatchObject({
      code: ErrorCode.Validation,
      issues: [{ path: ["onTimeout", "expiry", "a", "guard"], message: "guard must be a function, got null" }],
    });
    expect(
      refusal({ transitions: { a: { A: { to: "a", guard: () => true, action: () => undefined } } } }),
    ).toBeUndefined();
  });

  test("a guard that returns a promise (async, from JavaScript or a cast) fails the step: its transition is not taken", async () => {
    type Ev = { type: "Start"; data: { id: string } } | { type: "Check"; data: { id: string } };
    const pm = defineProcessManager<Ev, "open" | "passed", object>({
      name: "AsyncGuard",
      startedBy: ["Start"],
      handles: ["Check"],
      correlate: (event) => event.data.id,
      states: ["open", "passed"],
      initial: "open",
      final: ["passed"],
      data: {},
      transitions: {
        open: {
          Start: { to: "open" },
          // Resolves to false: a promise is truthy, so the transition used to be taken.
          Check: { to: "passed", guard: (async () => false) as unknown as () => boolean },
        },
      },
    });
    const store = new InMemorySagaStore();
    const runtime = new SagaRuntime({ store, commands: recordingBus().bus, sagas: [pm], onError: () => {} });
    await runtime.handle(testEnvelope("Start", "P-1", { id: "g" }));
    const [checked] = await runtime.handle(testEnvelope("Check", "P-1", { id: "g" }));
    expect(checked).toMatchObject({ outcome: "failed", retryable: false, error: { code: ErrorCode.Validation } });
    expect((checked?.error as Error | undefined)?.message).toContain("a guard returned a promise");
    expect(await store.load("AsyncGuard", "g")).toMatchObject({
      version: 1,
      status: "running",
      state: { state: "open" },
    });
  });
});
