import { afterEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { AggregateRoot, type EventOfType } from "../aggregate/aggregate-root.js";
import { AggregateRepository } from "../aggregate/repository.js";
import { ConcurrencyError, ValidationError } from "../errors.js";
import { InMemoryEventBus } from "../event-bus/in-memory-event-bus.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { defineStream } from "../events/stream.js";
import { CommandBus } from "../messaging/command-bus.js";
import { QueryBus } from "../messaging/query-bus.js";
import { InMemoryReadModelStore } from "../projections/in-memory-read-model-store.js";
import { projection } from "../projections/projection.js";
import { ProjectionRunner } from "../projections/projection-runner.js";
import { defineSaga } from "../sagas/define-saga.js";
import { InMemorySagaStore } from "../sagas/in-memory-saga-store.js";
import { SagaRuntime } from "../sagas/saga-runtime.js";
import { InMemorySnapshotStore } from "../snapshot/in-memory-snapshot-store.js";
import { everyNEvents } from "../snapshot/policies.js";
import {
  configureMetrics,
  countConsumed,
  countError,
  dispatchTimer,
  MAX_LABEL_VALUES,
  MetricName,
  type MetricOperation,
  OTHER_LABEL,
  resetMetrics,
} from "./metrics.js";
import { collectingMetrics, named, type Point } from "./metrics-reader.fixture.test.js";

afterEach(() => resetMetrics());

type CounterEvent = { type: "Added"; data: { n: number } };
class Counter extends AggregateRoot<{ total: number }, CounterEvent> {
  constructor(id: string) {
    super(id, { total: 0 });
  }
  add(n: number) {
    this.raise("Added", { n });
  }
  protected onAdded(e: EventOfType<CounterEvent, "Added">) {
    this.state.total += e.data.n;
  }
}
const Counters = defineStream("Counter");

/** A saga keyed by stream id that writes the event's data into its state: neither may reach a label. */
const secretSaga = defineSaga<{ type: "Happened"; data: { secret: string } }, { seen: string }>({
  name: "Watcher",
  startedBy: ["Happened"],
  correlate: (event) => event.streamId,
  initialState: { seen: "" },
  on: {
    Happened: (_state, event, ctx) => {
      ctx.dispatch("Unregistered", { secret: event.data.secret });
      return { seen: event.data.secret };
    },
  },
});

const labelValues = (all: readonly Point[]) => all.flatMap((point) => Object.values(point.attributes).map(String));

describe("metrics through the OpenTelemetry API", () => {
  test("command and query latency by type and outcome; failures by code; unknown types only as errors", async () => {
    const { collect } = collectingMetrics();
    const commands = new CommandBus();
    commands.register("Open", async () => "ok");
    commands.register("Close", async () => {
      throw new ConcurrencyError("Cart-1", 1, 2);
    });
    const queries = new QueryBus();
    queries.register("Find", () => 42);
    await commands.execute("Open", {});
    await commands.execute("Open", {});
    await expect(commands.execute("Close", {})).rejects.toThrow();
    await expect(commands.execute("Nope-from-a-url", {})).rejects.toThrow();
    expect(await queries.execute("Find", {})).toBe(42);

    const all = await collect();
    const durations = named(all, MetricName.commandDuration);
    expect(durations).toContainEqual(
      expect.objectContaining({
        attributes: { "eventflows.message.type": "Open", "eventflows.outcome": "ok" },
        value: 2,
      }),
    );
    expect(durations).toContainEqual(
      expect.objectContaining({
        attributes: {
          "eventflows.message.type": "Close",
          "eventflows.outcome": "error",
          "error.type": "CONCURRENCY_CONFLICT",
        },
        value: 1,
      }),
    );
    expect(labelValues(all)).not.toContain("Nope-from-a-url");
    for (const point of durations) expect(point.sum).toBeGreaterThanOrEqual(0);
    expect(named(all, MetricName.queryDuration)).toEqual([
      expect.objectContaining({
        attributes: { "eventflows.message.type": "Find", "eventflows.outcome": "ok" },
        value: 1,
      }),
    ]);
    const errors = named(all, MetricName.errors);
    expect(errors).toContainEqual(
      expect.objectContaining({
        attributes: { "error.type": "CONCURRENCY_CONFLICT", "eventflows.operation": "command" },
        value: 1,
      }),
    );
    expect(errors).toContainEqual(
      expect.objectContaining({
        attributes: { "error.type": "HANDLER_NOT_FOUND", "eventflows.operation": "command" },
        value: 1,
      }),
    );
  });

  test("a registered type's refused execute options are one error and one timed failure, not two errors", async () => {
    const { collect } = collectingMetrics();
    for (const bus of [new CommandBus(), new QueryBus()]) {
      bus.register("Open", async () => "ok");
      // An id that is not a string: the bus refuses the options before the handler runs.
      await expect(bus.execute("Open", {}, { id: 5 } as unknown as { id: string })).rejects.toThrow(ValidationError);
    }
    const all = await collect();
    for (const kind of ["command", "query"]) {
      expect(named(all, MetricName.errors)).toContainEqual(
        expect.objectContaining({
          attributes: { "error.type": "VALIDATION_FAILED", "eventflows.operation": kind },
          value: 1,
        }),
      );
    }
    const failed = {
      "eventflows.message.type": "Open",
      "eventflows.outcome": "error",
      "error.type": "VALIDATION_FAILED",
    };
    expect(named(all, MetricName.commandDuration)).toEqual([expect.objectContaining({ attributes: failed, value: 1 })]);
    expect(named(all, MetricName.queryDuration)).toEqual([expect.objectContaining({ attributes: failed, value: 1 })]);
  });

  test("events appended, published and consumed by type; conflicts and handler failures counted by code", async () => {
    const { collect } = collectingMetrics();
    const bus = new InMemoryEventBus({ onError: () => undefined });
    bus.subscribeToType("Added", () => undefined);
    bus.subscribeToType("Removed", () => {
      throw new ValidationError("bad");
    });
    const store = new InMemoryEventStore({ bus });
    await store.appendToStream("Counter-1", [
      { type: "Added", data: {} },
      { type: "Added", data: {} },
      { type: "Removed", data: {} },
    ]);
    await expect(
      store.appendToStream("Counter-1", [{ type: "Added", data: {} }], { expectedVersion: 1 }),
    ).rejects.toThrow();

    const all = await collect();
    const appended = named(all, MetricName.eventsAppended);
    expect(appended).toContainEqual(
      expect.objectContaining({ attributes: { "eventflows.event.type": "Added" }, value: 2 }),
    );
    expect(appended).toContainEqual(
      expect.objectContaining({ attributes: { "eventflows.event.type": "Removed" }, value: 1 }),
    );
    expect(named(all, MetricName.eventsPublished)).toContainEqual(
      expect.objectContaining({
        attributes: { "eventflows.event.type": "Added", "eventflows.outcome": "ok" },
        value: 2,
      }),
    );
    const consumed = named(all, MetricName.eventsConsumed);
    expect(consumed).toContainEqual(
      expect.objectContaining({
        attributes: { "eventflows.event.type": "Added", "eventflows.consumer": "bus", "eventflows.outcome": "ok" },
        value: 2,
      }),
    );
    expect(consumed).toContainEqual(
      expect.objectContaining({
        attributes: { "eventflows.event.type": "Removed", "eventflows.consumer": "bus", "eventflows.outcome": "error" },
        value: 1,
      }),
    );
    const errors = named(all, MetricName.errors);
    expect(errors).toContainEqual(
      expect.objectContaining({
        attributes: { "error.type": "CONCURRENCY_CONFLICT", "eventflows.operation": "append" },
        value: 1,
      }),
    );
    expect(errors).toContainEqual(
      expect.objectContaining({
        attributes: { "error.type": "VALIDATION_FAILED", "eventflows.operation": "consume" },
        value: 1,
      }),
    );
  });

  test("rehydration time and events replayed per load, after the snapshot when there is one", async () => {
    const store = new InMemoryEventStore();
    const plain = new AggregateRepository({ store, stream: Counters, create: (id) => new Counter(id) });
    const snapshots = new InMemorySnapshotStore();
    const snapshotted = new AggregateRepository({
      store,
      stream: Counters,
      create: (id) => new Counter(id),
      snapshots: { store: snapshots, policy: everyNEvents(5) },
    });
    const counter = new Counter("c1");
    for (let i = 0; i < 7; i++) counter.add(i);
    await snapshotted.save(counter);
    await snapshotted.flushSnapshots();
    const { collect } = collectingMetrics();
    await plain.load("c1");
    await snapshotted.load("c1");

    const replayed = named(await collect(), MetricName.eventsReplayed);
    expect(replayed).toEqual([
      expect.objectContaining({ attributes: { "eventflows.aggregate.type": "Counter" }, value: 2, sum: 7 + 0 }),
    ]);
    const durations = named(await collect(), MetricName.rehydrationDuration);
    expect(durations).toEqual([
      expect.objectContaining({ attributes: { "eventflows.aggregate.type": "Counter" }, value: 2 }),
    ]);
  });

  test("durations are bucketed in seconds from half a millisecond to 10 s, not the SDK's default (0, 5, 10… 10000)", async () => {
    // The SDK's default boundaries are made for milliseconds: in seconds, every command under 5 s fell in
    // the first bucket, and Prometheus' histogram_quantile gave 2.5 s as the median of sub-millisecond commands.
    const { boundaries } = collectingMetrics();
    const commands = new CommandBus();
    commands.register("Open", () => "ok");
    const queries = new QueryBus();
    queries.register("Find", () => 42);
    const repository = new AggregateRepository({
      store: new InMemoryEventStore(),
      stream: Counters,
      create: (id) => new Counter(id),
    });
    await commands.execute("Open", {});
    await queries.execute("Find", {});
    await repository.find("c1");

    const seconds = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
    const all = await boundaries();
    expect(all[MetricName.commandDuration]).toEqual(seconds);
    expect(all[MetricName.queryDuration]).toEqual(seconds);
    expect(all[MetricName.rehydrationDuration]).toEqual(seconds);
  });

  test("store subscriptions count what they handle and report their lag, 0 once caught up", async () => {
    const { collect } = collectingMetrics();
    const store = new InMemoryEventStore();
    await store.appendToStream("Counter-1", [{ type: "Added", data: {} }]);
    const handled: string[] = [];
    const subscription = store.subscribeToAll({ name: "projector", handler: (event) => void handled.push(event.id) });
    for (let i = 0; handled.length < 1 && i < 100; i++) await Bun.sleep(5);
    await subscription.stop();
    const all = await collect();
    expect(named(all, MetricName.eventsConsumed)).toContainEqual(
      expect.objectContaining({
        attributes: {
          "eventflows.event.type": "Added",
          "eventflows.consumer": "subscription",
          "eventflows.outcome": "ok",
        },
        value: 1,
      }),
    );
    expect(named(all, MetricName.subscriptionLag)).toEqual([
      expect.objectContaining({ attributes: { "eventflows.subscription": "projector" }, value: 0 }),
    ]);
  });

  test("a subscription behind its feed reports the age of the last event it handled", async () => {
    const { collect } = collectingMetrics();
    const store = new InMemoryEventStore();
    await store.appendToStream("Counter-1", [
      { type: "Added", data: {} },
      { type: "Added", data: {} },
    ]);
    await Bun.sleep(30);
    // One event per batch, stopped by the first handler: that batch was full, so it is not caught up.
    let subscription: { stop(): Promise<void> } | undefined;
    let handled = 0;
    subscription = store.subscribeToAll({
      name: "behind",
      batchSize: 1,
      handler: () => {
        handled++;
        void subscription?.stop();
      },
    });
    for (let i = 0; handled === 0 && i < 200; i++) await Bun.sleep(5);
    await subscription.stop();
    expect(handled).toBe(1);
    const [lag] = named(await collect(), MetricName.subscriptionLag);
    expect(lag?.attributes).toEqual({ "eventflows.subscription": "behind" });
    expect(lag?.value).toBeGreaterThanOrEqual(0.02);
  });

  test("a subscription name must be a non-empty string", () => {
    const store = new InMemoryEventStore();
    expect(() => store.subscribeToAll({ name: "", handler: () => undefined })).toThrow(ValidationError);
    expect(() => store.subscribeToAll({ name: 7 as never, handler: () => undefined })).toThrow(ValidationError);
  });

  test("countConsumed called wrongly (from JavaScript) is a ValidationError, with metrics on or off", async () => {
    const event = { type: "Placed", metadata: {} } as unknown as EventEnvelope;
    const wrongCalls: [unknown, unknown][] = [
      ["x", null],
      ["x", undefined],
      ["x", { type: 7 }],
      [null, event],
      [7, event],
    ];
    const check = () => {
      for (const [consumer, given] of wrongCalls) {
        expect(() => countConsumed(consumer as never, given as never), String(consumer)).toThrow(ValidationError);
      }
      expect(() => countConsumed("custom", event)).not.toThrow();
    };
    check(); // no provider: before, nothing was checked and nothing thrown
    const { collect } = collectingMetrics();
    check(); // with one: before, a TypeError
    expect(named(await collect(), MetricName.eventsConsumed)).toHaveLength(1);
  });

  test("labels never carry stream ids, event ids or data, whatever the input (property)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.stringMatching(/^[A-Za-z]{1,8}$/), fc.string({ minLength: 1, maxLength: 20 })), {
          minLength: 1,
          maxLength: 10,
        }),
        async (appends) => {
          resetMetrics();
          const { collect } = collectingMetrics();
          const bus = new InMemoryEventBus();
          bus.subscribeToAll(() => undefined);
          const store = new InMemoryEventStore({ bus });
          const secret = `secret-${crypto.randomUUID()}`;
          const ids: string[] = [];
          for (const [category, suffix] of appends) {
            const streamId = `${category}-${suffix.replace(/\s/g, "_")}x`;
            const result = await store.appendToStream(streamId, [{ type: "Happened", data: { secret } }]);
            ids.push(streamId, ...result.events.map((event) => event.id));
          }
          // A projection over those events and a saga keyed by their stream ids: names and outcomes only.
          await new ProjectionRunner({
            projection: projection({ name: "audit", handle: () => undefined }),
            eventStore: store,
            readModels: new InMemoryReadModelStore(),
          }).catchUp();
          const runtime = new SagaRuntime({
            store: new InMemorySagaStore(),
            commands: new CommandBus(),
            sagas: [secretSaga],
            maxAttempts: 1,
            retryDelayMs: 0,
            onError: () => undefined,
          });
          for await (const event of store.readAll()) await runtime.handle(event);
          const all = await collect();
          expect(named(all, MetricName.sagaSteps).length).toBeGreaterThan(0);
          expect(named(all, MetricName.projectionLag).length).toBe(1);
          const values = labelValues(all);
          for (const id of ids) expect(values).not.toContain(id);
          expect(values.join(" ")).not.toContain(secret);
        },
      ),
      { numRuns: 25 },
    );
  });

  test(`a label keeps ${MAX_LABEL_VALUES} values; the rest count as ${OTHER_LABEL}`, async () => {
    const { collect } = collectingMetrics();
    const store = new InMemoryEventStore();
    for (let i = 0; i < MAX_LABEL_VALUES + 50; i++) {
      await store.appendToStream(`S-${i}`, [{ type: `Type${i}`, data: {} }]);
    }
    const appended = named(await collect(), MetricName.eventsAppended);
    expect(appended).toHaveLength(MAX_LABEL_VALUES + 1);
    expect(appended).toContainEqual(
      expect.objectContaining({ attributes: { "eventflows.event.type": OTHER_LABEL }, value: 50 }),
    );
  });

  test("countError's operation, named by an adapter's code, is bounded like every label", async () => {
    const { collect } = collectingMetrics();
    // A JavaScript caller (or a cast) may name the operation from a request: it must not grow a series per value.
    for (let i = 0; i < MAX_LABEL_VALUES + 50; i++) countError(`queue-${i}` as MetricOperation, new Error("x"));
    const errors = named(await collect(), MetricName.errors);
    expect(errors).toHaveLength(MAX_LABEL_VALUES + 1);
    expect(errors).toContainEqual(
      expect.objectContaining({
        attributes: { "error.type": OTHER_LABEL, "eventflows.operation": OTHER_LABEL },
        value: 50,
      }),
    );
  });

  test("without a provider, or turned off, nothing is timed and nothing recorded", async () => {
    // No global provider is registered in this process: the API hands out its no-op meter.
    expect(dispatchTimer("command")).toBeUndefined();
    const { collect } = collectingMetrics();
    expect(dispatchTimer("command")).toBeDefined();
    configureMetrics({ enabled: false });
    expect(dispatchTimer("command")).toBeUndefined();
    const commands = new CommandBus();
    commands.register("Open", () => 1);
    await commands.execute("Open", {});
    await new InMemoryEventStore().appendToStream("S-1", [{ type: "A", data: {} }]);
    expect(await collect()).toEqual([]);
  });

  test("settings that are not what they say are a ValidationError, and nothing is changed", async () => {
    const configure = configureMetrics as (settings: unknown) => void;
    const refused = (settings: unknown) => {
      try {
        configure(settings);
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((issue) => issue.path.join("."));
      }
      throw new Error(`accepted ${String(settings)}`);
    };
    expect(refused(undefined)).toEqual([""]);
    expect(refused(null)).toEqual([""]);
    expect(refused({ enabled: "false" })).toEqual(["enabled"]);
    expect(refused({ tenantLabel: 1 })).toEqual(["tenantLabel"]);
    expect(refused({ meterProvider: {} })).toEqual(["meterProvider"]);
    expect(refused({ meterProvider: null })).toEqual(["meterProvider"]);
    // A misspelt key, as configureTelemetry refuses one: taken silently, `enabeld: false` left metrics on.
    expect(refused({ enabeld: false })).toEqual(["enabeld"]);
    // Each issue after its path, as the library words them: not "enabled: enabled must be a boolean".
    expect(() => configure({ enabled: "false", meterProvider: {} })).toThrow(
      "Invalid metrics settings: enabled: must be a boolean; meterProvider: must be a MeterProvider (with getMeter)",
    );
    expect(() => countConsumed(1 as never, {} as never)).toThrow(
      "Invalid consumed event: consumer: must be a string; event: must be an event envelope",
    );
    // The refused provider was not taken: an append still commits and returns (it threw a TypeError once committed).
    const store = new InMemoryEventStore();
    const result = await store.appendToStream("S-1", [{ type: "A", data: {} }]);
    expect(result.nextExpectedVersion).toBe(1);
    configureMetrics({ meterProvider: undefined });
  });

  test("a meter that throws (on getMeter, on making an instrument, on add or record) fails nothing it measures", async () => {
    const broken = () => {
      throw new Error("meter broke");
    };
    const throwingInstruments = {
      createCounter: () => ({ add: broken }),
      createUpDownCounter: () => ({ add: broken }),
      createHistogram: () => ({ record: broken }),
      createGauge: () => ({ record: broken }),
    };
    const makers = { createCounter: broken, createUpDownCounter: broken, createHistogram: broken, createGauge: broken };
    for (const provider of [
      { getMeter: broken },
      { getMeter: () => makers },
      { getMeter: () => throwingInstruments },
    ]) {
      configureMetrics({ meterProvider: provider as never });
      const store = new InMemoryEventStore();
      const commands = new CommandBus<{ Open: { payload: { id: string }; result: number } }>();
      commands.register("Open", async ({ id }) => {
        const { nextExpectedVersion } = await store.appendToStream(`S-${id}`, [{ type: "A", data: {} }]);
        return nextExpectedVersion;
      });
      // Before: the meter's error came out of the command, after the append had committed.
      expect(await commands.execute("Open", { id: "1" })).toBe(1);
      await expect(commands.execute("Nope" as "Open", { id: "1" })).rejects.toMatchObject({
        code: "HANDLER_NOT_FOUND",
      });
      const sagas = new InMemorySagaStore();
      const runtime = new SagaRuntime({
        store: sagas,
        commands: new CommandBus(),
        sagas: [secretSaga],
        maxAttempts: 1,
        retryDelayMs: 0,
        onError: () => undefined,
      });
      const [appended] = await collectAll(store);
      await runtime.handle({ ...(appended as EventEnvelope), type: "Happened", data: { secret: "s" } } as never);
      expect((await sagas.load("Watcher", appended?.streamId as string))?.version).toBeGreaterThan(0);
      expect(await store.getStreamVersion("S-1")).toBe(1);
    }
    configureMetrics({ meterProvider: undefined });
  });
});

async function collectAll(store: InMemoryEventStore) {
  const events = [];
  for await (const event of store.readAll()) events.push(event);
  return events;
}
