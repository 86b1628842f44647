import { describe, expect, test } from "bun:test";
import { CommandBus, defineSaga, InMemorySagaStore, SagaRuntime, ValidationError } from "../../src/index.js";
import scheduled from "./fixtures/scheduled-event.json";
import { createSagaTimerHandler } from "./index.js";

type Opened = { type: "PaymentOpened"; data: { id: string } };

function setup() {
  let now = Date.parse("2026-12-03T10:00:00Z");
  const expired: string[] = [];
  const payment = defineSaga<Opened, object>({
    name: "Payment",
    startedBy: ["PaymentOpened"],
    correlate: (event) => event.data.id,
    initialState: {},
    on: {
      PaymentOpened: (state, _event, ctx) => {
        ctx.schedule({ after: 60_000, name: "expiry" });
        return state;
      },
    },
    onTimeout: {
      expiry: (state, _fired, ctx) => {
        expired.push(ctx.key);
        ctx.complete();
        return state;
      },
    },
  });
  const runtime = new SagaRuntime({
    store: new InMemorySagaStore(),
    commands: new CommandBus(),
    sagas: [payment],
    now: () => now,
  });
  const open = (id: string) =>
    runtime.handle({
      id: `e-${id}`,
      type: "PaymentOpened",
      streamId: `Payment-${id}`,
      version: 1,
      timestamp: new Date(now).toISOString(),
      data: { id },
      metadata: {},
    });
  return { runtime, expired, open, advance: (ms: number) => (now += ms) };
}

describe("createSagaTimerHandler", () => {
  test("each scheduled invocation (AWS's documented event) fires the due timeouts once, reporting lateness", async () => {
    const { runtime, expired, open, advance } = setup();
    await open("p1");
    await open("p2");
    const handler = createSagaTimerHandler(runtime);
    expect(await handler(scheduled)).toEqual({ fired: 0, maxLatenessMs: 0 });
    advance(61_500);
    expect(await handler(scheduled)).toEqual({ fired: 2, maxLatenessMs: 1_500 });
    expect(await handler(scheduled)).toEqual({ fired: 0, maxLatenessMs: 0 });
    expect(expired.sort()).toEqual(["p1", "p2"]);
  });

  test("takes a factory (a runtime built on the first invocation), and a failing tick throws for the scheduler to retry", async () => {
    const { runtime } = setup();
    let made = 0;
    const handler = createSagaTimerHandler(() => {
      made++;
      return runtime;
    });
    await handler({});
    await handler({});
    expect(made).toBe(1);
    let attempts = 0;
    const failing = createSagaTimerHandler(async () => {
      attempts++;
      throw new Error("no store");
    });
    await expect(failing({})).rejects.toThrow("no store");
    await expect(failing({})).rejects.toThrow("no store");
    expect(attempts).toBe(2); // a factory that failed is tried again on the next invocation
  });

  test("a factory that returns no runtime fails each invocation with a ValidationError, and is tried again", async () => {
    let calls = 0;
    const handler = createSagaTimerHandler((() => {
      calls++;
      return calls === 1 ? undefined : { tick: "no" };
    }) as never);
    await expect(handler({})).rejects.toBeInstanceOf(ValidationError);
    await expect(handler({})).rejects.toThrow("must return a SagaRuntime");
    expect(calls).toBe(2);
  });

  test("an onTick that throws or rejects is logged: the invocation still answers what fired", async () => {
    // Before, its throw failed the invocation after the timeouts had fired, and the schedule retried it.
    const runtime = { tick: async () => ({ fired: [{ latenessMs: 7 }] }) } as unknown as SagaRuntime;
    const heard: string[] = [];
    for (const onTick of [
      () => {
        heard.push("sync");
        throw new Error("dashboard down");
      },
      async () => {
        heard.push("async");
        throw new Error("dashboard down");
      },
    ]) {
      expect(await createSagaTimerHandler(runtime, { onTick })()).toEqual({ fired: 1, maxLatenessMs: 7 });
    }
    expect(heard).toEqual(["sync", "async"]);
  });

  test("a missing runtime is a ValidationError", () => {
    expect(() => createSagaTimerHandler(undefined as never)).toThrow("Invalid saga timer handler");
  });

  test("an onTick that is not a function is refused when made; null options are no options", async () => {
    const runtime = { tick: async () => ({ fired: [] }) } as unknown as SagaRuntime;
    for (const onTick of [5, "log", null]) {
      expect(() => createSagaTimerHandler(runtime, { onTick } as never)).toThrow("onTick");
    }
    expect(await createSagaTimerHandler(runtime, null)()).toEqual({ fired: 0, maxLatenessMs: 0 });
    // Options that are no object (from JavaScript) are refused, naming them, not taken as none.
    for (const options of ["log", 5, [() => undefined]]) {
      expect(() => createSagaTimerHandler(runtime, options as never)).toThrow(
        "Invalid saga timer handler: options: must be an object",
      );
    }
  });

  test("a misspelt onTick is refused by name, not dropped unobserved", () => {
    const runtime = { tick: async () => ({ fired: [] }) } as unknown as SagaRuntime;
    let caught: unknown;
    try {
      createSagaTimerHandler(runtime, { ontick: () => undefined } as never);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ValidationError);
    expect((caught as ValidationError).issues).toEqual([
      { path: ["ontick"], message: "is not an option (the options are onTick)" },
    ]);
  });
});
