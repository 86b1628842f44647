import { describe, expect, test } from "bun:test";
import { CommandBus, defineSaga, type EventEnvelope, SagaRuntime, ulid } from "../../src/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { DynamoDbSagaStore } from "./index.js";

/*
 * Two deployments share one saga table, each with a runtime over its own sagas: a tick claims only
 * its own runtime's timeouts, so one deployment's scheduler neither holds the other's timeouts under
 * its lease nor spends its tick limit on them.
 */

const table = useDynamoTable("saga_deployments", ({ endpoint, tableName }) =>
  new DynamoDbSagaStore({ ...endpoint, tableName }).ensureTable(),
);

type Go = { type: "Go"; data: { key: string; after: number } };
const counting = (name: string) =>
  defineSaga<Go, { fired: number }>({
    name,
    startedBy: ["Go"],
    correlate: (event) => event.data.key,
    initialState: { fired: 0 },
    on: {
      Go: (state, event, ctx) => {
        ctx.schedule({ after: event.data.after, name: "t" });
        return state;
      },
    },
    onTimeout: { t: (state) => ({ fired: state.fired + 1 }) },
  });

const go = (key: string, after: number): EventEnvelope => ({
  id: ulid(),
  type: "Go",
  streamId: `Go-${key}`,
  version: 1,
  timestamp: new Date(0).toISOString(),
  data: { key, after },
  metadata: {},
});

describe("DynamoDbSagaStore shared by two deployments", () => {
  test("a runtime's tick leaves another deployment's due timeouts to it, and fires its own past them", async () => {
    const run = ulid();
    const [x, y] = [counting(`X-${run}`), counting(`Y-${run}`)];
    let now = 1_000_000;
    const runtime = (sagas: ReturnType<typeof counting>[]) =>
      new SagaRuntime({
        store: new DynamoDbSagaStore(table.options),
        commands: new CommandBus(),
        sagas,
        now: () => now,
        tickLimit: 1,
        onError: () => {},
      });
    const [a, b] = [runtime([x]), runtime([y])];
    await b.handle(go("y1", 10)); // due first
    await a.handle(go("x1", 20));
    now += 100;

    const firstTick = await a.tick();
    expect(firstTick.fired.map((f) => [f.saga, f.outcome])).toEqual([[x.name, "applied"]]);
    const secondTick = await b.tick();
    expect(secondTick.fired.map((f) => [f.saga, f.outcome])).toEqual([[y.name, "applied"]]);
    const store = new DynamoDbSagaStore(table.options);
    expect((await store.load(y.name, "y1"))?.state).toEqual({ fired: 1 });
    expect((await store.load(x.name, "x1"))?.state).toEqual({ fired: 1 });
  });
});
