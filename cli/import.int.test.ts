import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EventStore as CastoreEventStore, EventType } from "@castore/core";
import { getPostgreSQLEventStore } from "@event-driven-io/emmett-postgresql";
import pg from "pg";
import { createDynamoDbClient } from "../adapters/dynamodb/index.js";
import type { PostgresSql } from "../adapters/postgres/index.js";
import { ulid } from "../src/index.js";
import { castoreCreateTable, castoreStorage } from "../test/fixtures/castore-table.js";
import { type DynamoDbEndpoint, ensureDynamoDb } from "../test/services/dynamodb.ts";
import { ensurePostgres, postgresTestClient, uniqueSchema } from "../test/services/postgres.ts";

// `eventflows import`, run as the real binary (Bun, the sources): from an Emmett database into a
// PostgreSQL schema, and from a Castore table into a SQLite file, with a second run that finds
// everything stored. The 10k/100k-event checks are the importers' own tests (adapters/*/…-import.int.test.ts).
const bin = join(import.meta.dirname, "..", "bin", "eventflows.js");
const database = uniqueSchema("cli_emmett");
// A second Emmett database on the same server, same schema and partition, read by a role of its own
// whose password is in the source URL; and a database without Emmett's tables.
const otherDatabase = `${database}_b`;
const emptyDatabase = `${database}_e`;
const reader = `${database}_reader`;
const readerPassword = `pw-${ulid()}`;
let otherUrl: string;
let emptyUrl: string;
const schema = uniqueSchema("cli_import");
const castoreTable = `cli_castore_${ulid().slice(-8).toLowerCase()}`;
let url: string;
let emmettUrl: string;
let admin: PostgresSql;
let local: DynamoDbEndpoint;

/** The variables the CLI reads DynamoDB Local's address and credentials from. */
function dynamoDbEnv(): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_DYNAMODB: local.endpoint,
    AWS_REGION: local.region,
    AWS_ACCESS_KEY_ID: local.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: local.credentials.secretAccessKey,
  };
}

let dir: string;

beforeAll(async () => {
  url = await ensurePostgres();
  admin = await postgresTestClient({ max: 1 });
  await admin.unsafe(`CREATE DATABASE ${database}`);
  emmettUrl = url.replace(/\/[^/?]*(\?|$)/, `/${database}$1`);
  const pool = new pg.Pool({ connectionString: emmettUrl, max: 2 });
  const emmett = getPostgreSQLEventStore(emmettUrl, {
    connectionOptions: { pooled: true, pool, connectionString: emmettUrl },
  });
  await emmett.schema.migrate();
  for (let s = 0; s < 20; s++) {
    await emmett.appendToStream(
      `order-${s}`,
      Array.from({ length: 5 }, (_, i) => ({ type: i === 0 ? "OrderPlaced" : "LineAdded", data: { s, i } })),
    );
  }
  await pool.end();

  await admin.unsafe(`CREATE DATABASE ${otherDatabase}`);
  await admin.unsafe(`CREATE DATABASE ${emptyDatabase}`);
  await admin.unsafe(`CREATE ROLE ${reader} LOGIN PASSWORD '${readerPassword}'`);
  const adminOtherUrl = url.replace(/\/[^/?]*(\?|$)/, `/${otherDatabase}$1`);
  const otherPool = new pg.Pool({ connectionString: adminOtherUrl, max: 2 });
  const other = getPostgreSQLEventStore(adminOtherUrl, {
    connectionOptions: { pooled: true, pool: otherPool, connectionString: adminOtherUrl },
  });
  await other.schema.migrate();
  for (let s = 0; s < 4; s++) {
    await other.appendToStream(
      `invoice-${s}`,
      Array.from({ length: 3 }, (_, i) => ({ type: i === 0 ? "InvoiceIssued" : "LineBilled", data: { s, i } })),
    );
  }
  await otherPool.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${reader}`);
  await otherPool.end();
  const readerUrl = new URL(adminOtherUrl);
  readerUrl.username = reader;
  readerUrl.password = readerPassword;
  otherUrl = readerUrl.toString();
  emptyUrl = url.replace(/\/[^/?]*(\?|$)/, `/${emptyDatabase}$1`);

  local = await ensureDynamoDb();
  await createDynamoDbClient(local).send("CreateTable", castoreCreateTable(castoreTable));
  const taskCreated = new EventType<"TaskCreated", { title: string }>({ type: "TaskCreated" });
  const tasks = new CastoreEventStore({
    eventStoreId: "TASKS",
    eventTypes: [taskCreated],
    reducer: (_aggregate, event) => ({ aggregateId: event.aggregateId, version: event.version }),
    eventStorageAdapter: castoreStorage(local, castoreTable),
  });
  for (let t = 0; t < 12; t++) {
    for (let version = 1; version <= 3; version++) {
      await tasks.pushEvent({ aggregateId: `t${t}`, version, type: "TaskCreated", payload: { title: `task ${t}` } });
    }
  }
  dir = mkdtempSync(join(tmpdir(), "eventflows-cli-import-"));
}, 120_000);

afterAll(async () => {
  await admin.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await admin.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.unsafe(`DROP DATABASE IF EXISTS ${otherDatabase} WITH (FORCE)`);
  await admin.unsafe(`DROP DATABASE IF EXISTS ${emptyDatabase} WITH (FORCE)`);
  await admin.unsafe(`DROP ROLE IF EXISTS ${reader}`);
  await admin.end();
  await createDynamoDbClient(local)
    .send("DeleteTable", { TableName: castoreTable })
    .catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
  // Three DROP DATABASE ... WITH (FORCE) and a DeleteTable: past the default 5 s on a loaded machine.
}, 60_000);

function eventflows(args: readonly string[], env: Record<string, string | undefined> = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    cwd: dir,
    env: { ...process.env, DATABASE_URL: undefined, EVENTFLOWS_PG_URL: undefined, ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("eventflows import", () => {
  test("emmett-postgres into a PostgreSQL schema: 100 events, then a run that finds them stored", async () => {
    writeFileSync(join(dir, "emmett-url"), `${emmettUrl}\n`);
    const env = { EVENTFLOWS_PG_URL: url };
    expect(eventflows(["migrate", "postgres", "--schema", schema], env).code).toBe(0);
    const args = ["import", "emmett-postgres", "--from-url-file", "emmett-url", "--to", "postgres", "--schema", schema];
    const first = eventflows([...args, "--batch-size", "30", "--json"], env);
    expect(first).toMatchObject({ code: 0 });
    expect(JSON.parse(first.stdout)).toMatchObject({
      command: "import",
      source: "emmett-postgres",
      store: "postgres",
      read: 100,
      imported: 100,
      skipped: 0,
      streams: 20,
    });
    expect(first.stderr).toContain("100 events");
    // Progress counts from where the source starts, not from 0: Emmett's positions are transaction ids,
    // in the hundred thousands on a used server, so from 0 the first batch showed 99% and ETA 0.0s. The
    // first batch is the first 6 of the source's 20 transactions (5 events each): their share of the ids.
    const client = new pg.Client({ connectionString: emmettUrl });
    await client.connect();
    const { rows: xids } = await client.query<{ xid: string }>(
      "SELECT transaction_id::text AS xid FROM emt_messages GROUP BY transaction_id ORDER BY transaction_id",
    );
    await client.end();
    expect(xids).toHaveLength(20);
    const [start, sixth, head] = [xids[0], xids[5], xids[19]].map((row) => Number(row?.xid));
    const share = Math.floor(
      (((sixth as number) - (start as number) + 1) / ((head as number) - (start as number) + 1)) * 100,
    );
    expect(first.stderr.split("\n")[0]).toStartWith(
      `${share}%  30 events  position ${sixth?.toLocaleString("en-US")}/`,
    );
    const again = eventflows([...args, "--restart"], { ...env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("100 events read, 0 imported, 100 found stored already, 20 streams");
    const [row] = await admin.unsafe<{ n: number; top: number }[]>(
      `SELECT count(*)::int AS n, max(version)::int AS top FROM ${schema}.events WHERE stream_id LIKE 'order-%'`,
    );
    expect(row).toEqual({ n: 100, top: 5 });
    // The source's URL from its own variable works as the file does.
    const byVariable = eventflows(args, { ...env, EVENTFLOWS_IMPORT_SOURCE_URL: emmettUrl });
    expect(byVariable.stdout).toContain("0 events read");
  });

  test("emmett-postgres, two databases with the same schema and partition into one target: each has its own checkpoint, no password stored", async () => {
    // The first test imported the first database (positions 1 to 100) into `schema`. The second one's
    // 12 events sit at positions 1 to 12: were the checkpoint shared, its import would resume past them.
    writeFileSync(join(dir, "emmett-other-url"), `${otherUrl}\n`, { mode: 0o600 });
    const env = { EVENTFLOWS_PG_URL: url };
    const target = ["--to", "postgres", "--schema", schema, "--json"];
    const other = ["import", "emmett-postgres", "--from-url-file", "emmett-other-url", ...target];
    const first = eventflows(other, env);
    expect(first).toMatchObject({ code: 0 });
    expect(JSON.parse(first.stdout)).toMatchObject({ read: 12, imported: 12, skipped: 0, streams: 4 });
    // Each resumes from its own checkpoint: nothing new on either.
    expect(JSON.parse(eventflows(other, env).stdout)).toMatchObject({ read: 0, imported: 0 });
    writeFileSync(join(dir, "emmett-url"), `${emmettUrl}\n`);
    const firstDatabase = eventflows(["import", "emmett-postgres", "--from-url-file", "emmett-url", ...target], env);
    expect(JSON.parse(firstDatabase.stdout)).toMatchObject({ read: 0, imported: 0 });
    const [row] = await admin.unsafe<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM ${schema}.events WHERE stream_id LIKE 'invoice-%'`,
    );
    expect(row?.n).toBe(12);
    const checkpoints = await admin.unsafe<{ id: string }[]>(
      `SELECT id FROM ${schema}.checkpoints WHERE id LIKE 'import:emmett-postgres:%' ORDER BY id`,
    );
    expect(checkpoints).toHaveLength(2);
    // Neither the source's password nor its user is in any row of the target, nor in the output.
    const tables = await admin.unsafe<{ name: string }[]>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1",
      [schema],
    );
    expect(tables.length).toBeGreaterThan(5);
    for (const { name } of tables) {
      const [found] = await admin.unsafe<{ n: number }[]>(
        `SELECT count(*)::int AS n FROM ${schema}."${name}" t WHERE strpos(t::text, $1) > 0 OR strpos(t::text, $2) > 0`,
        [readerPassword, reader],
      );
      expect({ name, rows: found?.n }).toEqual({ name, rows: 0 });
    }
    for (const output of [first.stdout, first.stderr]) {
      expect(output).not.toContain(readerPassword);
      expect(output).not.toContain(reader);
    }
  });

  test("emmett-postgres, a --from-schema or database without Emmett's table: exit 2 saying so, nothing about migrations", () => {
    writeFileSync(join(dir, "emmett-url"), `${emmettUrl}\n`);
    writeFileSync(join(dir, "empty-url"), `${emptyUrl}\n`);
    const env = { EVENTFLOWS_PG_URL: url };
    const target = ["--to", "postgres", "--schema", schema];
    const cases: [string[], string][] = [
      [
        ["--from-url-file", "emmett-url", "--from-schema", "no_such_schema"],
        'eventflows: --from-schema "no_such_schema": the source database has no such schema (see: eventflows import --help)',
      ],
      [
        ["--from-url-file", "emmett-url", "--from-schema", "pg_catalog"],
        'eventflows: --from-schema "pg_catalog": the schema holds no Emmett event table (emt_messages) (see: eventflows import --help)',
      ],
      [
        ["--from-url-file", "empty-url"],
        "eventflows: The source database holds no Emmett event table (emt_messages) on its search path: name Emmett's schema with --from-schema (see: eventflows import --help)",
      ],
    ];
    for (const [from, message] of cases) {
      const run = eventflows(["import", "emmett-postgres", ...from, ...target], env);
      expect({ from, code: run.code, stderr: run.stderr.trim(), stdout: run.stdout }).toEqual({
        from,
        code: 2,
        stderr: message,
        stdout: "",
      });
    }
    const json = eventflows(
      [
        "import",
        "emmett-postgres",
        "--from-url-file",
        "emmett-url",
        "--from-schema",
        "no_such_schema",
        ...target,
        "--json",
      ],
      env,
    );
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr).error.code).toBe("CLI_USAGE");
  });

  test("a source that cannot be read: exit 1, the error says it is the source's, not the target's of the same kind", () => {
    writeFileSync(join(dir, "emmett-url"), `${emmettUrl}\n`);
    const missing = url.replace(/\/[^/?]*(\?|$)/, `/${database}_missing$1`);
    writeFileSync(join(dir, "missing-url"), `${missing}\n`);
    const target = ["--to", "postgres", "--schema", schema];
    const source = eventflows(["import", "emmett-postgres", "--from-url-file", "missing-url", ...target], {
      EVENTFLOWS_PG_URL: url,
    });
    expect({ code: source.code, stdout: source.stdout }).toEqual({ code: 1, stdout: "" });
    expect(source.stderr).toStartWith("eventflows: the source (emmett-postgres): postgres import failed (3D000): ");
    // The other way round: the target's database is missing, and the message does not blame the source.
    const targetMissing = eventflows(["import", "emmett-postgres", "--from-url-file", "emmett-url", ...target], {
      EVENTFLOWS_PG_URL: missing,
    });
    expect(targetMissing.code).toBe(1);
    expect(targetMissing.stderr).toContain("(3D000)");
    expect(targetMissing.stderr).not.toContain("the source");
    // A Castore table that does not exist fails its first read, inside the import: named the same way, its code kept.
    const file = join(dir, "missing-source.db");
    expect(eventflows(["migrate", "sqlite", "--file", file]).code).toBe(0);
    const castore = eventflows(
      [
        "import",
        "castore-dynamodb",
        "--from-table",
        `${castoreTable}_missing`,
        "--event-store-id",
        "TASKS",
        "--to",
        "sqlite",
        "--file",
        file,
        "--json",
      ],
      dynamoDbEnv(),
    );
    expect(castore.code).toBe(1);
    const { error } = JSON.parse(castore.stderr) as { error: { code: string; message: string } };
    expect(error.code).toBe("SERVICE_ERROR");
    expect(error.message).toStartWith(
      "the source (castore-dynamodb): DynamoDB Query failed (ResourceNotFoundException)",
    );
  });

  test("castore-dynamodb into a SQLite file, streams named by --category", () => {
    const file = join(dir, "tasks.db");
    expect(eventflows(["migrate", "sqlite", "--file", file]).code).toBe(0);
    const env = dynamoDbEnv();
    const args = ["import", "castore-dynamodb", "--from-table", castoreTable, "--event-store-id", "TASKS"];
    const run = eventflows([...args, "--category", "Task", "--to", "sqlite", "--file", file, "--json"], env);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ read: 36, imported: 36, streams: 12 });
    const db = new Database(file, { readonly: true });
    const rows = db
      .query("SELECT stream_id, max(version) AS top, count(*) AS n FROM eventflows_events GROUP BY stream_id")
      .all() as { stream_id: string; top: number; n: number }[];
    db.close();
    expect(rows).toHaveLength(12);
    expect(rows.every((r) => r.stream_id.startsWith("Task-t") && r.top === 3 && r.n === 3)).toBe(true);
  });

  test("a source with no event for what the command names (a misspelt event store id or partition): exit 2 saying so, nothing written", () => {
    // Before, each ran to "0 events read, 0 imported", exit 0: as a finished import looks.
    const file = join(dir, "nothing.db");
    expect(eventflows(["migrate", "sqlite", "--file", file]).code).toBe(0);
    const castore = ["import", "castore-dynamodb", "--from-table", castoreTable, "--to", "sqlite", "--file", file];
    const said = (eventStoreId: string) =>
      `The table "${castoreTable}" (${local.region}) holds no event of the event store "${eventStoreId}": nothing to import; check --event-store-id (Castore's eventStoreId, case included)`;
    const cases: [string[], string][] = [
      [["--event-store-id", "TASK"], "TASK"],
      // The id is the table's key, whatever the streams are named by: a --category does not hide it.
      [["--event-store-id", "tasks", "--category", "Task"], "tasks"],
    ];
    for (const [options, eventStoreId] of cases) {
      const run = eventflows([...castore, ...options], dynamoDbEnv());
      expect({ options, code: run.code, stderr: run.stderr.trim(), stdout: run.stdout }).toEqual({
        options,
        code: 2,
        stderr: `eventflows: ${said(eventStoreId)} (see: eventflows import --help)`,
        stdout: "",
      });
    }
    const json = eventflows([...castore, "--event-store-id", "TASK", "--json"], dynamoDbEnv());
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr).error).toEqual({ code: "CLI_USAGE", message: said("TASK") });
    writeFileSync(join(dir, "emmett-url"), `${emmettUrl}\n`);
    const emmett = eventflows([
      "import",
      "emmett-postgres",
      "--from-url-file",
      "emmett-url",
      "--from-partition",
      "emt:defualt",
      "--to",
      "sqlite",
      "--file",
      file,
    ]);
    expect({ code: emmett.code, stderr: emmett.stderr.trim(), stdout: emmett.stdout }).toEqual({
      code: 2,
      stderr:
        'eventflows: The source\'s Emmett table holds no event of the partition "emt:defualt": nothing to import; check the database and --from-partition (default emt:default) (see: eventflows import --help)',
      stdout: "",
    });
    const db = new Database(file, { readonly: true });
    const written = db
      .query("SELECT (SELECT count(*) FROM eventflows_events) + (SELECT count(*) FROM eventflows_checkpoints) AS n")
      .get();
    db.close();
    expect(written).toEqual({ n: 0 });
    // The same command with the event store the table holds imports it.
    const control = eventflows(
      [...castore, "--event-store-id", "TASKS", "--category", "Task", "--json"],
      dynamoDbEnv(),
    );
    expect({ code: control.code, stderr: control.stderr.includes("eventflows:") }).toEqual({ code: 0, stderr: false });
    expect(JSON.parse(control.stdout)).toMatchObject({ read: 36, imported: 36 });
  });

  test("castore-dynamodb, two event stores of one table into one target: each has its own checkpoint", async () => {
    // EARLY's aggregates start before LATE's: were the checkpoint shared (where LATE's import
    // stopped), the import of EARLY would resume past all of them and read nothing.
    const pushed = new EventType<"Pushed", { n: number }>({ type: "Pushed" });
    const castore = (eventStoreId: string) =>
      new CastoreEventStore({
        eventStoreId,
        eventTypes: [pushed],
        reducer: (_aggregate, event) => ({ aggregateId: event.aggregateId, version: event.version }),
        eventStorageAdapter: castoreStorage(local, castoreTable),
      });
    for (let a = 0; a < 3; a++) {
      await castore("EARLY").pushEvent({ aggregateId: `e${a}`, version: 1, type: "Pushed", payload: { n: a } });
    }
    await Bun.sleep(20);
    for (let a = 0; a < 2; a++) {
      await castore("LATE").pushEvent({ aggregateId: `l${a}`, version: 1, type: "Pushed", payload: { n: a } });
    }
    const file = join(dir, "two-stores.db");
    expect(eventflows(["migrate", "sqlite", "--file", file]).code).toBe(0);
    const env = dynamoDbEnv();
    const importStore = (eventStoreId: string) =>
      eventflows(
        [
          "import",
          "castore-dynamodb",
          "--from-table",
          castoreTable,
          "--event-store-id",
          eventStoreId,
          "--to",
          "sqlite",
          "--file",
          file,
          "--json",
        ],
        env,
      );
    const late = importStore("LATE");
    expect(late.code).toBe(0);
    expect(JSON.parse(late.stdout)).toMatchObject({ read: 2, imported: 2, streams: 2 });
    const early = importStore("EARLY");
    expect(early.code).toBe(0);
    expect(JSON.parse(early.stdout)).toMatchObject({ read: 3, imported: 3, streams: 3 });
    // Each resumes from its own checkpoint: nothing new on either.
    expect(JSON.parse(importStore("LATE").stdout)).toMatchObject({ imported: 0 });
    expect(JSON.parse(importStore("EARLY").stdout)).toMatchObject({ imported: 0 });
  });

  test("castore-dynamodb, tables of one name in two regions or behind two endpoints into one target: each has its own checkpoint", async () => {
    // DynamoDB Local runs with -sharedDb here (one database whatever the region), so a proxy plays AWS:
    // behind it, a table is the one of its name suffixed with the request's region. Three sources, all
    // "<name>" with event store ORDERS: DynamoDB Local's own (A), the proxy's in the same region (B:
    // another endpoint), the proxy's in another region (C). C's aggregates start first, then B's, then
    // A's: were the checkpoint shared, the imports after A's would resume past all of theirs and read nothing.
    const name = `cli_castore_rg_${ulid().slice(-8).toLowerCase()}`;
    const otherRegion = local.region === "eu-west-3" ? "ap-south-1" : "eu-west-3";
    const proxy = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(request) {
        const region = /Credential=[^/]+\/[^/]+\/([^/]+)\//.exec(request.headers.get("authorization") ?? "")?.[1];
        const body = JSON.parse(await request.text()) as { TableName?: string };
        if (typeof body.TableName === "string") body.TableName = `${body.TableName}.${region}`;
        const headers = new Headers(request.headers);
        headers.delete("host");
        headers.delete("content-length");
        const response = await fetch(local.endpoint, { method: "POST", headers, body: JSON.stringify(body) });
        return new Response(await response.arrayBuffer(), { status: response.status, headers: response.headers });
      },
    });
    const viaProxy = `http://127.0.0.1:${proxy.port}`;
    const tables = [`${name}.${otherRegion}`, `${name}.${local.region}`, name];
    const admin = createDynamoDbClient(local);
    try {
      const pushed = new EventType<"Pushed", { n: number }>({ type: "Pushed" });
      for (const [t, table] of tables.entries()) {
        await admin.send("CreateTable", castoreCreateTable(table));
        const orders = new CastoreEventStore({
          eventStoreId: "ORDERS",
          eventTypes: [pushed],
          reducer: (_aggregate, event) => ({ aggregateId: event.aggregateId, version: event.version }),
          eventStorageAdapter: castoreStorage(local, table),
        });
        for (let a = 0; a < 2 + t; a++) {
          await orders.pushEvent({ aggregateId: `${"cba"[t]}${a}`, version: 1, type: "Pushed", payload: { n: a } });
          await orders.pushEvent({ aggregateId: `${"cba"[t]}${a}`, version: 2, type: "Pushed", payload: { n: a } });
        }
        await Bun.sleep(20);
      }
      const file = join(dir, "regions.db");
      expect(eventflows(["migrate", "sqlite", "--file", file]).code).toBe(0);
      // Run without blocking this process: the proxy answers from its event loop.
      const importFrom = async (env: Record<string, string>) => {
        const args = ["--event-store-id", "ORDERS", "--category", "Order", "--to", "sqlite", "--file", file, "--json"];
        const run = Bun.spawn([process.execPath, bin, "import", "castore-dynamodb", "--from-table", name, ...args], {
          cwd: dir,
          env: { ...process.env, DATABASE_URL: undefined, EVENTFLOWS_PG_URL: undefined, ...dynamoDbEnv(), ...env },
          stdout: "pipe",
          stderr: "pipe",
        });
        const [code, stdout, stderr] = await Promise.all([
          run.exited,
          new Response(run.stdout).text(),
          new Response(run.stderr).text(),
        ]);
        expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
        return JSON.parse(stdout) as { read: number; imported: number; streams: number };
      };
      const sources: [string, Record<string, string>, number][] = [
        ["A: DynamoDB Local itself", {}, 4],
        ["B: another endpoint, the same region", { AWS_ENDPOINT_URL_DYNAMODB: viaProxy }, 3],
        ["C: that endpoint, another region", { AWS_ENDPOINT_URL_DYNAMODB: viaProxy, AWS_REGION: otherRegion }, 2],
      ];
      for (const [source, env, aggregates] of sources) {
        expect([source, await importFrom(env)]).toEqual([
          source,
          expect.objectContaining({ read: 2 * aggregates, imported: 2 * aggregates, streams: aggregates }),
        ]);
      }
      // Each resumes from its own checkpoint: nothing new on any (the last aggregate, which began in the
      // checkpoint's millisecond, is read again and found stored).
      for (const [source, env] of sources) {
        const again = await importFrom(env);
        expect([source, again.imported, again.read <= 2]).toEqual([source, 0, true]);
      }
      const db = new Database(file, { readonly: true });
      const rows = db.query("SELECT stream_id FROM eventflows_events GROUP BY stream_id ORDER BY stream_id").all();
      const ids = db.query("SELECT id FROM eventflows_checkpoints ORDER BY id").all() as { id: string }[];
      db.close();
      expect(rows.map((row) => (row as { stream_id: string }).stream_id)).toEqual([
        "Order-a0",
        "Order-a1",
        "Order-a2",
        "Order-a3",
        "Order-b0",
        "Order-b1",
        "Order-b2",
        "Order-c0",
        "Order-c1",
      ]);
      expect(ids.filter(({ id }) => id.startsWith("import:castore-dynamodb:"))).toHaveLength(3);
    } finally {
      proxy.stop(true);
      for (const table of tables) await admin.send("DeleteTable", { TableName: table }).catch(() => undefined);
    }
  });

  test("bad usage exits 2 and names the problem", () => {
    const cases: [string[], string][] = [
      [["import"], "Missing the source"],
      [["import", "eventstoredb", "--to", "postgres"], 'Unknown source "eventstoredb"'],
      [["import", "castore-dynamodb", "--to", "sqlite", "--file", "x.db"], "needs --from-table"],
      [
        ["import", "emmett-postgres", "--from-table", "t", "--to", "postgres"],
        "--from-table is not an option of emmett-postgres",
      ],
      [
        ["import", "emmett-postgres", "--to", "postgres", "--table", "t"],
        "--table is not an option of the postgres store",
      ],
      [
        [
          "import",
          "castore-dynamodb",
          "--from-table",
          "t",
          "--event-store-id",
          "E",
          "--to",
          "sqlite",
          "--batch-size",
          "0",
        ],
        "--batch-size takes an integer",
      ],
      [["import", "emmett-postgres"], "Missing the store"],
      [["import", "emmett-postgres", "--to", "postgres"], "needs the source's URL"],
    ];
    for (const [args, message] of cases) {
      const result = eventflows(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain(message);
    }
    expect(eventflows(["import", "--help"]).stdout).toContain("Usage: eventflows import <source>");
  });
});
