/**
 * PostgreSQL tenancy bench (issue 22, scope 1): what each isolation strategy costs against no
 * tenancy, on one PostgreSQL 15 server (fsync on): appends of 1 and of 10 events and `readStream`
 * of a 1,000-event stream. "schema per tenant": the store on a tenant's own schema (same tables,
 * same statements: any cost is the catalog's). "row-level security": one shared set of tables
 * with the tenant policies enforced (FORCE) and the store on `tenantScopedSql`, which runs each
 * statement in a transaction that first sets the tenant. "row-level security, pool per tenant":
 * the same tables, the store on a client of the tenant's own (`createPostgresClient(url, { tenant })`),
 * whose connections carry the tenant from their start, so each statement runs alone. Every variant
 * connects as one role that is neither superuser nor BYPASSRLS (a superuser would skip the policies
 * and flatter the figure). An interleaved cross-check times the variants in alternation.
 *
 * Run: `bun bench/tenancy.bench.ts`, or `bun run bench tenancy` to also refresh bench/RESULTS.md.
 * PostgreSQL comes from the test harness (or EVENTFLOWS_PG_URL); the schemas and role made here are dropped.
 */
import { bench, do_not_optimize, group, summary } from "mitata";
import {
  createPostgresClient,
  enableRowLevelSecurity,
  ensureTenantSchema,
  migrate,
  PostgresEventStore,
  tenantScopedSql,
} from "../adapters/postgres/index.js";
import type { EventStore, NewEvent } from "../src/index.js";
import { ensurePostgres } from "../test/services/postgres.ts";
import { type InterleavedResult, interleaved } from "./lib/interleave.js";
import { appendsOf, readAllOf } from "./lib/overhead-workloads.js";
import { overheadNote, runAndReport } from "./lib/report.js";

const READ_COUNT = 1000;
const TENANTS = 20;
const run = Date.now().toString(36);

const url = await ensurePostgres();
const admin = createPostgresClient(url, { max: 1 });
const role = `bench_tenancy_${run}`;
const [db] = await admin.unsafe("SELECT current_database() AS name");
await admin.unsafe(`CREATE ROLE ${role} LOGIN NOSUPERUSER NOBYPASSRLS`);
await admin.unsafe(`GRANT CREATE ON DATABASE "${db?.name}" TO ${role}`);
const roleUrl = new URL(url);
roleUrl.username = role;
const sql = createPostgresClient(roleUrl.toString(), { max: 4 });
// The measured tenant's own pool, as large as the shared one.
const tenantPool = createPostgresClient(roleUrl.toString(), { max: 4, tenant: "t0" });

const plainSchema = `bench_tenancy_none_${run}`;
const rlsSchema = `bench_tenancy_rls_${run}`;
const schemaPrefix = `bench_t${run}_`;
await migrate(sql, { schema: plainSchema });
await migrate(sql, { schema: rlsSchema });
await enableRowLevelSecurity(sql, { schema: rlsSchema });

/** ~150 bytes of JSON. */
const placed = (i: number): NewEvent => ({
  type: "ItemAdded",
  data: { orderId: `Order-${i % 97}`, sku: `SKU-${i % 31}`, quantity: 1 + (i % 5), price: 19.99 },
  metadata: { correlationId: `c-${i % 10}` },
});

// The measured tenant is one of TENANTS, each with rows of its own: the RLS tables and the schema
// catalog hold other tenants too, as in production.
const variants: Record<string, EventStore> = {
  none: new PostgresEventStore({ sql, schema: plainSchema }),
  "schema per tenant": new PostgresEventStore({ sql, schema: await ensureTenantSchema(sql, "t0", { schemaPrefix }) }),
  "row-level security": new PostgresEventStore({ sql: tenantScopedSql(sql, "t0"), schema: rlsSchema }),
  "row-level security, pool per tenant": new PostgresEventStore({ sql: tenantPool, schema: rlsSchema }),
};
for (let t = 1; t < TENANTS; t++) {
  const others = [
    new PostgresEventStore({ sql, schema: await ensureTenantSchema(sql, `t${t}`, { schemaPrefix }) }),
    new PostgresEventStore({ sql: tenantScopedSql(sql, `t${t}`), schema: rlsSchema }),
    new PostgresEventStore({ sql, schema: plainSchema }),
  ];
  for (const store of others) {
    await store.appendToStream(
      `Read-${t}`,
      Array.from({ length: 100 }, (_, i) => placed(i)),
    );
  }
}

// A stream per variant (named by its label, spaces as _): the two row-level-security variants are
// one tenant on the same tables.
const readStreamOf = (label: string) => `Read-${run}-${label.replaceAll(" ", "_")}`;
for (const [label, store] of Object.entries(variants)) {
  for (let i = 0; i < READ_COUNT; i += 100) {
    await store.appendToStream(
      readStreamOf(label),
      Array.from({ length: 100 }, (_, n) => placed(i + n)),
    );
  }
  if ((await readAllOf(store, readStreamOf(label))) !== READ_COUNT) throw new Error("read disagrees");
}

const appendOf = appendsOf(placed);

const eventsPerIteration: Record<string, number> = {};
const overheads: [string, string][] = [];
const crossChecks: InterleavedResult[] = [];
const notes: string[] = [];
const workloads = [
  ["append 1 event", 1, (store: EventStore, label: string) => appendOf(store, 1, `A1-${label}`)],
  ["append 10 events", 10, (store: EventStore, label: string) => appendOf(store, 10, `A10-${label}`)],
  [
    "readStream 1,000 events",
    READ_COUNT,
    (store: EventStore, label: string) => () => readAllOf(store, readStreamOf(label)),
  ],
] as const;

for (const [workload, events, make] of workloads) {
  const runs = Object.entries(variants).map(
    ([label, store]) => [`${workload}, ${label}`, make(store, label.replaceAll(" ", "_"))] as const,
  );
  for (const [name] of runs) eventsPerIteration[name] = events;
  const [baseline, ...others] = runs.map(([name]) => name);
  for (const other of others) overheads.push([other, baseline as string]);
  group(`tenancy: ${workload}`, () => {
    summary(() => {
      for (const [name, fn] of runs) bench(name, async () => do_not_optimize(await fn()));
    });
  });
  const isRead = events === READ_COUNT;
  const cross = await interleaved(
    runs.map(([name, fn]) => [name, fn as () => unknown]),
    { rounds: 15, batch: isRead ? 2 : 20 },
  );
  crossChecks.push(...cross);
  const [none, ...rest] = cross.map((c) => c.medianNs) as [number, ...number[]];
  for (const [i, other] of others.entries()) {
    const ns = rest[i] as number;
    notes.push(overheadNote(other, "no tenancy", none, ns));
  }
}

// The floor of row-level security on a shared pool: the three statements it adds (BEGIN, the
// setting, COMMIT, sent with the statement on a reserved connection) around a bare one-row INSERT
// into a table with the same policy, against that INSERT alone. What ours adds over no tenancy is
// compared with what the three statements add by hand, in microseconds: the same, and the
// overhead is the design's, not the code's.
const floorTable = (schema: string) => `${schema}.floor_rows`;
for (const schema of [plainSchema, rlsSchema]) {
  await sql.unsafe(
    `CREATE TABLE ${floorTable(schema)} (id bigserial PRIMARY KEY,
       tenant_id text NOT NULL DEFAULT coalesce(current_setting('eventflows.tenant', true), ''),
       stream_id text NOT NULL, data jsonb NOT NULL)`,
  );
}
await sql.unsafe(
  `ALTER TABLE ${floorTable(rlsSchema)} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
   CREATE POLICY floor_rows_tenant ON ${floorTable(rlsSchema)}
     USING (tenant_id = nullif(current_setting('eventflows.tenant', true), ''))
     WITH CHECK (tenant_id = nullif(current_setting('eventflows.tenant', true), ''))`,
);
const floorData = JSON.stringify(placed(0).data);
let floorRow = 0;
const insertInto = (schema: string) =>
  `INSERT INTO ${floorTable(schema)} (stream_id, data) VALUES ($1, $2::text::jsonb)`;
const bareInsert = () => sql.unsafe(insertInto(plainSchema), [`F-${floorRow++}`, floorData], { prepare: true });
async function bareInsertWithTenant(): Promise<void> {
  const reserved = await sql.reserve();
  try {
    await Promise.all([
      reserved.unsafe("BEGIN"),
      reserved.unsafe("SELECT set_config('eventflows.tenant', $1::text, true)", ["t0"], { prepare: true }),
      reserved.unsafe(insertInto(rlsSchema), [`F-${floorRow++}`, floorData], { prepare: true }),
      reserved.unsafe("COMMIT"),
    ]);
  } finally {
    reserved.release();
  }
}
await bareInsertWithTenant();
// Read as the tenant: the policy hides the row from a statement that names none.
const [floorCheck] = await tenantScopedSql(sql, "t0").unsafe(
  `SELECT count(*)::int AS n FROM ${floorTable(rlsSchema)} WHERE tenant_id = 't0'`,
);
if (floorCheck?.n !== 1) throw new Error("the floor's INSERT under row-level security wrote no row of the tenant");
const floorRuns = [
  ["append 1 event, none", appendOf(variants.none as EventStore, 1, "F1-none")],
  ["append 1 event, row-level security", appendOf(variants["row-level security"] as EventStore, 1, "F1-rls")],
  ["floor: a bare 1-row INSERT alone", bareInsert],
  ["floor: the same INSERT with BEGIN, the setting and COMMIT (row-level security)", bareInsertWithTenant],
] as const;
const floor = await interleaved(
  floorRuns.map(([name, fn]) => [name, fn as () => unknown]),
  { rounds: 30, batch: 20 },
);
crossChecks.push(...floor.map((r) => ({ ...r, name: `${r.name} (floor check)` })));
const [oursNone, oursRls, bareAlone, bareScoped] = floor.map((r) => r.medianNs) as [number, number, number, number];
notes.push(
  `Floor of row-level security on the shared pool, interleaved in one run: ours adds ${((oursRls - oursNone) / 1e3).toFixed(1)} µs ` +
    `to a 1-event append (${(((oursRls - oursNone) / oursNone) * 100).toFixed(1)}%); BEGIN, the setting and COMMIT sent the same way ` +
    `around a bare 1-row INSERT into a table with the same policy add ${((bareScoped - bareAlone) / 1e3).toFixed(1)} µs ` +
    `(${(bareAlone / 1e3).toFixed(1)} µs alone, ${(bareScoped / 1e3).toFixed(1)} µs with them).`,
);

notes.push(
  `${TENANTS} tenants hold rows in each layout (100-event streams). Row-level security on the shared pool sends BEGIN, the tenant setting, ` +
    "the statement and COMMIT together on a reserved connection (one round trip, four statements of server work) for each " +
    "statement; with a pool per tenant the statement goes alone. A 1,000-event readStream is two statements (the second page finds the end). " +
    "One pool of 4 connections serves every variant but the pool-per-tenant one, which has 4 of its own; the role is neither superuser nor BYPASSRLS, " +
    "so the policies are evaluated. The target (issue 22) is < 10% overhead.",
);
try {
  await runAndReport("tenancy", "PostgreSQL tenancy: schema per tenant and row-level security vs none", {
    eventsPerIteration,
    overheads,
    interleaved: crossChecks,
    notes,
    statistic: "p50",
  });
  for (const note of notes) console.log(note);
} finally {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${plainSchema} CASCADE`);
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${rlsSchema} CASCADE`);
  for (let t = 0; t < TENANTS; t++) await sql.unsafe(`DROP SCHEMA IF EXISTS ${schemaPrefix}t${t} CASCADE`);
  await sql.end();
  await tenantPool.end();
  await admin.unsafe(`DROP OWNED BY ${role}`);
  await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
  await admin.end();
}
