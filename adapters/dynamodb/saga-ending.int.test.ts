/**
 * An instance must stay able to end on DynamoDB: its compensation writes every registered compensation
 * in one transaction, its end deletes every pending timeout in one, and a transaction holds 100 items.
 * A step that would leave more than that is refused when it is taken, not when the instance ends; the
 * ending step's own commands push the timeouts that no longer fit to right after its transaction.
 */
import { describe, expect, test } from "bun:test";
import { CommandBus, defineSaga, type EventEnvelope, SagaRuntime, sagaTimeoutId, ulid } from "../../src/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { DynamoDbSagaStore } from "./index.js";

const table = useDynamoTable("h54sagady_ending", ({ endpoint, tableName }) =>
  new DynamoDbSagaStore({ ...endpoint, tableName }).ensureTable(),
);

type Data = { k: string; n: number };
type Ev = { type: "Register"; data: Data } | { type: "Schedule"; data: Data } | { type: "End"; data: Data };
const TIMERS = Array.from({ length: 120 }, (_, i) => `t${i}`);

/** Registers `n` compensations or schedules the next `n` timeouts per event; a due "undo" compensates. */
function ending(name: string) {
  return defineSaga<Ev, { timers: number }>({
    name,
    startedBy: ["Register", "Schedule"],
    handles: ["End"],
    correlate: (event) => event.data.k,
    initialState: { timers: 0 },
    on: {
      Register: (state, { data }, ctx) => {
        for (let i = 0; i < data.n; i++) ctx.compensateWith("Undo", { i });
        ctx.schedule({ at: 0, name: "undo" });
        return state;
      },
      Schedule: (state, { data }, ctx) => {
        for (const name of TIMERS.slice(state.timers, state.timers + data.n)) ctx.schedule({ after: 60_000, name });
        return { timers: state.timers + data.n };
      },
      End: (state, { data }, ctx) => {
        for (let i = 0; i < data.n; i++) ctx.dispatch("Ship", { i });
        ctx.complete();
        return state;
      },
    },
    onTimeout: {
      ...Object.fromEntries(TIMERS.map((name) => [name, (state: { timers: number }) => state])),
      undo: (state, _fired, ctx) => {
        ctx.compensate();
        return state;
      },
    },
  });
}

/** Schedules the next `n` timeouts per event, as `ending` does; each of them, fired, is ignored (so dropped). */
function ignoring(name: string) {
  return defineSaga<Ev, { timers: number }>({
    name,
    startedBy: ["Schedule"],
    handles: ["End"],
    correlate: (event) => event.data.k,
    initialState: { timers: 0 },
    on: {
      Schedule: (state, { data }, ctx) => {
        for (const name of TIMERS.slice(state.timers, state.timers + data.n)) ctx.schedule({ after: 60_000, name });
        return { timers: state.timers + data.n };
      },
      End: (state, _event, ctx) => {
        ctx.complete();
        return state;
      },
    },
    onTimeout: Object.fromEntries(
      TIMERS.map((name) => [
        name,
        (state: { timers: number }, _fired: unknown, ctx: { ignore(reason?: string): void }) => {
          ctx.ignore("not any more");
          return state;
        },
      ]),
    ),
  });
}

function setup(define = ending) {
  const saga = `Ending-${ulid()}`;
  const undone: string[] = [];
  const shipped: string[] = [];
  const commands = new CommandBus();
  commands.register("Undo", (_payload: unknown, message: { id: string }) => void undone.push(message.id));
  commands.register("Ship", (_payload: unknown, message: { id: string }) => void shipped.push(message.id));
  const store = new DynamoDbSagaStore(table.options);
  const runtime = new SagaRuntime({ store, commands, sagas: [define(saga)], onError: () => {} });
  let n = 0;
  const handle = async (type: Ev["type"], count = 0) => {
    const event: EventEnvelope = {
      id: `e${n++}`,
      type,
      streamId: "s",
      version: 1,
      timestamp: new Date(0).toISOString(),
      data: { k: "k", n: count },
      metadata: {},
    };
    return (await runtime.handle(event))[0];
  };
  return { saga, store, runtime, handle, undone, shipped };
}

describe("DynamoDbSagaStore: an instance stays able to end", () => {
  test("97 compensations are sent by a compensation a timeout starts; a step registering a 98th is refused, nothing written", async () => {
    const { saga, store, runtime, handle, undone } = setup();
    expect((await handle("Register", 60))?.outcome).toBe("started");
    const refused = await handle("Register", 38);
    expect(refused?.outcome).toBe("failed");
    expect(refused?.error).toMatchObject({ code: "VALIDATION_FAILED" });
    expect((await store.load(saga, "k"))?.compensations.length).toBe(60);
    expect((await handle("Register", 37))?.outcome).toBe("applied");
    // The firing writes the instance, its handled id, the fired timeout's delete and the 97 compensations.
    const { fired } = await runtime.tick(1);
    expect(fired.map((f) => f.outcome)).toEqual(["completed"]);
    expect((await store.load(saga, "k"))?.status).toBe("compensated");
    expect(new Set(undone).size).toBe(97);
  });

  test("an instance with 98 pending timeouts completes; a step scheduling a 99th is refused, nothing written", async () => {
    const { saga, store, handle } = setup();
    expect((await handle("Schedule", 90))?.outcome).toBe("started");
    const refused = await handle("Schedule", 9);
    expect(refused?.outcome).toBe("failed");
    expect(refused?.error).toMatchObject({ code: "VALIDATION_FAILED" });
    expect((await store.load(saga, "k"))?.state).toEqual({ timers: 90 });
    expect((await handle("Schedule", 8))?.outcome).toBe("applied");
    expect((await handle("End"))?.outcome).toBe("completed");
    expect((await store.load(saga, "k"))?.status).toBe("completed");
    expect(await store.nextDueAt({ sagas: [saga] })).toBeUndefined();
  });

  test("an instance with 98 pending timeouts ends with a step that also sends commands (1, or the 98 that fit with the instance and the handled id): every timeout is deleted", async () => {
    for (const commands of [1, 98]) {
      const { saga, store, handle, shipped } = setup();
      await handle("Schedule", 90);
      expect((await handle("Schedule", 8))?.outcome).toBe("applied");
      // The step writes the instance, its handled id and its commands: the timeouts' deletes that do not fit follow it.
      expect((await handle("End", commands))?.outcome).toBe("completed");
      expect(shipped).toEqual(Array.from({ length: commands }, (_, i) => `${saga}/k/${i + 1}`));
      expect(await store.load(saga, "k")).toMatchObject({ status: "completed", outbox: [] });
      expect(await store.nextDueAt({ sagas: [saga] })).toBeUndefined();
      expect(await store.isTimeoutPending(saga, "k", sagaTimeoutId(saga, "k", "t0", 1))).toBe(false);
    }
    // 99 commands do not fit in one transaction with the instance and the handled id, as for any step.
    const { saga, store, handle } = setup();
    await handle("Schedule", 1);
    const refused = await handle("End", 99);
    expect(refused?.error).toMatchObject({ code: "VALIDATION_FAILED" });
    expect(await store.load(saga, "k")).toMatchObject({ status: "running", version: 1 });
  });

  test("timeouts whose firings were ignored are no longer pending and count no more: 60 dropped, 60 more may be scheduled", async () => {
    const { saga, store, runtime, handle } = setup(ignoring);
    expect((await handle("Schedule", 60))?.outcome).toBe("started");
    const { fired } = await runtime.tick(Date.now() + 120_000);
    expect(fired.filter((f) => f.saga === saga).map((f) => f.outcome)).toEqual(Array(60).fill("ignored"));
    expect(await store.isTimeoutPending(saga, "k", sagaTimeoutId(saga, "k", "t0", 1))).toBe(false);
    expect((await handle("Schedule", 60))?.outcome).toBe("applied");
    expect(await store.isTimeoutPending(saga, "k", sagaTimeoutId(saga, "k", "t60", 2))).toBe(true);
    // Ended: nothing of this case stays due in the shared table.
    expect((await handle("End"))?.outcome).toBe("completed");
  });
});
