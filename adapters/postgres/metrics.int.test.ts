import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import { configureMetrics, MetricName } from "../../src/index.js";
import { postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import { PostgresEventStore, type PostgresSql } from "./index.js";

/** An SDK reader collected by hand. */
class Reader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

let sql: PostgresSql;
const schema = uniqueSchema("metrics");
beforeAll(async () => {
  sql = await postgresTestClient({ max: 2 });
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  configureMetrics({ meterProvider: undefined });
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

async function appendedByType(reader: Reader): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const scope of (await reader.collect()).resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== MetricName.eventsAppended) continue;
      for (const point of metric.dataPoints)
        out[String(point.attributes["eventflows.event.type"])] = point.value as number;
    }
  }
  return out;
}

describe("PostgreSQL appends in the metrics", () => {
  test("appends and transactions count each committed event once; a rolled-back transaction counts none", async () => {
    const reader = new Reader();
    configureMetrics({ enabled: true, meterProvider: new MeterProvider({ readers: [reader] }) });
    const store = new PostgresEventStore({ sql, schema });
    await store.appendToStream("Cart-1", [{ type: "Plain", data: {} }]);
    await store.withTransaction(async (tx) => {
      await tx.appendToStream("Cart-2", [{ type: "InTx", data: {} }]);
      await tx.appendToStream("Cart-3", [
        { type: "InTx", data: {} },
        { type: "InTx", data: {} },
      ]);
    });
    await expect(
      store.withTransaction(async (tx) => {
        await tx.appendToStream("Cart-4", [{ type: "RolledBack", data: {} }]);
        throw new Error("abandon");
      }),
    ).rejects.toThrow("abandon");
    expect(await appendedByType(reader)).toEqual({ Plain: 1, InTx: 3 });
    expect(await store.streamExists("Cart-4")).toBe(false);
  });
});
