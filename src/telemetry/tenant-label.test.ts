/**
 * The opt-in tenant label: with it on, a tenant's appends, publishes, consumed events and dispatches
 * carry `eventflows.tenant`, bounded like every label (100 values, then `_OTHER`); with it off, none
 * do; a stream or event id never becomes its value.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { InMemoryEventBus } from "../event-bus/in-memory-event-bus.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { CommandBus } from "../messaging/command-bus.js";
import { tenancy } from "../tenancy/tenancy.js";
import { TENANT_METADATA_KEY } from "../tenancy/tenant-event-store.js";
import { configureMetrics, MAX_LABEL_VALUES, MetricLabel, MetricName, OTHER_LABEL, resetMetrics } from "./metrics.js";
import { collectingMetrics, named, type Point } from "./metrics-reader.fixture.test.js";

afterEach(() => resetMetrics());

const TENANTS = 150;

/** 150 tenants, each with its own store and bus, appending one event to a stream of a unique id. */
async function appendPerTenant() {
  const consumed: string[] = [];
  const tenants = tenancy({
    stores: () => {
      const bus = new InMemoryEventBus();
      bus.subscribe({ all: true }, (event) => {
        consumed.push(event.id);
      });
      return { eventStore: new InMemoryEventStore({ bus }) };
    },
  });
  const streams: string[] = [];
  const ids: string[] = [];
  for (let n = 0; n < TENANTS; n++) {
    const { stores } = await tenants.forTenant(`tenant-${n}`);
    const streamId = `Order-${crypto.randomUUID()}`;
    const { events } = await stores.eventStore.appendToStream(streamId, [{ type: "OrderPlaced", data: { n } }]);
    streams.push(streamId);
    ids.push(...events.map((event) => event.id));
  }
  return { streams, ids, consumed };
}

const tenantValues = (points: readonly Point[]) =>
  new Set(points.map((point) => point.attributes[MetricLabel.tenant]).filter((value) => value !== undefined));

describe("the tenant metrics label", () => {
  test("reads the metadata field tenancy() stamps", () => {
    // metrics.ts repeats the key (it sits below the stores): this keeps the two the same.
    expect(TENANT_METADATA_KEY).toBe("tenantId");
  });

  test("off by default: no point carries it", async () => {
    const { collect } = collectingMetrics();
    await appendPerTenant();
    const all = await collect();
    expect(named(all, MetricName.eventsAppended).length).toBeGreaterThan(0);
    expect(tenantValues(all).size).toBe(0);
  });

  test("on: 150 tenants give at most 100 distinct values plus _OTHER, every event counted, no stream or event id", async () => {
    const { collect } = collectingMetrics();
    configureMetrics({ tenantLabel: true });
    const { streams, ids } = await appendPerTenant();
    const commands = new CommandBus<{ Ping: { payload: { n: number }; result: undefined } }>();
    commands.register("Ping", async () => undefined);
    for (let n = 0; n < TENANTS; n++) {
      await commands.execute("Ping", { n }, { metadata: { [TENANT_METADATA_KEY]: `tenant-${n}` } });
    }
    const all = await collect();
    for (const name of [MetricName.eventsAppended, MetricName.eventsPublished, MetricName.eventsConsumed]) {
      const points = named(all, name);
      const values = tenantValues(points);
      expect(values.size).toBe(MAX_LABEL_VALUES + 1);
      expect(values.has(OTHER_LABEL)).toBe(true);
      expect(points.reduce((sum, point) => sum + point.value, 0)).toBe(TENANTS);
      // The first 100 tenants keep their own series, with one event each; the other 50 share `_OTHER`.
      const other = points.find((point) => point.attributes[MetricLabel.tenant] === OTHER_LABEL);
      expect(other?.value).toBe(TENANTS - MAX_LABEL_VALUES);
    }
    const dispatches = named(all, MetricName.commandDuration);
    expect(tenantValues(dispatches).size).toBe(MAX_LABEL_VALUES + 1);
    expect(dispatches.reduce((sum, point) => sum + point.value, 0)).toBe(TENANTS);
    const labels = JSON.stringify(all.map((point) => point.attributes));
    for (const secret of [...streams, ...ids]) expect(labels).not.toContain(secret);
  });

  test("on: a batch of one tenant's events of one type is one add, split where the tenant changes", async () => {
    const { collect } = collectingMetrics();
    configureMetrics({ tenantLabel: true });
    const store = new InMemoryEventStore();
    await store.appendToStream("Mixed-1", [
      { type: "Noted", data: {}, metadata: { [TENANT_METADATA_KEY]: "acme" } },
      { type: "Noted", data: {}, metadata: { [TENANT_METADATA_KEY]: "acme" } },
      { type: "Noted", data: {}, metadata: { [TENANT_METADATA_KEY]: "globex" } },
      { type: "Noted", data: {} },
    ]);
    const points = named(await collect(), MetricName.eventsAppended);
    const byTenant = Object.fromEntries(
      points.map((point) => [String(point.attributes[MetricLabel.tenant]), point.value]),
    );
    expect(byTenant).toEqual({ acme: 2, globex: 1, undefined: 1 });
  });
});
