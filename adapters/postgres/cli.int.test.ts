import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { ensurePostgres, postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import { LATEST_SCHEMA_VERSION, type PostgresSql, resolvePostgresUrl, runPostgresCli, schemaVersion } from "./index.js";

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
    env: { ...process.env, DATABASE_URL: undefined, EVENTFLOWS_PG_URL: undefined, ...env },
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

    // A migration a later release applied is marked, as `eventflows migrate postgres --status` marks it
    // (cli.md; outside audit: this listed it unmarked).
    await sql.unsafe(
      `INSERT INTO ${schema}.migrations (version, name, checksum) VALUES (${LATEST_SCHEMA_VERSION + 1}, 'from-the-future', 'x')`,
    );
    const newer = cli(["status", "--schema", schema], { DATABASE_URL: url });
    expect(newer.stdout).toMatch(
      new RegExp(`applied {2}${LATEST_SCHEMA_VERSION + 1} from-the-future \\(.+\\) \\(not in this release\\)\n`),
    );
    expect(newer.stdout).not.toMatch(new RegExp(`applied {2}${LATEST_SCHEMA_VERSION} .*not in this release`));
    await sql.unsafe(`DELETE FROM ${schema}.migrations WHERE version = ${LATEST_SCHEMA_VERSION + 1}`);

    // A target below the schema's version is not reached: no down-migrations, so exit 1 saying so, in the
    // words of `eventflows migrate postgres` (CLI_SCHEMA_NEWER).
    const below = cli(["migrate", "--url", url, "--schema", schema, "--to", "2"]);
    expect(below).toMatchObject({
      code: 1,
      stdout: "",
      stderr: `postgres: the schema is at version ${LATEST_SCHEMA_VERSION}, newer than --to 2; migrations are not undone (there are no down-migrations), so nothing was changed\n`,
    });
    expect(await schemaVersion(sql, { schema })).toBe(LATEST_SCHEMA_VERSION);
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
    // The wrapper reads at most 64 KiB of --url-file (the first line is the URL): /dev/zero used to be read for ever.
    const endless = cli(["status", "--url-file", "/dev/zero"]);
    expect(endless.code).toBe(2);
    expect(endless.stderr).toContain("The URL from --url-file is not a PostgreSQL URL");
    for (const bad of [["--schema", "Bad;Name"], ["--schema=pg_catalog"], ["--prefix", "x-y"]]) {
      const badName = cli(["migrate", "--url", url, ...bad]);
      expect(badName.code).toBe(2);
      expect(badName.stderr).toContain("Invalid PostgreSQL names");
    }
    const unreachable = cli(["migrate"], { DATABASE_URL: "postgres://admin:hunter2-secret@127.0.0.1:1/db" });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain("postgres migrate failed");
    expect(unreachable.stderr).not.toContain("hunter2-secret");
    expect(cli(["help"])).toMatchObject({ code: 0 });
    for (const args of [
      ["migrate", "--help"],
      ["status", "-h"],
      ["migrate", "--url", "x", "--help"],
    ]) {
      const result = cli(args);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain("Usage: eventflows-pg");
    }
  });

  test("a failure message that quotes a credential from the URL is printed masked, as the eventflows CLI prints it", async () => {
    // postgres.js quotes a parameter it refuses, and a URL's query may carry a credential by mistake.
    const secret = "hunter2-Zq7secret";
    const err: string[] = [];
    const code = await runPostgresCli(["status", "--schema", schema], {
      stdout: () => undefined,
      stderr: (line) => void err.push(line),
      env: { EVENTFLOWS_PG_URL: `postgres://app@127.0.0.1:1/app?target_session_attrs=api_token=${secret}` },
    });
    expect(code).toBe(1);
    expect(err.join("\n")).toContain("target_session_attrs");
    expect(err.join("\n")).not.toContain(secret);
  });

  test("a password on the command line is refused (ps shows it); the URL comes from the environment or --url-file", async () => {
    const exposed = cli(["status", "--url", "postgres://admin:hunter2-secret@127.0.0.1:1/db"]);
    expect(exposed.code).toBe(2);
    expect(exposed.stderr).toContain("EVENTFLOWS_PG_URL");
    expect(exposed.stderr).not.toContain("hunter2-secret");

    const dir = mkdtempSync(join(tmpdir(), "eventflows-cli-"));
    try {
      const file = join(dir, "url");
      writeFileSync(file, `${url}\n`, { mode: 0o600 });
      const fromFile = cli(["status", `--url-file=${file}`, "--schema", schema]);
      expect(fromFile).toMatchObject({ code: 0 });
      expect(fromFile.stdout).toContain(`of ${LATEST_SCHEMA_VERSION}.`);
      expect(cli(["status", "--url-file", join(dir, "missing")]).code).toBe(2);
      // Only the first line is read: one left blank is said to be, not the file to be empty.
      writeFileSync(join(dir, "blank-first"), `\n${url}\n`);
      writeFileSync(join(dir, "empty"), " \n\n");
      const blank = cli(["status", "--url-file", join(dir, "blank-first")]);
      expect(blank.code).toBe(2);
      expect(blank.stderr).toStartWith(
        `The URL file "${join(dir, "blank-first")}" has no URL on its first line (only the first line is read).\n`,
      );
      expect(cli(["status", "--url-file", join(dir, "empty")]).stderr).toStartWith(
        `The URL file "${join(dir, "empty")}" is empty.\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // EVENTFLOWS_PG_URL first, then DATABASE_URL.
    const both = cli(["status", "--schema", schema], {
      EVENTFLOWS_PG_URL: url,
      DATABASE_URL: "postgres://nobody@127.0.0.1:1/none",
    });
    expect(both).toMatchObject({ code: 0 });
  });

  test("generated credentials: --url with any password is refused with exit 2 and the password is never printed (property)", async () => {
    const part = fc.string({ minLength: 1, maxLength: 16 }).map(encodeURIComponent);
    // A marker no output text contains, so that a printed password would show.
    const secret = part.map((text) => `Pw~${text}`);
    await fc.assert(
      fc.asyncProperty(part, secret, async (user, password) => {
        const out: string[] = [];
        const code = await runPostgresCli(["migrate", "--url", `postgres://${user}:${password}@db.internal:5432/app`], {
          stdout: (line) => void out.push(line),
          stderr: (line) => void out.push(line),
          env: {},
        });
        expect(code).toBe(2);
        expect(out.join("\n")).not.toContain(password);
      }),
    );
  });

  test("a URL typed as the command or as an option's value is refused with exit 2, its password not echoed (property)", async () => {
    const part = fc.string({ minLength: 1, maxLength: 16 }).map(encodeURIComponent);
    const secret = part.map((text) => `Pw~${text}`);
    const slot = fc.constantFrom(
      (url: string) => [url],
      (url: string) => ["migrate", url],
      (url: string) => ["status", "--schema", url],
      (url: string) => ["migrate", "--to", url],
    );
    await fc.assert(
      fc.asyncProperty(part, secret, slot, async (user, password, args) => {
        const out: string[] = [];
        const code = await runPostgresCli(args(`postgres://${user}:${password}@db.internal:5432/app`), {
          stdout: (line) => void out.push(line),
          stderr: (line) => void out.push(line),
          env: {},
        });
        expect(code).toBe(2);
        expect(out.join("\n")).not.toContain(password);
      }),
    );
  });

  test("an argument holding control characters is quoted with them spelt out: the terminal is not rewritten (property)", async () => {
    const control = fc.constantFrom("\r", "\u001b[2J", "\u001b]0;title\u0007", "\u0000", "\u009b", "\u202e", "\u2028");
    const text = fc.array(fc.oneof(fc.string({ minLength: 1, maxLength: 5 }), control), { minLength: 1, maxLength: 6 });
    const slot = fc.constantFrom(
      (arg: string) => [`x${arg}`],
      (arg: string) => ["migrate", `--x${arg}`],
      (arg: string) => ["status", `x${arg}`],
    );
    await fc.assert(
      fc.asyncProperty(text, slot, async (parts, args) => {
        const err: string[] = [];
        const code = await runPostgresCli(args(parts.join("")), {
          stdout: () => undefined,
          stderr: (line) => void err.push(line),
          env: {},
        });
        expect(code).toBe(2);
        const unprintable =
          // biome-ignore lint/suspicious/noControlCharactersInRegex: what must not be printed (newlines part the usage)
          /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
        expect(err.join("\n")).not.toMatch(unprintable);
      }),
    );
  });

  test("the env given is read before the process's: its DATABASE_URL is not outranked by an ambient EVENTFLOWS_PG_URL", async () => {
    const ambient = process.env.EVENTFLOWS_PG_URL;
    process.env.EVENTFLOWS_PG_URL = "postgres://ambient@prod.internal/app";
    try {
      const given = { DATABASE_URL: "postgres://given@staging.internal/app" };
      expect(await resolvePostgresUrl({}, { env: given })).toBe(given.DATABASE_URL);
      expect(await resolvePostgresUrl({}, { env: { ...given, EVENTFLOWS_PG_URL: "postgres://first@h/app" } })).toBe(
        "postgres://first@h/app",
      );
      // Nothing given: the process's variables, as before.
      expect(await resolvePostgresUrl({}, { env: {} })).toBe("postgres://ambient@prod.internal/app");
    } finally {
      if (ambient === undefined) delete process.env.EVENTFLOWS_PG_URL;
      else process.env.EVENTFLOWS_PG_URL = ambient;
    }
  });

  test("a URL of another database (mysql://, no scheme) is a usage error naming the schemes taken, never tried", async () => {
    for (const [env, scheme] of [
      [{ DATABASE_URL: "mysql://root:hunter2-secret@127.0.0.1:1/app" }, "its scheme is mysql:"],
      [{ EVENTFLOWS_PG_URL: "sqlite://events.db" }, "its scheme is sqlite:"],
      [{ EVENTFLOWS_PG_URL: "127.0.0.1" }, "it has no scheme"],
    ] as const) {
      // A closed port: had the URL been tried, the command would have failed to connect (exit 1).
      const result = cli(["status"], env);
      expect(result.code).toBe(2);
      const variable = Object.keys(env)[0];
      expect(result.stderr).toStartWith(
        `The URL from $${variable} is not a PostgreSQL URL (${scheme}): it must start with postgres:// or postgresql://.\n`,
      );
      expect(result.stderr).not.toContain("hunter2-secret");
    }
    await expect(resolvePostgresUrl({ url: "mysql://root@127.0.0.1:1/app" }, { env: {} })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
      message:
        "The URL from --url is not a PostgreSQL URL (its scheme is mysql:): it must start with postgres:// or postgresql://.",
    });
    expect(await resolvePostgresUrl({ url: "postgresql://u@127.0.0.1:1/app" }, { env: {} })).toBe(
      "postgresql://u@127.0.0.1:1/app",
    );
  });

  test("without the postgres package installed, the command prints one line saying to install it", () => {
    // A copy of the command beside a stand-in build whose only import is the missing package.
    const dir = mkdtempSync(join(tmpdir(), "eventflows-nopg-"));
    try {
      mkdirSync(join(dir, "bin"));
      mkdirSync(join(dir, "dist", "adapters", "postgres"), { recursive: true });
      writeFileSync(join(dir, "package.json"), '{ "type": "module" }');
      copyFileSync(bin, join(dir, "bin", "eventflows-pg.js"));
      writeFileSync(
        join(dir, "dist", "adapters", "postgres", "index.js"),
        'import postgres from "postgres";\nexport const runPostgresCli = async () => 0;\n',
      );
      const result = spawnSync("node", [join(dir, "bin", "eventflows-pg.js"), "status"], { encoding: "utf8" });
      expect(result.status).toBe(1);
      expect(result.stdout).toBe("");
      expect(result.stderr.trim().split("\n")).toEqual([
        "eventflows-pg needs the postgres package (postgres.js): run `npm install postgres` and try again.",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // It printed the adapter's ServiceError ("postgres migrate failed (SCHEMA_TOO_NEW): ..."), as if the database
  // had failed, where `eventflows migrate postgres` reports CLI_SCHEMA_NEWER (cli/stores.int.test.ts).
  test("migrate on a schema newer than this release: exit 1 with the message of eventflows migrate postgres, with --to or without, nothing changed", async () => {
    const newer = uniqueSchema("cli_pg_newer");
    const recorded = () => sql.unsafe(`SELECT version, name, checksum FROM ${newer}.migrations ORDER BY version`);
    try {
      expect(cli(["migrate", "--schema", newer], { EVENTFLOWS_PG_URL: url }).code).toBe(0);
      await sql.unsafe(
        `INSERT INTO ${newer}.migrations (version, name, checksum) VALUES ($1, 'from-the-future', 'x')`,
        [LATEST_SCHEMA_VERSION + 1],
      );
      const before = await recorded();
      const message = `postgres: the schema is at version ${LATEST_SCHEMA_VERSION + 1}, newer than this release knows (${LATEST_SCHEMA_VERSION}); upgrade @eventflows/core; nothing was changed`;
      for (const to of [[], ["--to", "2"], ["--to", String(LATEST_SCHEMA_VERSION)]]) {
        const run = cli(["migrate", "--schema", newer, ...to], { EVENTFLOWS_PG_URL: url });
        expect({ to, ...run }).toEqual({ to, code: 1, stdout: "", stderr: `${message}\n` });
      }
      expect(await recorded()).toEqual(before);
      const lines: string[] = [];
      const code = await runPostgresCli(["migrate", "--schema", newer], {
        stdout: (line) => void lines.push(line),
        stderr: (line) => void lines.push(line),
        env: { DATABASE_URL: url },
      });
      expect({ code, lines }).toEqual({ code: 1, lines: [message] });
    } finally {
      await sql.unsafe(`DROP SCHEMA IF EXISTS ${newer} CASCADE`);
    }
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
