import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type createDynamoDbClient, DynamoDbEventStore, DynamoDbReadModelStore } from "../adapters/dynamodb/index.js";
import { migrate, PostgresEventStore, PostgresReadModelStore, type PostgresSql } from "../adapters/postgres/index.js";
import { bunSqliteDriver, createSqliteEventStore, SqliteReadModelStore } from "../adapters/sqlite/index.js";
import { type EventStore, InMemoryReadModelStore, ProjectionRunner } from "../src/index.js";
import { cartCounts } from "../test/fixtures/cli-cart-projection.ts";
import { createDynamoTable } from "../test/fixtures/dynamodb-table.ts";
import { ensurePostgres, postgresTestClient, uniqueSchema } from "../test/services/postgres.ts";

// `eventflows rebuild` and `eventflows replay`, run as the real binary (Bun, the sources) against the
// PostgreSQL of test/services/ and a SQLite file, with the projection module in test/fixtures/.
const bin = join(import.meta.dirname, "..", "bin", "eventflows.js");
const module = join(import.meta.dirname, "..", "test", "fixtures", "cli-cart-projection.ts");
const schema = uniqueSchema("cli_rebuild");
const CARTS = 100;
let url: string;
let sql: PostgresSql;
let dir: string;

beforeAll(async () => {
  url = await ensurePostgres();
  sql = await postgresTestClient();
  dir = mkdtempSync(join(tmpdir(), "eventflows-cli-rebuild-"));
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
  rmSync(dir, { recursive: true, force: true });
});

const env = (extra: Record<string, string> = {}) => ({
  ...process.env,
  DATABASE_URL: undefined,
  EVENTFLOWS_PG_URL: url,
  ...extra,
});

function eventflows(args: readonly string[], extra: Record<string, string> = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: dir, env: env(extra) });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Cart-i gets 20 + i % 11 items; every fifth cart an Order event the projection's filter skips. */
async function appendHistory(store: EventStore, carts: number): Promise<Map<string, number>> {
  const expected = new Map<string, number>();
  for (let i = 0; i < carts; i++) {
    const items = 20 + (i % 11);
    await store.appendToStream(
      `Cart-${i}`,
      Array.from({ length: items }, (_, n) => ({ type: "ItemAdded", data: { n } })),
    );
    if (i % 5 === 0) await store.appendToStream(`Order-${i}`, [{ type: "OrderPlaced", data: {} }]);
    expected.set(`Cart-${i}`, items);
  }
  return expected;
}

/**
 * Runs the binary and sends it SIGINT (or `signal`) as soon as it shows progress (its first stderr
 * output), then calls `afterSignal` (if any).
 */
function interruptOnProgress(
  args: readonly string[],
  extra: Record<string, string> = {},
  signal: NodeJS.Signals = "SIGINT",
  afterSignal?: () => void,
) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: dir, env: env(extra) });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += String(chunk);
    });
    child.stderr.on("data", (chunk) => {
      const first = stderr === "";
      stderr += String(chunk);
      if (!first) return;
      child.kill(signal);
      afterSignal?.();
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * Runs the binary with a handler that never yields to the event loop (bun:sqlite and node:sqlite answer
 * synchronously), sends `signal` once progress shows, and only then lets the handler go on: the signal is
 * pending while the run continues, and must stop it rather than wait for the run's end.
 */
function interruptSynchronousRun(args: readonly string[], signal: NodeJS.Signals) {
  const release = join(dir, `release-${signal}-${args[0]}`);
  return interruptOnProgress(args, { CART_PROJECTION_WAIT_FILE: release }, signal, () => writeFileSync(release, ""));
}

/** What a projection run from scratch over the same feed writes: the reference a rebuild must equal. */
async function freshProjection(store: EventStore) {
  const readModels = new InMemoryReadModelStore();
  await new ProjectionRunner({ projection: cartCounts, eventStore: store, readModels, batchSize: 500 }).catchUp();
  return readModels.list<{ items: number }>("cart-counts");
}

describe("eventflows rebuild / replay on PostgreSQL", () => {
  // Outside audit: the reads before the run took no signal, so a signal while the database did not
  // answer was ignored until the 10 s connect timeout, and the command exited 1 (QUEUE_TIMEOUT).
  test("SIGTERM or Ctrl-C while the database does not answer (a listener that never replies) stops rebuild and replay: 143 or 130, not 1", async () => {
    const silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    try {
      const hung = { EVENTFLOWS_PG_URL: `postgres://nobody@127.0.0.1:${silent.port}/none` };
      const runs: [string[], NodeJS.Signals, number][] = [
        [["rebuild", module, "--store", "postgres"], "SIGTERM", 143],
        [["replay", module, "--store", "postgres"], "SIGINT", 130],
      ];
      for (const [args, signal, code] of runs) {
        const stopped = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
          const child = spawn(process.execPath, [bin, ...args], { cwd: dir, env: env(hung) });
          let stderr = "";
          child.stderr.on("data", (chunk) => {
            stderr += String(chunk);
          });
          // Once it is waiting on the database (its handlers are set before the first query).
          setTimeout(() => child.kill(signal), 1500);
          child.on("close", (exit) => resolve({ code: exit, stderr }));
        });
        expect({ command: args[0], code: stopped.code }).toEqual({ command: args[0], code });
        expect(stopped.stderr).toContain("interrupted");
      }
    } finally {
      silent.stop(true);
    }
  }, 60_000);

  test("rebuild: --no-swap leaves the live model alone, Ctrl-C exits 130 and keeps the shadow, a second run resumes and swaps", async () => {
    await migrate(sql, { schema });
    const store = new PostgresEventStore({ sql, schema });
    const readModels = new PostgresReadModelStore({ sql, schema });
    const expected = await appendHistory(store, CARTS);
    const total = [...expected.values()].reduce((a, b) => a + b, 0) + CARTS / 5;
    expect(total).toBeGreaterThan(2000);
    // The live read model as an older, wrong handler left it.
    await readModels.put("cart-counts", "Cart-0", { items: 999 });
    await readModels.put("cart-counts", "Cart-gone", { items: 1 });
    const live = async () => JSON.stringify(await readModels.list("cart-counts"));
    const before = await live();

    const built = eventflows(["rebuild", module, "--store", "postgres", "--schema", schema, "--no-swap", "--json"]);
    expect(built.code).toBe(0);
    const summary = JSON.parse(built.stdout);
    expect(summary).toMatchObject({ command: "rebuild", projection: "cart-counts", read: total, swapped: false });
    expect(summary.position).toBe(await store.getLastGlobalPosition());
    expect(built.stderr).toMatch(/^100% {2}[\d,]+ events {2}position [\d,]+\/[\d,]+ {2}[\d,]+ ev\/s {2}ETA \S+$/m);
    expect(await live()).toBe(before);

    // Start over, slowly, and interrupt once progress shows.
    const interrupted = await interruptOnProgress(
      ["rebuild", module, "--store", "postgres", "--schema", schema, "--restart", "--batch-size", "20"],
      { CART_PROJECTION_SLOW_MS: "2" },
    );
    expect(interrupted.code).toBe(130);
    expect(interrupted.stderr).toMatch(/interrupted at position \d+; the shadow is kept: run the same command again/);
    const stoppedAt = await readModels.checkpoints.load("rebuild:cart-counts");
    expect(stoppedAt).toBeGreaterThan(0);
    expect(stoppedAt).toBeLessThan(await store.getLastGlobalPosition());
    expect(await live()).toBe(before);

    const resumed = eventflows(["rebuild", module, "--store", "postgres", "--schema", schema, "--json"]);
    expect(resumed.code).toBe(0);
    const done = JSON.parse(resumed.stdout);
    expect(done.swapped).toBe(true);
    expect(done.read).toBeLessThan(total); // it resumed rather than started over
    const rebuilt = await readModels.list<{ items: number }>("cart-counts");
    expect(rebuilt).toEqual(await freshProjection(store));
    expect(new Map(rebuilt.map((d) => [d.id, d.document.items]))).toEqual(expected);

    const text = eventflows(["rebuild", module, "--store", "postgres", "--schema", schema, "--no-swap"]);
    expect(text.stdout).toContain('rebuild of projection "cart-counts": ');
    expect(text.stdout).toContain("built, not swapped (--no-swap)");
  }, 60_000);

  test("replay: a dry run writes nothing, --apply writes, a stateful projection is refused", async () => {
    const rows = async () => JSON.stringify(await sql.unsafe(`SELECT * FROM ${schema}.read_models ORDER BY 1, 2`));
    const before = await rows();
    const dry = eventflows(["replay", module, "--store", "postgres", "--schema", schema, "--category", "Cart"]);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain("(dry run: nothing written; --apply writes)");
    expect(dry.stdout).toMatch(/ {2}would put cart-counts\/Cart-\d+/);
    const json = eventflows([
      "replay",
      module,
      "--store",
      "postgres",
      "--schema",
      schema,
      "--json",
      "--rate",
      "100000",
    ]);
    const summary = JSON.parse(json.stdout);
    expect(summary).toMatchObject({ command: "replay", dryRun: true });
    expect(summary.writes).toBe(summary.handled);
    expect(summary.handled).toBeGreaterThan(2000);
    expect(await rows()).toBe(before);

    const readModels = new PostgresReadModelStore({ sql, schema });
    const cart = (await readModels.get<{ items: number }>("cart-counts", "Cart-3"))?.items ?? 0;
    const applied = eventflows([
      "replay",
      module,
      "--store",
      "postgres",
      "--schema",
      schema,
      "--stream",
      "Cart-3",
      "--apply",
      "--json",
    ]);
    expect(JSON.parse(applied.stdout)).toMatchObject({ dryRun: false, handled: cart, writes: cart });
    expect(await readModels.get("cart-counts", "Cart-3")).toEqual({ items: 2 * cart });

    // Ctrl-C between two events of a rate-limited dry run: exit 130 and where to continue from.
    const beforeStop = await rows();
    const stopped = await interruptOnProgress([
      "replay",
      module,
      "--store",
      "postgres",
      "--schema",
      schema,
      "--rate",
      "200",
      "--batch-size",
      "10",
    ]);
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(/replay interrupted at position \d+: continue with --after \d+\n$/);
    expect(await rows()).toBe(beforeStop);

    const stateful = eventflows(["replay", module, "--export", "totals", "--store", "postgres", "--schema", schema]);
    expect(stateful.code).toBe(1);
    expect(stateful.stderr).toContain("keeps state");
  }, 30_000);

  test("usage errors exit 2 with one line", () => {
    const pg = ["--store", "postgres", "--schema", schema];
    for (const args of [
      ["rebuild", "--store", "postgres"], // no module
      ["rebuild", module], // no store
      ["rebuild", module, "--store", "mysql"],
      ["rebuild", module, ...pg, "--batch-size", "0"],
      ["rebuild", module, ...pg, "--export", "nope"],
      ["rebuild", module, ...pg, "--export", "cartCounts"], // a bare projection needs --collections
      // Collections rebuildProjection refuses: refused as typed, before a store is opened.
      ["rebuild", module, ...pg, "--collections", "cart-counts,a\u0001b"],
      ["rebuild", module, ...pg, "--export", "cartCounts", "--collections", "projection-state"],
      ["rebuild", module, "--store", "sqlite", "--file", "missing.db", "--collections", "a\u001bb"],
      ["rebuild", "missing.ts", ...pg],
      ["rebuild", module, ...pg, "--file", "x.db"],
      ["replay", module, ...pg, "--stream", "Cart-1", "--category", "Cart"],
      ["replay", module, ...pg, "--since", "yesterday"],
      ["replay", module, ...pg, "--rate", "-1"],
      ["replay", module, ...pg, "--after", "x"],
    ]) {
      const result = eventflows(args);
      expect({ args, code: result.code }).toEqual({ args, code: 2 });
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
    }
    const dynamo = eventflows(["rebuild", module, "--store", "dynamodb", "--json"]);
    expect(dynamo.code).toBe(2);
    expect(dynamo.stderr).toContain("table");
    expect(eventflows(["rebuild", "--help"]).stdout).toContain("--no-swap");
    expect(eventflows(["help", "replay"]).stdout).toContain("--apply");
  });
});

describe("eventflows rebuild on DynamoDB Local", () => {
  /** A table of its own on DynamoDB Local, its event store, and the AWS variables the CLI reaches it by; deleted after `work`. */
  async function withTable(
    work: (table: {
      tableName: string;
      client: ReturnType<typeof createDynamoDbClient>;
      eventStore: DynamoDbEventStore;
      aws: Record<string, string>;
    }) => Promise<void>,
  ): Promise<void> {
    const table = await createDynamoTable("cli_rebuild", ({ client, tableName }) =>
      new DynamoDbEventStore({ client, tableName }).ensureTable(),
    );
    const { endpoint: local, tableName, client } = table;
    const eventStore = new DynamoDbEventStore({ client, tableName });
    const aws = {
      AWS_ENDPOINT_URL_DYNAMODB: local.endpoint,
      AWS_REGION: local.region,
      AWS_ACCESS_KEY_ID: local.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: local.credentials.secretAccessKey,
    };
    try {
      await work({ tableName, client, eventStore, aws });
    } finally {
      await table.drop();
    }
  }

  test("a rebuild swaps in what a fresh projection makes, the stale document gone", async () => {
    await withTable(async ({ tableName, client, eventStore, aws }) => {
      const expected = await appendHistory(eventStore, 12);
      const readModels = new DynamoDbReadModelStore({ client, tableName, generationCacheMs: 0 });
      await readModels.put("cart-counts", "Cart-stale", { items: -1 });
      const args = ["rebuild", module, "--store", "dynamodb", "--table", tableName, "--batch-size", "50", "--json"];
      const rebuilt = eventflows(args, aws);
      expect({ code: rebuilt.code, stderr: rebuilt.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
      expect(JSON.parse(rebuilt.stdout)).toMatchObject({ store: "dynamodb", swapped: true });
      const docs = await readModels.list<{ items: number }>("cart-counts");
      expect(docs).toEqual(await freshProjection(eventStore));
      expect(new Map(docs.map((d) => [d.id, d.document.items]))).toEqual(expected);
    });
  }, 60_000);

  test("a batch writing more documents (or bytes) than a transaction holds is committed in halves: the default --batch-size rebuilds it", async () => {
    await withTable(async ({ tableName, client, eventStore, aws }) => {
      const readModels = new DynamoDbReadModelStore({ client, tableName, generationCacheMs: 0 });
      // 110 carts of one event each: one batch of the default 1,000 events writes 110 documents. It failed
      // with VALIDATION_FAILED ("lower --batch-size").
      for (let i = 0; i < 110; i++) await eventStore.appendToStream(`Cart-${i}`, [{ type: "ItemAdded", data: {} }]);
      const args = ["rebuild", module, "--store", "dynamodb", "--table", tableName];
      const byDefault = eventflows([...args, "--json"], aws);
      expect({ code: byDefault.code, stderr: byDefault.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
      expect(JSON.parse(byDefault.stdout)).toMatchObject({ read: 110, swapped: true });
      const docs = await readModels.list("cart-counts");
      expect(docs).toHaveLength(110);
      expect(docs).toEqual(await freshProjection(eventStore));

      // Over DynamoDB's 4 MB a transaction instead (20 documents of 250 KB): halved the same way.
      const big = join(dir, "big-documents.ts");
      writeFileSync(
        big,
        `import { projection } from ${JSON.stringify(join(import.meta.dirname, "..", "src", "index.ts"))};
export default {
  projection: projection({
    name: "big-documents",
    categories: ["Cart"],
    handle: async (event, { readModels }) => {
      await readModels.put("big-documents", event.streamId, { text: "x".repeat(250_000) });
    },
  }),
  collections: ["big-documents"],
};
`,
      );
      const bytes = eventflows(
        ["rebuild", big, "--store", "dynamodb", "--table", tableName, "--batch-size", "20", "--json"],
        aws,
      );
      expect({ code: bytes.code, stderr: bytes.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
      expect(JSON.parse(bytes.stdout)).toMatchObject({ read: 110, swapped: true });
      expect(await readModels.list("big-documents")).toHaveLength(110);
    });
  }, 60_000);
});

describe("eventflows rebuild / replay on SQLite", () => {
  test("a rebuild equals a fresh projection; a dry-run replay writes nothing", async () => {
    expect(eventflows(["migrate", "sqlite", "--file", "events.db"]).code).toBe(0);
    const db = new Database(join(dir, "events.db"));
    const store = createSqliteEventStore({ driver: bunSqliteDriver(db) });
    const expected = await appendHistory(store, 30);
    await new SqliteReadModelStore({ driver: bunSqliteDriver(db) }).put("cart-counts", "Cart-0", { items: -1 });
    db.close();

    const rebuilt = eventflows(["rebuild", module, "--store", "sqlite", "--file", "events.db", "--json"]);
    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(rebuilt.stdout)).toMatchObject({ store: "sqlite", swapped: true });
    const count = () => {
      const check = new Database(join(dir, "events.db"));
      try {
        return check.query("SELECT collection, id, document FROM eventflows_read_models ORDER BY 1, 2").all();
      } finally {
        check.close();
      }
    };
    const after = count();
    const again = new Database(join(dir, "events.db"));
    const docs = await new SqliteReadModelStore({ driver: bunSqliteDriver(again) }).list<{ items: number }>(
      "cart-counts",
    );
    expect(docs).toEqual(await freshProjection(createSqliteEventStore({ driver: bunSqliteDriver(again) })));
    expect(new Map(docs.map((d) => [d.id, d.document.items]))).toEqual(expected);
    again.close();

    // A bare projection export, its collections on the command line: the same documents again.
    const bare = ["--export", "cartCounts", "--collections", "cart-counts"];
    const bareRun = eventflows(["rebuild", module, ...bare, "--store", "sqlite", "--file", "events.db", "--json"]);
    expect(JSON.parse(bareRun.stdout)).toMatchObject({ projection: "cart-counts", swapped: true });
    expect(count()).toEqual(after);

    const dry = eventflows(["replay", module, "--store", "sqlite", "--file", "events.db", "--json"]);
    expect(JSON.parse(dry.stdout)).toMatchObject({
      store: "sqlite",
      dryRun: true,
      writes: [...expected.values()].reduce((a, b) => a + b, 0),
    });
    expect(count()).toEqual(after);
  }, 30_000);

  test("a handler that throws: exit 1 with PROJECTION_FAILED naming the event and the handler's own reason", async () => {
    const file = "events-broken.db";
    expect(eventflows(["migrate", "sqlite", "--file", file]).code).toBe(0);
    const db = new Database(join(dir, file));
    await appendHistory(createSqliteEventStore({ driver: bunSqliteDriver(db) }), 5);
    db.close();
    const store = ["--store", "sqlite", "--file", file, "--export", "broken"];
    const because =
      /^eventflows: Projection "cart-broken" failed on event \w+ \(ItemAdded\) at position \d+ and stopped: item 7 of Cart-3 has no price$/m;
    const rebuilt = eventflows(["rebuild", module, ...store, "--collections", "cart-counts", "--verbose"]);
    expect(rebuilt.code).toBe(1);
    expect(rebuilt.stderr).toMatch(because);
    // --verbose: the handler's stack too, down to the module's line.
    expect(rebuilt.stderr).toContain("Caused by: Error: item 7 of Cart-3 has no price\n");
    expect(rebuilt.stderr).toContain("cli-cart-projection.ts:");
    const replayed = eventflows(["replay", module, ...store, "--json"]);
    expect(replayed.code).toBe(1);
    const { error } = JSON.parse(replayed.stderr.trim().split("\n").at(-1) ?? "") as {
      error: { code: string; message: string };
    };
    expect(error.code).toBe("PROJECTION_FAILED");
    expect(error.message).toEndWith("and stopped: item 7 of Cart-3 has no price");
  }, 30_000);

  test("SIGTERM (kill, systemd, Kubernetes) stops a replay --apply as Ctrl-C does: exit 143 and where to continue, nothing doubled", async () => {
    const file = "events-term.db";
    expect(eventflows(["migrate", "sqlite", "--file", file]).code).toBe(0);
    const db = new Database(join(dir, file));
    const expected = await appendHistory(createSqliteEventStore({ driver: bunSqliteDriver(db) }), 40);
    db.close();
    const args = ["replay", module, "--store", "sqlite", "--file", file, "--apply", "--batch-size", "10"];
    const stopped = await interruptOnProgress(args, { CART_PROJECTION_SLOW_MS: "2" }, "SIGTERM");
    expect({ code: stopped.code, stdout: stopped.stdout }).toEqual({ code: 143, stdout: "" });
    const after =
      /replay interrupted at position (\d+) \(what was written stays\): continue with --after (\d+)\n$/.exec(
        stopped.stderr,
      );
    expect(after?.[1]).toBe(after?.[2]);
    const resumed = eventflows([...args, "--after", String(after?.[2])]);
    expect(resumed.code).toBe(0);
    // An applied run lists no writes: there is no dry run's record to list them from.
    expect(resumed.stdout.trim().split("\n")).toHaveLength(1);
    expect(resumed.stdout).toMatch(/writes made\.$/m);
    // Each event counted once, read with SQL of our own rather than the library.
    const check = new Database(join(dir, file));
    try {
      const rows = check
        .query(
          "SELECT id, json_extract(document, '$.items') AS items FROM eventflows_read_models WHERE collection = 'cart-counts'",
        )
        .all() as { id: string; items: number }[];
      expect(new Map(rows.map((row) => [row.id, row.items]))).toEqual(expected);
    } finally {
      check.close();
    }
  }, 30_000);

  // A rebuild over SQLite ran to its end through Ctrl-C and SIGTERM (exit 0): its reads and writes never
  // left the microtask queue, so the signal handlers ran only once it was done.
  test("Ctrl-C and SIGTERM stop a rebuild and a replay over SQLite whose handler never waits on I/O", async () => {
    const file = "events-sync.db";
    expect(eventflows(["migrate", "sqlite", "--file", file]).code).toBe(0);
    const db = new Database(join(dir, file));
    await appendHistory(createSqliteEventStore({ driver: bunSqliteDriver(db) }), 20);
    db.close();
    const store = ["--store", "sqlite", "--file", file, "--batch-size", "10"];
    const rebuilt = await interruptSynchronousRun(["rebuild", module, ...store], "SIGINT");
    expect({ code: rebuilt.code, stdout: rebuilt.stdout }).toEqual({ code: 130, stdout: "" });
    expect(rebuilt.stderr).toMatch(/interrupted at position \d+; the shadow is kept/);
    const replayed = await interruptSynchronousRun(["replay", module, ...store, "--apply"], "SIGTERM");
    expect({ code: replayed.code, stdout: replayed.stdout }).toEqual({ code: 143, stdout: "" });
    expect(replayed.stderr).toMatch(
      /replay interrupted at position \d+ \(what was written stays\): continue with --after \d+\n$/,
    );
  }, 30_000);
});
