import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LATEST_SCHEMA_VERSION, PostgresEventStore, type PostgresSql } from "../adapters/postgres/index.js";
import { bunSqliteDriver, createSqliteEventStore, LATEST_SQLITE_SCHEMA_VERSION } from "../adapters/sqlite/index.js";
import { ensureDynamoDb } from "../test/services/dynamodb.ts";
import { ensurePostgres, postgresTestClient, uniqueSchema } from "../test/services/postgres.ts";

// `eventflows migrate` and `eventflows stats`, run as the real binary (Bun, the sources) against the
// PostgreSQL and DynamoDB Local of test/services/, and a SQLite file.
const bin = join(import.meta.dirname, "..", "bin", "eventflows.js");
const schema = uniqueSchema("cli_stats");
let url: string;
let sql: PostgresSql;
let dir: string;

beforeAll(async () => {
  url = await ensurePostgres();
  sql = await postgresTestClient();
  dir = mkdtempSync(join(tmpdir(), "eventflows-cli-stores-"));
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
  rmSync(dir, { recursive: true, force: true });
});

function eventflows(args: readonly string[], env: Record<string, string | undefined> = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    cwd: dir,
    env: { ...process.env, DATABASE_URL: undefined, EVENTFLOWS_PG_URL: undefined, ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("eventflows migrate / stats on PostgreSQL", () => {
  test("--tenant-schemas migrates every tenant's schema with that prefix", async () => {
    const env = { EVENTFLOWS_PG_URL: url };
    const prefix = `${schema}_t_`;
    const pg = await import("../adapters/postgres/index.js");
    await pg.migrate(sql, { schema: `${prefix}acme`, to: 3 });
    await pg.ensureTenantSchema(sql, "globex", { schemaPrefix: prefix });
    try {
      const run = eventflows(["migrate", "postgres", "--tenant-schemas", prefix, "--json"], env);
      expect(run).toMatchObject({ code: 0, stderr: "" });
      const later = Array.from({ length: LATEST_SCHEMA_VERSION - 3 }, (_, i) => i + 4);
      expect(JSON.parse(run.stdout)).toEqual({
        store: "postgres",
        tenants: [
          { tenant: "acme", schema: `${prefix}acme`, applied: later, version: LATEST_SCHEMA_VERSION },
          { tenant: "globex", schema: `${prefix}globex`, applied: [], version: LATEST_SCHEMA_VERSION },
        ],
      });
      const text = eventflows(["migrate", "postgres", "--tenant-schemas", prefix], env);
      expect(text.stdout).toContain("postgres: 2 tenant schema(s) migrated.");
      expect(text.stdout).toContain(`${prefix}acme: up to date at version ${LATEST_SCHEMA_VERSION}.`);
      expect(eventflows(["migrate", "postgres", "--tenant-schemas", prefix, "--schema", "x"], env).code).toBe(2);
      // A tenant's schema a newer release migrated: the failure names that schema among the tenants'.
      await sql.unsafe(
        `INSERT INTO ${prefix}globex.migrations (version, name, checksum) VALUES (${LATEST_SCHEMA_VERSION + 1}, 'future', 'x')`,
      );
      const newer = eventflows(["migrate", "postgres", "--tenant-schemas", prefix, "--json"], env);
      expect({ code: newer.code, stdout: newer.stdout }).toEqual({ code: 1, stdout: "" });
      expect(JSON.parse(newer.stderr).error).toEqual({
        code: "CLI_SCHEMA_NEWER",
        message: `tenant schema ${prefix}globex (2 of 2: those before it are migrated, those after it untouched): postgres: the schema is at version ${LATEST_SCHEMA_VERSION + 1}, newer than this release knows (${LATEST_SCHEMA_VERSION}); upgrade @eventflows/core; nothing was changed`,
      });
      await sql.unsafe(`DELETE FROM ${prefix}globex.migrations WHERE version = ${LATEST_SCHEMA_VERSION + 1}`);
      // An empty prefix took every schema named like a tenant id (the store's own "eventflows", this
      // suite's) for a tenant's and migrated it; a malformed one matched nothing and said 0 migrated.
      for (const bad of ["", "Bad", "tenant-", "pg_t_"]) {
        const refused = eventflows(["migrate", "postgres", "--tenant-schemas", bad, "--json"], env);
        expect({ bad, code: refused.code, stdout: refused.stdout }).toEqual({ bad, code: 2, stdout: "" });
        expect(JSON.parse(refused.stderr)).toEqual({
          error: {
            code: "CLI_USAGE",
            message: expect.stringContaining("tenant schema prefix is 1-62 characters of a-z, 0-9 and _"),
          },
        });
      }
    } finally {
      for (const tenant of ["acme", "globex"]) await pg.dropTenantSchema(sql, tenant, { schemaPrefix: prefix });
    }
  });

  test("migrate in steps, idempotently; stats counts events and streams and reads the head", async () => {
    const env = { EVENTFLOWS_PG_URL: url };
    const first = eventflows(["migrate", "postgres", "--schema", schema, "--to", "2", "--json"], env);
    expect(first).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(first.stdout)).toEqual({ store: "postgres", applied: [1, 2], version: 2 });
    const status = eventflows(["migrate", "postgres", "--schema", schema, "--status", "--json"], env);
    expect(status).toMatchObject({ code: 0, stderr: "" });
    const parsed = JSON.parse(status.stdout);
    expect(parsed).toMatchObject({ store: "postgres", version: 2, latest: LATEST_SCHEMA_VERSION });
    expect(parsed.applied.map((m: { name: string }) => m.name)).toEqual(["events", "checkpoints"]);
    expect(parsed.pending).toHaveLength(LATEST_SCHEMA_VERSION - 2);
    const statusText = eventflows(["migrate", "postgres", "--schema", schema, "--status"], env);
    expect(statusText.stdout).toContain(`postgres: schema version 2 of ${LATEST_SCHEMA_VERSION}.`);
    expect(statusText.stdout).toMatch(/pending {2}3 snapshots/);
    expect(eventflows(["migrate", "postgres", "--status", "--to", "3"], env).code).toBe(2);
    const rest = eventflows(["migrate", "postgres", "--schema", schema], env);
    expect(rest.stdout).toContain(`schema is at version ${LATEST_SCHEMA_VERSION}.`);
    const again = eventflows(["migrate", "postgres", "--schema", schema], env);
    expect(again).toMatchObject({
      code: 0,
      stdout: `postgres: schema is up to date at version ${LATEST_SCHEMA_VERSION}.\n`,
    });
    // --to below the schema's version: not "up to date", and not reached (no down-migrations): exit 1.
    const below = eventflows(["migrate", "postgres", "--schema", schema, "--to", "2"], env);
    expect(below).toMatchObject({
      code: 1,
      stdout: "",
      stderr: `eventflows: postgres: the schema is at version ${LATEST_SCHEMA_VERSION}, newer than --to 2; migrations are not undone (there are no down-migrations), so nothing was changed\n`,
    });
    const belowJson = eventflows(["migrate", "postgres", "--schema", schema, "--to", "2", "--json"], env);
    expect(belowJson).toMatchObject({ code: 1, stdout: "" });
    expect(JSON.parse(belowJson.stderr).error.code).toBe("CLI_SCHEMA_NEWER");
    // --to at the schema's version is reached: done, nothing applied.
    const atVersion = eventflows(
      ["migrate", "postgres", "--schema", schema, "--to", String(LATEST_SCHEMA_VERSION)],
      env,
    );
    expect(atVersion).toMatchObject({ code: 0, stderr: "" });
    expect(atVersion.stdout).toContain(`up to date at version ${LATEST_SCHEMA_VERSION}`);

    const store = new PostgresEventStore({ sql, schema });
    await store.appendToStream("Cart-1", [
      { type: "ItemAdded", data: {} },
      { type: "ItemAdded", data: {} },
    ]);
    await store.appendToStream("Cart-2", [{ type: "ItemAdded", data: {} }]);
    const head = await store.getLastGlobalPosition();

    // The URL from a file this time, as eventflows-pg takes it.
    const urlFile = join(dir, "pg-url");
    writeFileSync(urlFile, `${url}\n`, { mode: 0o600 });
    const figures = eventflows(["stats", "postgres", "--url-file", "pg-url", "--schema", schema, "--json"]);
    expect(figures).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(figures.stdout)).toEqual({
      store: "postgres",
      schemaVersion: LATEST_SCHEMA_VERSION,
      events: 3,
      streams: 2,
      headPosition: head,
    });
    expect(head).toBeGreaterThan(0);
    const text = eventflows(["stats", "postgres", "--schema", schema], env);
    expect(text.stdout).toMatch(/events +3\nstreams +2\n/);

    const empty = eventflows(["stats", "postgres", "--schema", uniqueSchema("cli_none"), "--json"], env);
    expect(JSON.parse(empty.stdout)).toMatchObject({ schemaVersion: 0, events: 0, streams: 0, headPosition: 0 });
  });

  test("a password on the command line is a usage error; an unreachable server fails with exit 1, the password unseen", () => {
    const exposed = eventflows(["migrate", "postgres", "--url", "postgres://admin:hunter2-secret@127.0.0.1:1/db"]);
    expect(exposed.code).toBe(2);
    expect(exposed.stderr).not.toContain("hunter2-secret");
    expect(exposed.stderr.trim().split("\n")).toHaveLength(1);

    const down = eventflows(["stats", "postgres", "--json"], {
      DATABASE_URL: "postgres://admin:hunter2-secret@127.0.0.1:1/db",
    });
    expect(down.code).toBe(1);
    expect(down.stderr).not.toContain("hunter2-secret");
    expect(JSON.parse(down.stderr).error.message).toContain("postgres");

    expect(eventflows(["migrate", "postgres"]).code).toBe(2); // no URL anywhere
    expect(eventflows(["migrate", "postgres", "--to", "x"], { DATABASE_URL: url }).code).toBe(2);
    // A version past the shipped migrations is a wrong command line too, named before connecting.
    const past = eventflows(["migrate", "postgres", "--to", String(LATEST_SCHEMA_VERSION + 1), "--json"], {
      DATABASE_URL: "postgres://admin@127.0.0.1:1/db",
    });
    expect(past.code).toBe(2);
    expect(JSON.parse(past.stderr).error).toEqual({
      code: "CLI_USAGE",
      message: `--to takes a schema version from 0 to ${LATEST_SCHEMA_VERSION}`,
    });
    // --status reads one schema: with --tenant-schemas it would show another than the tenants'.
    const tenantStatus = eventflows(["migrate", "postgres", "--status", "--tenant-schemas", "tenant_"], {
      DATABASE_URL: url,
    });
    expect(tenantStatus.code).toBe(2);
    expect(tenantStatus.stderr).toContain("--status and --tenant-schemas do not go together");
    expect(eventflows(["migrate", "postgres", "--file", "x.db"], { DATABASE_URL: url }).code).toBe(2);
    for (const bad of [
      ["--schema", "Bad;Name"],
      ["--prefix", "x-y"],
    ]) {
      const result = eventflows(["migrate", "postgres", ...bad], { DATABASE_URL: url });
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("Invalid");
    }
    expect(eventflows(["migrate", "mysql"]).code).toBe(2);
    expect(eventflows(["stats"]).code).toBe(2);
  });
});

describe("eventflows migrate / stats on SQLite", () => {
  test("migrate creates the file and is idempotent; stats reads it; a missing file fails with exit 1", async () => {
    const first = eventflows(["migrate", "sqlite", "--file", "events.db", "--json"]);
    expect(first).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(first.stdout).version).toBe(LATEST_SQLITE_SCHEMA_VERSION);
    expect(JSON.parse(eventflows(["migrate", "sqlite", "--file", "events.db", "--json"]).stdout).applied).toEqual([]);
    const below = eventflows(["migrate", "sqlite", "--file", "events.db", "--to", "1"]);
    expect(below).toMatchObject({ code: 1, stdout: "" });
    expect(below.stderr).toBe(
      `eventflows: sqlite: the schema is at version ${LATEST_SQLITE_SCHEMA_VERSION}, newer than --to 1; migrations are not undone (there are no down-migrations), so nothing was changed\n`,
    );
    const status = JSON.parse(eventflows(["migrate", "sqlite", "--file", "events.db", "--status", "--json"]).stdout);
    expect(status).toMatchObject({ version: LATEST_SQLITE_SCHEMA_VERSION, pending: [] });
    expect(status.applied).toHaveLength(LATEST_SQLITE_SCHEMA_VERSION);
    const db = new Database(join(dir, "events.db"));
    const store = createSqliteEventStore({ driver: bunSqliteDriver(db) });
    await store.appendToStream("Cart-1", [
      { type: "ItemAdded", data: {} },
      { type: "ItemAdded", data: {} },
    ]);
    db.close();
    const figures = eventflows(["stats", "sqlite", "--file", "events.db", "--json"]);
    expect(JSON.parse(figures.stdout)).toEqual({
      store: "sqlite",
      schemaVersion: LATEST_SQLITE_SCHEMA_VERSION,
      events: 2,
      streams: 1,
      headPosition: 2,
    });
    const missing = eventflows(["stats", "sqlite", "--file", "missing.db"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("No SQLite database");
    expect(eventflows(["migrate", "sqlite"]).code).toBe(2);
    // The option and its rule, as for PostgreSQL: not the adapter's field (tablePrefix). Nothing is created.
    for (const prefix of ["Bad-Prefix", "", "9x", "sqlite_x", "x".repeat(31)]) {
      for (const command of ["migrate", "stats"]) {
        // Before the file is looked at: stats on a file that does not exist gets the same usage error.
        const file = command === "migrate" ? "prefixed.db" : "missing.db";
        const refused = eventflows([command, "sqlite", "--file", file, "--prefix", prefix, "--json"]);
        expect({ prefix, command, code: refused.code, error: JSON.parse(refused.stderr).error }).toEqual({
          prefix,
          command,
          code: 2,
          error: {
            code: "CLI_USAGE",
            message:
              "Invalid --prefix: a table prefix is 1-30 characters of a-z, 0-9 and _, starting with a letter or _, not sqlite_",
          },
        });
      }
    }
    expect(existsSync(join(dir, "prefixed.db"))).toBe(false);
    expect(existsSync(join(dir, "missing.db"))).toBe(false);

    // A target past the shipped migrations: exit 2, and no file left behind.
    const past = eventflows([
      "migrate",
      "sqlite",
      "--file",
      "past.db",
      "--to",
      String(LATEST_SQLITE_SCHEMA_VERSION + 1),
    ]);
    expect(past.code).toBe(2);
    expect(past.stderr).toContain(`--to takes a schema version from 0 to ${LATEST_SQLITE_SCHEMA_VERSION}`);
    expect(existsSync(join(dir, "past.db"))).toBe(false);
    // A path the driver cannot open is a failed store (exit 1) with the CLI's code, not an unexpected error.
    for (const path of ["no-such-dir/events.db", "."]) {
      const unopenable = eventflows(["migrate", "sqlite", "--file", path, "--json"]);
      expect(unopenable.code).toBe(1);
      const { error } = JSON.parse(unopenable.stderr);
      expect(error.code).toBe("CLI_STORE_FAILED");
      expect(error.message).toStartWith(`Cannot open the SQLite database at ${path}: `);
    }
  });
});

describe("migrate --status on a schema newer than this release", () => {
  test("lists the migration this release does not know, with its recorded name and time, on PostgreSQL and SQLite alike", async () => {
    const newer = uniqueSchema("cli_newer");
    const env = { EVENTFLOWS_PG_URL: url };
    const statuses: Record<string, { latest: number; text: string; json: Record<string, unknown> }> = {};
    try {
      expect(eventflows(["migrate", "postgres", "--schema", newer], env).code).toBe(0);
      await sql.unsafe(
        `INSERT INTO ${newer}.migrations (version, name, checksum, applied_at) VALUES ($1, 'from-the-future', 'x', '2027-01-02T03:04:05Z')`,
        [LATEST_SCHEMA_VERSION + 1],
      );
      statuses.postgres = {
        latest: LATEST_SCHEMA_VERSION,
        text: eventflows(["migrate", "postgres", "--schema", newer, "--status"], env).stdout,
        json: JSON.parse(eventflows(["migrate", "postgres", "--schema", newer, "--status", "--json"], env).stdout),
      };
    } finally {
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${newer} CASCADE`);
    }
    expect(eventflows(["migrate", "sqlite", "--file", "newer.db"]).code).toBe(0);
    const db = new Database(join(dir, "newer.db"));
    db.run(
      "INSERT INTO eventflows_migrations (version, name, checksum, applied_at) VALUES (?, 'from-the-future', 'x', '2027-01-02T03:04:05.000Z')",
      [LATEST_SQLITE_SCHEMA_VERSION + 1],
    );
    db.close();
    statuses.sqlite = {
      latest: LATEST_SQLITE_SCHEMA_VERSION,
      text: eventflows(["migrate", "sqlite", "--file", "newer.db", "--status"]).stdout,
      json: JSON.parse(eventflows(["migrate", "sqlite", "--file", "newer.db", "--status", "--json"]).stdout),
    };
    for (const [store, { latest, text, json }] of Object.entries(statuses)) {
      const lines = text.trimEnd().split("\n");
      expect(lines[0]).toBe(`${store}: schema version ${latest + 1} of ${latest}.`);
      expect(lines).toHaveLength(latest + 2);
      expect(lines.at(-1)).toMatch(
        new RegExp(
          `^ {2}applied {2}${latest + 1} from-the-future \\(2027-01-02T03:04:05(\\.000)?Z\\) \\(not in this release\\)$`,
        ),
      );
      // Each applied migration with the time it was applied, in both stores.
      for (const line of lines.slice(1, -1))
        expect(line).toMatch(/^ {2}applied {2}\d+ [a-z-]+ \(\d{4}-\d\d-\d\dT[\d:.]+Z\)$/);
      expect(json).toMatchObject({ store, version: latest + 1, latest, pending: [] });
      expect((json.applied as { version: number; name: string }[]).at(-1)).toMatchObject({
        version: latest + 1,
        name: "from-the-future",
      });
    }
  });
});

describe("migrate on a schema newer than this release", () => {
  // With --to or without, the same refusal a schema past --to gets: CLI_SCHEMA_NEWER, exit 1, nothing
  // changed (with --to it was a SERVICE_ERROR, as if the database had failed).
  const runs = (latest: number) => [[], ["--to", "2"], ["--to", String(latest)]];

  test("PostgreSQL: CLI_SCHEMA_NEWER (exit 1) naming both versions, and the schema is left as it was", async () => {
    const newer = uniqueSchema("cli_newer_run");
    const env = { EVENTFLOWS_PG_URL: url };
    const recorded = () => sql.unsafe(`SELECT version, name FROM ${newer}.migrations ORDER BY version`);
    try {
      expect(eventflows(["migrate", "postgres", "--schema", newer], env).code).toBe(0);
      await sql.unsafe(
        `INSERT INTO ${newer}.migrations (version, name, checksum) VALUES ($1, 'from-the-future', 'x')`,
        [LATEST_SCHEMA_VERSION + 1],
      );
      const before = await recorded();
      const message = `postgres: the schema is at version ${LATEST_SCHEMA_VERSION + 1}, newer than this release knows (${LATEST_SCHEMA_VERSION}); upgrade @eventflows/core; nothing was changed`;
      for (const to of runs(LATEST_SCHEMA_VERSION)) {
        const text = eventflows(["migrate", "postgres", "--schema", newer, ...to], env);
        expect({ to, ...text }).toEqual({ to, code: 1, stdout: "", stderr: `eventflows: ${message}\n` });
        const json = eventflows(["migrate", "postgres", "--schema", newer, ...to, "--json"], env);
        expect({ to, code: json.code, error: JSON.parse(json.stderr).error }).toEqual({
          to,
          code: 1,
          error: { code: "CLI_SCHEMA_NEWER", message },
        });
      }
      expect(await recorded()).toEqual(before);
    } finally {
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${newer} CASCADE`);
    }
  });

  test("SQLite: the same error and exit code, and the file is left as it was", () => {
    expect(eventflows(["migrate", "sqlite", "--file", "newer-run.db"]).code).toBe(0);
    const db = new Database(join(dir, "newer-run.db"));
    const recorded = () => db.query("SELECT version, name FROM eventflows_migrations ORDER BY version").all();
    try {
      db.run(
        "INSERT INTO eventflows_migrations (version, name, checksum, applied_at) VALUES (?, 'from-the-future', 'x', '2027-01-02T03:04:05.000Z')",
        [LATEST_SQLITE_SCHEMA_VERSION + 1],
      );
      const before = recorded();
      const message = `sqlite: the schema is at version ${LATEST_SQLITE_SCHEMA_VERSION + 1}, newer than this release knows (${LATEST_SQLITE_SCHEMA_VERSION}); upgrade @eventflows/core; nothing was changed`;
      for (const to of runs(LATEST_SQLITE_SCHEMA_VERSION)) {
        const text = eventflows(["migrate", "sqlite", "--file", "newer-run.db", ...to]);
        expect({ to, ...text }).toEqual({ to, code: 1, stdout: "", stderr: `eventflows: ${message}\n` });
        const json = eventflows(["migrate", "sqlite", "--file", "newer-run.db", ...to, "--json"]);
        expect({ to, code: json.code, error: JSON.parse(json.stderr).error }).toEqual({
          to,
          code: 1,
          error: { code: "CLI_SCHEMA_NEWER", message },
        });
      }
      expect(recorded()).toEqual(before);
    } finally {
      db.close();
    }
  });
});

describe("eventflows migrate on DynamoDB Local", () => {
  test("creates the event store's table, then finds it", async () => {
    const local = await ensureDynamoDb();
    const env = {
      AWS_ENDPOINT_URL_DYNAMODB: local.endpoint,
      AWS_REGION: local.region,
      AWS_ACCESS_KEY_ID: local.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: local.credentials.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
    };
    const table = `cli-${Date.now().toString(36)}`;
    const created = eventflows(["migrate", "dynamodb", "--table", table, "--json"], env);
    expect(created).toMatchObject({ code: 0, stderr: "" });
    expect(JSON.parse(created.stdout)).toEqual({ store: "dynamodb", table, outcome: "created" });
    const again = eventflows(["migrate", "dynamodb", "--table", table], env);
    expect(again.stdout).toBe(`dynamodb: table ${table} exists and is active.\n`);
    expect(eventflows(["migrate", "dynamodb"], env).code).toBe(2);
    expect(eventflows(["migrate", "dynamodb", "--table", "x"], env).code).toBe(2); // too short a name
    // Key names of a store configured with others.
    const custom = eventflows(
      ["migrate", "dynamodb", "--table", `${table}-keys`, "--partition-key", "PK", "--sort-key", "SK", "--json"],
      env,
    );
    expect(JSON.parse(custom.stdout).outcome).toBe("created");
    // The same table with the default key names is another layout: refused, exit 1.
    const mismatch = eventflows(["migrate", "dynamodb", "--table", `${table}-keys`], env);
    expect(mismatch.code).toBe(1);
    expect(mismatch.stderr.trim().split("\n")).toHaveLength(1);
    expect(eventflows(["stats", "dynamodb", "--table", table], env).code).toBe(2);
  }, 120_000);
});
