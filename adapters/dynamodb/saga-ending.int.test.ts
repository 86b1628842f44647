/**
 * An instance must stay able to end on DynamoDB: its compensation writes every registered compensation
 * in one transaction, its end deletes every pending timeout in one, and a transaction holds 100 items.
 * A step that would leave more than that is refused when it is taken, not when the instance ends.
 */
import { describe, expect, test } from "bun:test";
import { CommandBus, defineSaga, type EventEnvelope, SagaRuntime, ulid } from "../../src/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { DynamoDbSagaStore } from "./index.js";

const table = useDynamoTable("h54sagady_ending", ({ endpoint, tableName }) =>
  new DynamoDbSagaStore({ ...endpoint, tableName }).ensureTable(),
);

type Data = { k: string; n: number };
type Ev = { type: "Register"; data: Data } | { type: "Schedule"; data: Data } | { type: "End"; data: Data };
const TIMERS = Array.from({ length: 100 }, (_, i) => `t${i}`);

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
      End: (state, _event, ctx) => {
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

function setup() {
  const saga = `Ending-${ulid()}`;
  const undone: string[] = [];
  const commands = new CommandBus();
  commands.register("Undo", (_payload: unknown, message: { id: string }) => void undone.push(message.id));
  const store = new DynamoDbSagaStore(table.options);
  const runtime = new SagaRuntime({ store, commands, sagas: [ending(saga)], onError: () => {} });
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
  return { saga, store, runtime, handle, undone };
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
});
