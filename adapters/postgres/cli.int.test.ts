import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ensurePostgres, postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import { LATEST_SCHEMA_VERSION, type PostgresSql, runPostgresCli, schemaVersion } from "./index.js";

const bin = join(import.meta.dirname, "..", "..", "bin", "eventflows-pg.js");
let url: string;
let sql: PostgresSql;
const schema = uniqueSchema("cli");

beforeAll(async () => {
  url = await ensurePostgres();
  sql = await postgresTestClient();
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: undefined, ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("eventflows-pg command", () => {
  test("migrate applies the pending migrations in steps, then reports the schema up to date", async () => {
    const first = cli(["migrate", "--url", url, "--schema", schema, "--to", "1"]);
    expect(first).toMatchObject({ code: 0 });
    expect(first.stdout).toContain("Applied migration(s) 1; schema is at version 1.");
    expect(await schemaVersion(sql, { schema })).toBe(1);

    const status = cli(["status", "--schema", schema], { DATABASE_URL: url });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`Schema version 1 of ${LATEST_SCHEMA_VERSION}.`);
    expect(status.stdout).toMatch(/applied {2}1 events/);
    expect(status.stdout).toMatch(/pending {2}2 checkpoints/);

    const rest = cli(["migrate", "--schema", schema], { DATABASE_URL: url });
    expect(rest.stdout).toContain(`schema is at version ${LATEST_SCHEMA_VERSION}.`);
    const again = cli(["migrate", "--url", url, "--schema", schema]);
    expect(again).toMatchObject({ code: 0 });
    expect(again.stdout).toContain(`Schema is up to date at version ${LATEST_SCHEMA_VERSION}.`);
  });

  test("usage errors exit 2 with the usage text; failures exit 1 without leaking the password", () => {
    for (const args of [
      ["frobnicate"],
      ["migrate", "--bogus", "x"],
      ["migrate", "--to", "two"],
      ["status", "--to", "1"],
      ["migrate", "--url"],
    ]) {
      const result = cli(args);
      expect(result.code).toBe(2);
      expect(result.stderr).toContain("Usage: eventflows-pg");
    }
    expect(cli(["migrate"]).stderr).toContain("No database");
    const badName = cli(["migrate", "--url", url, "--schema", "Bad;Name"]);
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain("Invalid PostgreSQL names");
    const unreachable = cli(["migrate", "--url", "postgres://admin:hunter2-secret@127.0.0.1:1/db"]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("postgres migrate failed");
    expect(unreachable.stderr).not.toContain("hunter2-secret");
    expect(cli(["help"])).toMatchObject({ code: 0 });
  });

  test("runPostgresCli is callable from code, with any output sink", async () => {
    const out: string[] = [];
    const code = await runPostgresCli(["status", "--schema", uniqueSchema("cli_status")], {
      stdout: (line) => void out.push(line),
      stderr: (line) => void out.push(line),
      env: { DATABASE_URL: url },
    });
    expect(code).toBe(0);
    expect(out[0]).toBe(`Schema version 0 of ${LATEST_SCHEMA_VERSION}.`);
  });
});
