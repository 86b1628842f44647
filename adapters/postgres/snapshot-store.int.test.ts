import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import postgres from "postgres";
import {
  AggregateRepository,
  AggregateRoot,
  compress,
  defineStream,
  jsonSerializer,
  olderThan,
  ulid,
} from "../../src/index.js";
import { registerContract, snapshotStoreContract } from "../../src/testing/index.js";
import { ensurePostgres, uniqueSchema } from "../../test/services/postgres.ts";
import { checkRetentionAgainstModel } from "../../test/snapshots/retention-model.ts";
import {
  createPostgresClient,
  DEFAULT_MAX_SNAPSHOT_BYTES,
  PostgresEventStore,
  PostgresSnapshotStore,
  type PostgresSnapshotStoreOptions,
  type PostgresSql,
} from "./index.js";

// As for the event store: on our client defaults, and on the most restrictive client an
// application may hand in (no prepared statements, no type discovery).
const clients: Record<string, PostgresSql> = {};
const schema = uniqueSchema("snapshots");
let sql: PostgresSql;

beforeAll(async () => {
  const url = await ensurePostgres();
  clients.defaults = createPostgresClient(url, { max: 12 });
  clients.restrictive = postgres(url, { max: 12, prepare: false, fetch_types: false, onnotice: () => undefined });
  sql = clients.defaults;
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  await clients.defaults?.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  for (const client of Object.values(clients)) await client.end();
});

const store = (options: Partial<PostgresSnapshotStoreOptions> = {}) =>
  new PostgresSnapshotStore({ sql, schema, ...options });

for (const [label, description] of [
  ["defaults", "createPostgresClient defaults"],
  ["restrictive", "a client with prepare: false and fetch_types: false"],
] as const) {
  registerContract(
    snapshotStoreContract({
      name: `PostgresSnapshotStore contract (${description})`,
      create: (options) => new PostgresSnapshotStore({ ...options, sql: clients[label] as PostgresSql, schema }),
    }),
    { describe, test },
  );
}

class Clocked extends AggregateRoot<{ ticks: number }, { type: "Ticked"; data: Record<string, never> }> {
  constructor(id: string) {
    super(id, { ticks: 0 });
  }
  tick() {
    this.raise("Ticked", {});
  }
  protected onTicked() {
    return { ticks: this.state.ticks + 1 };
  }
}

/** The stored row, read back with SQL. */
async function row(streamId: string, version: number) {
  const [found] = await sql.unsafe(
    `SELECT encoding, payload, created_at, schema_version FROM ${schema}.snapshots WHERE stream_id = $1 AND version = $2`,
    [streamId, version],
  );
  return found;
}

describe("PostgresSnapshotStore", () => {
  test("payloads are gzip-compressed by default and stored as bytea; compression: false turns it off", async () => {
    const id = `Compressed-${ulid()}`;
    const state = { lines: Array.from({ length: 200 }, (_, i) => ({ sku: `SKU-${i}`, qty: i })) };
    const saved = await store().save({ streamId: id, version: 1, state });
    expect(saved.encoding).toBe("json+gzip");
    const stored = await row(id, 1);
    expect(stored?.encoding).toBe("json+gzip");
    const bytes = stored?.payload as Uint8Array;
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    expect(bytes.byteLength).toBe(saved.storedBytes);
    expect(saved.storedBytes).toBeLessThan(jsonSerializer.serialize(state).byteLength / 4);

    const plain = await store({ compression: false }).save({ streamId: id, version: 2, state });
    expect(plain.encoding).toBe("json");
    expect(new TextDecoder().decode((await row(id, 2))?.payload)).toBe(
      new TextDecoder().decode(jsonSerializer.serialize(state)),
    );
  });

  test("createdAt comes back as the exact ISO string the save wrote", async () => {
    const id = `Created-${ulid()}`;
    const before = Date.now();
    await store().save({ streamId: id, version: 1, state: {} });
    const loaded = await store().load(id);
    expect(loaded?.createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(new Date(loaded?.createdAt ?? "").toISOString()).toBe(loaded?.createdAt as string);
    expect((await row(id, 1))?.created_at.getTime()).toBe(Date.parse(loaded?.createdAt ?? ""));
    expect(Date.parse(loaded?.createdAt ?? "")).toBeGreaterThanOrEqual(before);
  });

  test("a repository's clock is the stored createdAt: olderThan ages a snapshot another instance restores", async () => {
    // Stored with the wall clock, a snapshot taken at test time 0 was minus 56 years old to the next
    // instance's olderThan, which then never snapshotted that aggregate again.
    const id = ulid();
    let now = 0;
    const events = new PostgresEventStore({ sql, schema });
    const snapshots = store();
    const repository = () =>
      new AggregateRepository({
        store: events,
        stream: defineStream("Clocked"),
        create: (aggregateId) => new Clocked(aggregateId),
        snapshots: { store: snapshots, policy: olderThan(1000), now: () => now },
      });
    const first = repository();
    await first.update(id, (clocked) => clocked.tick(), { createIfMissing: true });
    await first.flushSnapshots();
    expect((await row(`Clocked-${id}`, 1))?.created_at.getTime()).toBe(0);
    now += 60_000;
    const second = repository();
    await second.update(id, (clocked) => clocked.tick());
    await second.flushSnapshots();
    expect((await snapshots.load(`Clocked-${id}`))?.version).toBe(2);
  });

  test("an older-schema snapshot ahead of its stream is deleted on load, and a fresh one takes its place", async () => {
    const id = ulid();
    const snapshots = store({ keepLast: 5 });
    const reports: string[] = [];
    const repository = new AggregateRepository({
      store: new PostgresEventStore({ sql, schema }),
      stream: defineStream("Reset"),
      create: (aggregateId) => new Clocked(aggregateId),
      snapshots: { store: snapshots, schemaVersion: 2, onError: (_error, { operation }) => reports.push(operation) },
    });
    // The events table was reset, the snapshots table was not, and a new schema version was deployed.
    await snapshots.save({ streamId: `Reset-${id}`, version: 10, state: { ticks: 10 }, schemaVersion: 1 });
    for (let i = 0; i < 2; i++) await repository.update(id, (clocked) => clocked.tick(), { createIfMissing: true });
    await repository.flushSnapshots();
    expect(reports).toEqual(["restore"]); // the second update's load, of version 1
    const [newest] = await sql.unsafe(
      `SELECT array_agg(version ORDER BY version) AS versions FROM ${schema}.snapshots WHERE stream_id = $1`,
      [`Reset-${id}`],
    );
    expect(newest?.versions).toEqual([1]);
  });

  test("a snapshot that does not decode and is ahead of its stream is deleted on load, and a fresh one takes its place", async () => {
    const id = ulid();
    const snapshots = store({ keepLast: 5 });
    const reports: string[] = [];
    const repository = new AggregateRepository({
      store: new PostgresEventStore({ sql, schema }),
      stream: defineStream("Unread"),
      create: (aggregateId) => new Clocked(aggregateId),
      snapshots: { store: snapshots, onError: (_error, { operation }) => reports.push(operation) },
    });
    // The events table was reset, and the snapshots table holds a row no configured serializer reads.
    await snapshots.save({ streamId: `Unread-${id}`, version: 10, state: { ticks: 10 } });
    await sql.unsafe(`UPDATE ${schema}.snapshots SET encoding = 'yaml' WHERE stream_id = $1`, [`Unread-${id}`]);
    // Each update waits for the snapshot writes it started: the second's delete and save run in the
    // background, and a third load that overtook them still found the row (a third report, seen in CI).
    for (let i = 0; i < 3; i++) {
      await repository.update(id, (clocked) => clocked.tick(), { createIfMissing: true });
      await repository.flushSnapshots();
    }
    expect(reports).toEqual(["load", "load"]); // the first two loads; the third restores version 1
    const [newest] = await sql.unsafe(
      `SELECT array_agg(version ORDER BY version) AS versions FROM ${schema}.snapshots WHERE stream_id = $1`,
      [`Unread-${id}`],
    );
    expect(newest?.versions).toEqual([1]);
  });

  test("retention agrees with the in-memory store on random save sequences (property)", async () => {
    await checkRetentionAgainstModel((options) => store(options), 40);
  }, 120_000);

  test("a save in a transaction that rolls back leaves nothing; one that commits is there", async () => {
    const id = `Tx-${ulid()}`;
    await expect(
      sql.begin(async (tx) => {
        await new PostgresSnapshotStore({ sql: tx, schema }).save({ streamId: id, version: 3, state: { n: 3 } });
        throw new Error("the rest of the unit of work failed");
      }),
    ).rejects.toThrow("the rest of the unit of work failed");
    expect(await store().load(id)).toBeUndefined();
    await sql.begin(async (tx) => {
      await new PostgresSnapshotStore({ sql: tx, schema }).save({ streamId: id, version: 4, state: { n: 4 } });
    });
    expect((await store().load(id))?.state).toEqual({ n: 4 });
  });

  test("versions beyond PostgreSQL's integer are refused before anything is sent; loads clamp maxVersion", async () => {
    const id = `Big-${ulid()}`;
    const s = store();
    await s.save({ streamId: id, version: 2_147_483_647, state: { top: true } });
    for (const snapshot of [
      { streamId: id, version: 2_147_483_648, state: {} },
      { streamId: id, version: 1, state: {}, schemaVersion: 2_147_483_648 },
    ]) {
      const error = await s.save(snapshot).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
      expect(String((error as Error).message)).toContain("Invalid snapshot");
    }
    expect((await s.load(id, { maxVersion: Number.MAX_SAFE_INTEGER }))?.state).toEqual({ top: true });
    expect(await s.load(id, { maxVersion: 2_147_483_646 })).toBeUndefined();
  });

  test("stream ids PostgreSQL text cannot hold verbatim (unpaired surrogates) are refused", async () => {
    const s = store();
    const id = `broken-\ud800-${ulid()}`;
    await expect(s.save({ streamId: id, version: 1, state: {} })).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(s.load(id)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(s.delete(id)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
  });

  test("a state over maxPayloadBytes after compression is a PayloadTooLargeError; nothing is written", async () => {
    const s = store({ maxPayloadBytes: 1024 });
    expect(s.capabilities.maxPayloadBytes).toBe(1024);
    expect(store().capabilities.maxPayloadBytes).toBe(DEFAULT_MAX_SNAPSHOT_BYTES);
    const id = `Large-${ulid()}`;
    const noise = crypto.getRandomValues(new Uint8Array(4096));
    const error = await s.save({ streamId: id, version: 1, state: { noise } }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "PAYLOAD_TOO_LARGE", limit: 1024 });
    expect(await row(id, 1)).toBeUndefined();
    // Compressible state of the same raw size fits: the limit applies after compression.
    const saved = await s.save({ streamId: id, version: 1, state: { zeros: new Uint8Array(4096) } });
    expect(saved.storedBytes).toBeLessThanOrEqual(1024);
  });

  test("corrupt stored snapshots fail to load with SnapshotCorruptError naming stream and version", async () => {
    const s = store();
    const cases: [string, string, Uint8Array][] = [
      ["not gzip", "json+gzip", new TextEncoder().encode('{"n":1}')],
      [
        "truncated gzip",
        "json+gzip",
        (await compress(jsonSerializer.serialize({ text: "x".repeat(2000) }))).slice(0, 20),
      ],
      ["not JSON", "json", new TextEncoder().encode("{not json")],
      ["unknown encoding", "yaml", new TextEncoder().encode("n: 1")],
      ["two compressions", "json+gzip+gzip", new Uint8Array([1, 2, 3])],
    ];
    for (const [label, encoding, payload] of cases) {
      const id = `Corrupt-${ulid()}`;
      await s.save({ streamId: id, version: 7, state: { n: 1 } });
      await sql.unsafe(`UPDATE ${schema}.snapshots SET encoding = $1, payload = $2 WHERE stream_id = $3`, [
        encoding,
        payload,
        id,
      ]);
      const error = await s.load(id).catch((e: unknown) => e);
      expect({ label, error }).toMatchObject({
        label,
        error: { code: "SNAPSHOT_CORRUPT", streamId: id, version: 7 },
      });
    }
  });

  test("a store on a schema that was never migrated says what to do", async () => {
    const s = new PostgresSnapshotStore({ sql, schema: uniqueSchema("unmigrated") });
    const error = await s.save({ streamId: `S-${ulid()}`, version: 1, state: {} }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "SERVICE_ERROR", serviceCode: "42P01", retryable: false });
    expect(String((error as Error).message)).toContain("run the migrations");
  });

  test("bad options are refused", () => {
    const bad: unknown[] = [
      undefined,
      {},
      { sql: "postgres://localhost" },
      { sql, schema: "Bad-Name" },
      { sql, tablePrefix: "has space" },
      { sql, maxPayloadBytes: 0 },
      { sql, maxPayloadBytes: 1.5 },
      { sql, maxPayloadBytes: 512 * 1024 * 1024 },
      { sql, keepLast: 0 },
      { sql, compression: { format: "brotli" } },
    ];
    for (const options of bad) {
      expect(() => new PostgresSnapshotStore(options as PostgresSnapshotStoreOptions)).toThrow(/^Invalid /);
    }
  });
});
