/**
 * A by-hand figure, not a mitata benchmark: how long PostgresReadModelStore.swap takes to swap a shadow
 * generation of N documents in (replacing N live ones), and what a reader waits meanwhile.
 *   bun bench/read-model-swap.ts [documents, default 10000,100000]
 */
import { PostgresEventStore, PostgresReadModelStore, type PostgresSql } from "../adapters/postgres/index.ts";
import { postgresTestClient, uniqueSchema } from "../test/services/postgres.ts";

const sizes = (process.argv[2] ?? "10000,100000").split(",").map(Number);
const sql: PostgresSql = await postgresTestClient({ max: 4 });
const schema = uniqueSchema("swapbench");
await new PostgresEventStore({ sql, schema }).migrate();
const readModels = new PostgresReadModelStore({ sql, schema });
try {
  for (const size of sizes) {
    const live = `live-${size}`;
    const shadow = `shadow-${size}`;
    for (let start = 0; start < size; start += 5000) {
      await readModels.transaction(async (tx) => {
        for (let i = start; i < Math.min(size, start + 5000); i++) {
          await tx.put(live, `doc-${i}`, { generation: 1, i });
          await tx.put(shadow, `doc-${i}`, { generation: 2, i });
        }
      });
    }
    const started = performance.now();
    let readerMs = 0;
    const swap = readModels.swap({ collections: [{ from: shadow, to: live }], documents: [], checkpoints: [] });
    const reader = (async () => {
      const at = performance.now();
      await readModels.get(live, "doc-0");
      readerMs = performance.now() - at;
    })();
    await Promise.all([swap, reader]);
    const swapMs = performance.now() - started;
    const after = await readModels.get<{ generation: number }>(live, `doc-${size - 1}`);
    console.log(
      `${size} documents: swap ${swapMs.toFixed(0)} ms; a concurrent get answered in ${readerMs.toFixed(0)} ms; generation after ${after?.generation}`,
    );
  }
} finally {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
}
