/**
 * What the command says to the person at the command line, run in-process (`runCli`) with no service:
 * DynamoDB settings missing from the environment name the variables to set (not the adapter's
 * `region`/`env` options, which are for code), and a negative number after an option that takes a
 * value is checked as that option's value (exit 2 saying what is wrong with it), not refused by
 * parseArgs as "ambiguous".
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import type { EnvSource } from "../src/index.js";
import { runCli } from "./main.js";

async function eventflows(args: readonly string[], env: EnvSource = {}) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const cwd = mkdtempSync(join(tmpdir(), "eventflows-cli-line-"));
  const code = await runCli(args, {
    stdout: (text) => stdout.push(text),
    stderr: (text) => stderr.push(text),
    env,
    cwd,
  });
  return { code, stdout: stdout.join("\n"), stderr: stderr.join("\n"), cwd };
}

describe("DynamoDB without its AWS settings", () => {
  const keys = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN with temporary credentials)";

  test("migrate dynamodb: exit 1 naming the variables to set, nothing about the adapter's `env` option", async () => {
    const run = await eventflows(["migrate", "dynamodb", "--table", "orders_events"]);
    expect(run).toMatchObject({ code: 1, stdout: "" });
    expect(run.stderr).toBe(
      "eventflows: DynamoDB is configured from the AWS variables of the environment: " +
        "set AWS_REGION (or AWS_DEFAULT_REGION) to the table's region, e.g. eu-west-1; " +
        `${keys}; AWS_PROFILE and ~/.aws are not read: \`aws configure export-credentials --format env\` prints the variables`,
    );
    for (const codeWording of ["`env`", "ambient", "pass `region`", "pass `credentials`"]) {
      expect(run.stderr).not.toContain(codeWording);
    }
  });

  test("a region but no keys, --json: the VALIDATION_FAILED code, the keys to set", async () => {
    const run = await eventflows(["migrate", "dynamodb", "--table", "orders_events", "--json"], {
      AWS_REGION: "eu-west-1",
    });
    expect(run.code).toBe(1);
    const { error } = JSON.parse(run.stderr) as { error: { code: string; message: string } };
    expect(error.code).toBe("VALIDATION_FAILED");
    expect(error.message).toContain(keys);
    expect(error.message).not.toContain("AWS_REGION");
  });

  test("a malformed region or endpoint is named by its variable, the endpoint not echoed", async () => {
    const run = await eventflows(["migrate", "dynamodb", "--table", "orders_events"], {
      AWS_REGION: "Europe West",
      AWS_ENDPOINT_URL_DYNAMODB: "http://admin:hunter2@127.0.0.1:8000",
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret",
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('AWS_REGION: "Europe West" is not a region name');
    expect(run.stderr).toContain("AWS_ENDPOINT_URL_DYNAMODB (or AWS_ENDPOINT_URL) must be an http(s) URL");
    expect(run.stderr).not.toContain("hunter2");
  });

  test("rebuild and import use the same wording", async () => {
    const module = join(import.meta.dirname, "..", "test", "fixtures", "cli-cart-projection.ts");
    const rebuilt = await eventflows(["rebuild", module, "--store", "dynamodb", "--table", "orders_events"]);
    expect(rebuilt.code).toBe(1);
    expect(rebuilt.stderr).toContain("set AWS_REGION (or AWS_DEFAULT_REGION)");
    expect(rebuilt.stderr).not.toContain("`env`");
    const imported = await eventflows([
      "import",
      "castore-dynamodb",
      "--from-table",
      "castore_events",
      "--event-store-id",
      "carts",
      "--to",
      "sqlite",
      "--file",
      "events.db",
    ]);
    expect(imported.code).toBe(1);
    expect(imported.stderr).toContain("set AWS_REGION (or AWS_DEFAULT_REGION)");
    expect(imported.stderr).not.toContain("`env`");
  });
});

describe("a store option left out", () => {
  test("rebuild --store dynamodb without --table says it needs one, as migrate and import do (exit 2)", async () => {
    const module = join(import.meta.dirname, "..", "test", "fixtures", "cli-cart-projection.ts");
    const needs = "eventflows: The dynamodb store needs --table <name>";
    expect(await eventflows(["migrate", "dynamodb"])).toMatchObject({
      code: 2,
      stderr: `${needs} (see: eventflows migrate --help)`,
    });
    for (const table of [[], ["--table="]]) {
      expect(await eventflows(["rebuild", module, "--store", "dynamodb", ...table])).toMatchObject({
        code: 2,
        stdout: "",
        stderr: `${needs} (see: eventflows rebuild --help)`,
      });
    }
  });
});

describe("a checkout run on Node before its build", () => {
  test("both commands say in one line to build first (exit 1), no module-not-found stack", () => {
    const checkout = mkdtempSync(join(tmpdir(), "eventflows-unbuilt-"));
    cpSync(join(import.meta.dirname, "..", "bin"), join(checkout, "bin"), { recursive: true });
    for (const [bin, message] of [
      ["eventflows.js", "eventflows: dist/cli/main.js is missing"],
      ["eventflows-pg.js", "eventflows-pg: dist/adapters/postgres/index.js is missing"],
    ] as const) {
      const run = spawnSync("node", [join(checkout, "bin", bin), "--help"], { encoding: "utf8" });
      expect({ code: run.status, stdout: run.stdout }).toEqual({ code: 1, stdout: "" });
      expect(run.stderr).toBe(`${message}: build the package first (npm run build), or run it with Bun\n`);
    }
  });
});

describe("a projection module whose export cannot be read", () => {
  test("a getter that throws is CLI_MODULE_FAILED (exit 1) saying so, as a module that cannot be imported is", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "eventflows-cli-module-"));
    writeFileSync(join(cwd, "getter.mjs"), 'export default { get projection() { throw new Error("not ready"); } };\n');
    const stdout: string[] = [];
    const stderr: string[] = [];
    const code = await runCli(["replay", "getter.mjs", "--store", "sqlite", "--file", "events.db", "--json"], {
      stdout: (text) => stdout.push(text),
      stderr: (text) => stderr.push(text),
      env: {},
      cwd,
    });
    expect({ code, stdout }).toEqual({ code: 1, stdout: [] });
    expect(stderr.map((line) => JSON.parse(line))).toEqual([
      {
        error: { code: "CLI_MODULE_FAILED", message: 'Could not read the export "default" of getter.mjs: not ready' },
      },
    ]);
  });
});

// A missing file was reported first (exit 1), and the bad --prefix only once the file existed; PostgreSQL's
// options were already checked before the server is reached.
describe("a SQLite store's options are checked before its file is looked at", () => {
  test("a bad --prefix with a missing --file is the usage error about the prefix (exit 2), for every command that reads a file; nothing is created", async () => {
    const message =
      "Invalid --prefix: a table prefix is 1-30 characters of a-z, 0-9 and _, starting with a letter or _, not sqlite_";
    for (const args of [
      ["stats", "sqlite"],
      ["migrate", "sqlite", "--status"],
      ["migrate", "sqlite"],
    ]) {
      const run = await eventflows([...args, "--file", "missing.db", "--prefix", "9x", "--json"]);
      expect({ args, code: run.code, stdout: run.stdout, error: JSON.parse(run.stderr).error }).toEqual({
        args,
        code: 2,
        stdout: "",
        error: { code: "CLI_USAGE", message },
      });
      expect(existsSync(join(run.cwd, "missing.db"))).toBe(false);
    }
    // With a good prefix, the missing file is what is wrong.
    const missing = await eventflows(["stats", "sqlite", "--file", "missing.db", "--prefix", "app_", "--json"]);
    expect({ code: missing.code, error: JSON.parse(missing.stderr).error }).toEqual({
      code: 1,
      error: { code: "CLI_STORE_FAILED", message: "No SQLite database at missing.db" },
    });
  });
});

describe("a name the adapter refuses", () => {
  test("is exit 2 naming the option typed, not the adapter's field (tablePrefix, tableName, schemaPrefix)", async () => {
    const cases: [string[], string][] = [
      [
        ["migrate", "postgres", "--schema", "Bad;x", "--prefix", "x-y"],
        "Invalid --schema, --prefix: a schema name is 1-63 characters of a-z, 0-9 and _, starting with a letter or _ (and not pg_, which PostgreSQL reserves); a table prefix is 0-30 characters of a-z, 0-9 and _, starting with a letter or _",
      ],
      [
        ["migrate", "postgres", "--tenant-schemas", "pg_x"],
        "Invalid --tenant-schemas: a tenant schema prefix is 1-62 characters of a-z, 0-9 and _, starting with a letter or _ (and not pg_, which PostgreSQL reserves)",
      ],
      [
        ["migrate", "dynamodb", "--table", "ab", "--sort-key", "pk"],
        "Invalid --table, --sort-key: a table name has 3 to 255 characters among a-z, A-Z, 0-9, '_', '-' and '.'; the sort key must differ from the partition key",
      ],
      [
        [
          "import",
          "castore-dynamodb",
          "--from-table",
          "ab",
          "--event-store-id",
          "CARTS",
          "--to",
          "sqlite",
          "--file",
          "a.db",
        ],
        "Invalid --from-table: a table name has 3 to 255 characters among a-z, A-Z, 0-9, '_', '-' and '.'",
      ],
      // Streams are named <category>-<aggregateId>: a category holding "-" would file them all under its first part.
      [
        [
          "import",
          "castore-dynamodb",
          "--from-table",
          "carts",
          "--event-store-id",
          "CARTS",
          "--category",
          "Shop-Cart",
          "--to",
          "sqlite",
          "--file",
          "a.db",
        ],
        'Invalid --category: "Shop-Cart" contains "-", which separates a stream\'s category from its id',
      ],
      [
        [
          "import",
          "castore-dynamodb",
          "--from-table",
          "carts",
          "--event-store-id",
          "CARTS",
          "--category=",
          "--to",
          "sqlite",
          "--file",
          "a.db",
        ],
        "Invalid --category: the category must not be empty",
      ],
      [
        [
          "import",
          "castore-dynamodb",
          "--from-table",
          "carts",
          "--event-store-id",
          "shopping-carts",
          "--to",
          "sqlite",
          "--file",
          "a.db",
        ],
        'The event store id "shopping-carts" cannot be the streams\' category ("shopping-carts" contains "-", which separates a stream\'s category from its id): name one with --category',
      ],
    ];
    // A DynamoDB endpoint nothing listens on: a request made before the check would fail there (exit 1).
    const aws = {
      AWS_REGION: "eu-west-1",
      AWS_ENDPOINT_URL_DYNAMODB: "http://127.0.0.1:1",
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SECRET_ACCESS_KEY: "secret",
    };
    for (const [args, message] of cases) {
      const run = await eventflows(args, aws);
      expect({ args, code: run.code, stderr: run.stderr }).toEqual({
        args,
        code: 2,
        stderr: `eventflows: ${message} (see: eventflows ${args[0]} --help)`,
      });
    }
  });
});

describe("an option before the command", () => {
  test("is exit 2 saying that the command comes first, then its options", async () => {
    for (const flag of ["--verbose", "--json", "--store"]) {
      const run = await eventflows([flag, "stats", "sqlite", "--file", "events.db"]);
      expect(run.code).toBe(2);
      const said = flag === "--json" ? JSON.parse(run.stderr).error.message : run.stderr;
      expect(said).toContain(
        `Unknown command "${flag}": the command comes first and its options after it (eventflows <command> ${flag} ...)`,
      );
    }
    // A word that is no command keeps the short message.
    expect((await eventflows(["stat"])).stderr).toStartWith('eventflows: Unknown command "stat": one of generate,');
  });
});

describe("--version and --help before any command", () => {
  test("refuse an unknown option or an argument after them (exit 2), as every command does", async () => {
    const cases: [string[], string][] = [
      [["--version", "--bogus"], "Unknown option '--bogus'"],
      [["--version", "stats"], 'Unexpected argument "stats"'],
      [["--version", "--json=yes"], "Option '--json' does not take an argument"],
      [["--help", "--bogus"], "Unknown option '--bogus'"],
      [["-h", "stats", "migrate"], 'Unexpected argument "migrate"'],
    ];
    for (const [args, message] of cases) {
      const run = await eventflows(args);
      expect({ args, ...run, cwd: undefined }).toEqual({
        args,
        code: 2,
        stdout: "",
        stderr: `eventflows: ${message} (see: eventflows --help)`,
        cwd: undefined,
      });
    }
  });

  test("still print the version (as JSON with --json) or the usage, exit 0", async () => {
    const usage = (await eventflows([])).stdout;
    expect(usage).toStartWith("Usage: eventflows <command> [options]");
    const version = (await eventflows(["--version"])).stdout;
    expect(version).toMatch(/^\d+\.\d+\.\d+/);
    expect(await eventflows(["--version", "--json"])).toMatchObject({
      code: 0,
      stdout: JSON.stringify({ version }),
      stderr: "",
    });
    expect(await eventflows(["--version", "--verbose"])).toMatchObject({ code: 0, stdout: version, stderr: "" });
    for (const args of [["--help"], ["-h"], ["--help", "--verbose"], ["--version", "--help"]]) {
      expect({ args, ...(await eventflows(args)), cwd: undefined }).toMatchObject({ args, code: 0, stdout: usage });
    }
    // As `help stats` does.
    expect(await eventflows(["--help", "stats"])).toMatchObject({
      code: 0,
      stdout: (await eventflows(["help", "stats"])).stdout,
    });
  });
});

describe("help, a command like the others", () => {
  test("help --help, help -h and help help print the usage (exit 0), as --help does for every command", async () => {
    const usage = (await eventflows(["--help"])).stdout;
    expect(usage).toStartWith("Usage: eventflows <command> [options]");
    for (const args of [["help"], ["help", "--help"], ["help", "-h"], ["help", "help"], ["help", "--verbose"]]) {
      expect({ args, ...(await eventflows(args)) }).toMatchObject({ args, code: 0, stdout: usage, stderr: "" });
    }
    const stats = await eventflows(["help", "stats"]);
    expect(stats).toMatchObject({ code: 0, stderr: "" });
    expect(stats.stdout).toStartWith("Usage: eventflows stats <store> [options]");
  });

  test("an unknown option or a second topic is exit 2 naming it, as for the other commands", async () => {
    expect(await eventflows(["help", "--bogus"])).toMatchObject({
      code: 2,
      stdout: "",
      stderr: "eventflows: Unknown option '--bogus' (see: eventflows help --help)",
    });
    expect(await eventflows(["help", "stats", "migrate"])).toMatchObject({
      code: 2,
      stdout: "",
      stderr: 'eventflows: Unexpected argument "migrate" (see: eventflows help --help)',
    });
    expect(await eventflows(["help", "stat"])).toMatchObject({
      code: 2,
      stderr:
        'eventflows: Unknown command "stat": one of generate, migrate, stats, rebuild, replay, import, help (see: eventflows --help)',
    });
  });
});

describe("a negative number as an option's value", () => {
  test("migrate --to -1: exit 2 saying it is no schema version, before the SQLite file is created", async () => {
    const run = await eventflows(["migrate", "sqlite", "--file", "events.db", "--to", "-1"]);
    expect(run).toMatchObject({
      code: 2,
      stderr: 'eventflows: --to takes a schema version number, not "-1" (see: eventflows migrate --help)',
    });
    expect(existsSync(join(run.cwd, "events.db"))).toBe(false);
  });

  test("replay --rate -5 and --after -1, rebuild --batch-size -3: exit 2 saying what each takes", async () => {
    const store = ["--store", "sqlite", "--file", "events.db"];
    const rate = await eventflows(["replay", "projection.ts", ...store, "--rate", "-5"]);
    expect(rate).toMatchObject({
      code: 2,
      stderr:
        'eventflows: --rate takes a positive number of events per second, not "-5" (see: eventflows replay --help)',
    });
    const fraction = await eventflows(["replay", "projection.ts", ...store, "--rate", "-.5"]);
    expect(fraction.stderr).toContain('--rate takes a positive number of events per second, not "-.5"');
    // Only decimal notation: what Number() alone would read as another number is refused.
    for (const odd of ["0x10", "1e3", " 5", "5.", "0", "0.0", "Infinity"]) {
      const run = await eventflows(["replay", "projection.ts", ...store, "--rate", odd]);
      expect(run, odd).toMatchObject({ code: 2 });
      expect(run.stderr).toContain(`--rate takes a positive number of events per second, not "${odd}"`);
    }
    const after = await eventflows(["replay", "projection.ts", ...store, "--after", "-1"]);
    expect(after).toMatchObject({ code: 2 });
    expect(after.stderr).toContain('--after takes an integer from 0 to 9007199254740991, not "-1"');
    const batch = await eventflows(["rebuild", "projection.ts", ...store, "--batch-size", "-3"]);
    expect(batch).toMatchObject({ code: 2 });
    expect(batch.stderr).toContain('--batch-size takes an integer from 1 to 10000, not "-3"');
    for (const run of [rate, fraction, after, batch]) expect(run.stderr).not.toContain("ambiguous");
  });

  test("a value that looks like an option is still refused, saying how to pass it; `--` ends the options", async () => {
    const flag = await eventflows(["migrate", "sqlite", "--file", "events.db", "--to", "--verbose"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toStartWith(
      'eventflows: --to needs a value, and "--verbose" is taken for an option: write --to=--verbose if it is the value',
    );
    const prefix = await eventflows(["migrate", "sqlite", "--file", "events.db", "--prefix", "-x"]);
    expect(prefix).toMatchObject({
      code: 2,
      stderr:
        'eventflows: --prefix needs a value, and "-x" is taken for an option: write --prefix=-x if it is the value (see: eventflows migrate --help)',
    });
    // After `--`, "-1" is a positional: migrate takes none besides the store.
    const positional = await eventflows(["migrate", "sqlite", "--file", "events.db", "--", "--to", "-1"]);
    expect(positional.code).toBe(2);
    expect(positional.stderr).toContain('Unexpected argument "--to"');
  });
});

describe("an option given twice", () => {
  test("is exit 2 naming it, not the last one kept: a --url with a password is not masked by a second --url", async () => {
    // Both point at a closed port: had the second been taken, the command would fail to connect (exit 1).
    const url = await eventflows([
      "migrate",
      "postgres",
      "--url",
      "postgres://ops:s3cret-pw@127.0.0.1:1/app",
      "--url",
      "postgres://ops@127.0.0.1:1/app",
    ]);
    expect(url).toMatchObject({
      code: 2,
      stdout: "",
      stderr: "eventflows: --url is given twice (see: eventflows migrate --help)",
    });
    expect(url.stderr).not.toContain("s3cret");
    const file = await eventflows(["migrate", "sqlite", "--file=a.db", "--file", "b.db", "--json"]);
    expect(file.code).toBe(2);
    expect(JSON.parse(file.stderr)).toEqual({ error: { code: "CLI_USAGE", message: "--file is given twice" } });
    expect(existsSync(join(file.cwd, "a.db")) || existsSync(join(file.cwd, "b.db"))).toBe(false);
    // A flag twice changes nothing: it is still one flag.
    const flags = await eventflows(["generate", "event", "CartOpened", "--json", "--json"]);
    expect(flags.code).toBe(0);
  });
});

describe("a connection URL typed where something else goes", () => {
  test("is a usage error whose message, --json or not, --verbose or not, shows no password (property)", async () => {
    const part = fc.string({ minLength: 1, maxLength: 16 }).map(encodeURIComponent);
    // A marker no output text contains, so that a printed password would show.
    const secret = part.map((text) => `Pw~${text}`);
    const slot = fc.constantFrom(
      (url: string) => ["migrate", url],
      (url: string) => ["migrate", "postgres", url],
      (url: string) => ["stats", url, "--json"],
      (url: string) => ["migrate", "postgres", "--schema", url, "--verbose"],
      (url: string) => ["replay", "projection.ts", "--store", url],
      (url: string) => ["import", url, "--to", "sqlite", "--file", "events.db"],
      (url: string) => ["help", url],
      (url: string) => [url],
    );
    await fc.assert(
      fc.asyncProperty(part, secret, slot, async (user, password, args) => {
        const run = await eventflows(args(`postgres://${user}:${password}@db.internal:5432/app`));
        expect(run.code).toBe(2);
        expect(`${run.stdout}\n${run.stderr}`).not.toContain(password);
      }),
      { numRuns: 50 },
    );
  });
});

describe("the environment a command is given", () => {
  test("is the whole of it: variables it lacks are not read from the process (postgres URL, AWS region)", async () => {
    const saved = { ...process.env };
    // Were the process's read, the command would try this server (a closed port: exit 1) or this region.
    process.env.EVENTFLOWS_PG_URL = "postgres://ambient@127.0.0.1:1/app";
    process.env.DATABASE_URL = "postgres://ambient@127.0.0.1:1/app";
    process.env.AWS_REGION = "eu-west-1";
    process.env.EVENTFLOWS_IMPORT_SOURCE_URL = "postgres://ambient@127.0.0.1:1/shop";
    try {
      for (const args of [
        ["stats", "postgres"],
        ["migrate", "postgres", "--status"],
        ["migrate", "postgres"],
      ]) {
        const run = await eventflows([...args, "--json"], { PATH: "/usr/bin" });
        expect({ args, code: run.code }).toEqual({ args, code: 2 });
        expect(JSON.parse(run.stderr).error.message).toBe(
          "No database: set EVENTFLOWS_PG_URL or DATABASE_URL, or pass --url-file.",
        );
      }
      // An empty value is unset, as readEnv has it.
      expect((await eventflows(["stats", "postgres"], { DATABASE_URL: "" })).code).toBe(2);
      const dynamo = await eventflows(["migrate", "dynamodb", "--table", "orders_events"], {
        AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY: "secret",
      });
      expect(dynamo.code).toBe(1);
      expect(dynamo.stderr).toContain("set AWS_REGION (or AWS_DEFAULT_REGION) to the table's region");
      const source = await eventflows(["import", "emmett-postgres", "--to", "sqlite", "--file", "events.db"]);
      expect(source.code).toBe(2);
      expect(source.stderr).toContain("emmett-postgres needs the source's URL");
    } finally {
      for (const name of ["EVENTFLOWS_PG_URL", "DATABASE_URL", "AWS_REGION", "EVENTFLOWS_IMPORT_SOURCE_URL"]) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
  });
});

describe("a URL of another database than PostgreSQL", () => {
  test("is refused before connecting (exit 2), naming its scheme and the accepted ones, its password unseen (property)", async () => {
    const scheme = fc
      .stringMatching(/^[a-z][a-z0-9+.-]{0,12}$/)
      .filter((name) => name !== "postgres" && name !== "postgresql");
    const password = fc.string({ minLength: 1, maxLength: 16 }).map((text) => `Pw~${encodeURIComponent(text)}`);
    const where = fc.constantFrom("EVENTFLOWS_PG_URL", "DATABASE_URL");
    const command = fc.constantFrom(
      ["stats", "postgres"],
      ["migrate", "postgres", "--status"],
      ["migrate", "postgres"],
    );
    await fc.assert(
      fc.asyncProperty(scheme, password, where, command, async (name, secret, variable, args) => {
        // A closed port: had the URL been tried, the command would have failed to connect (exit 1).
        const run = await eventflows([...args, "--json"], { [variable]: `${name}://root:${secret}@127.0.0.1:1/app` });
        expect(run.code).toBe(2);
        const { error } = JSON.parse(run.stderr) as { error: { code: string; message: string } };
        expect(error).toEqual({
          code: "CLI_USAGE",
          message: `The URL from $${variable} is not a PostgreSQL URL (its scheme is ${name}:): it must start with postgres:// or postgresql://.`,
        });
        expect(`${run.stdout}\n${run.stderr}`).not.toContain(secret);
      }),
      { numRuns: 30 },
    );
    // Text with no scheme at all (postgres.js would connect to its defaults) and --url are refused alike.
    const bare = await eventflows(["stats", "postgres"], { DATABASE_URL: "db.internal" });
    expect(bare).toMatchObject({ code: 2, stdout: "" });
    expect(bare.stderr).toContain("The URL from $DATABASE_URL is not a PostgreSQL URL (it has no scheme)");
    const typed = await eventflows(["migrate", "postgres", "--url", "mysql://root@127.0.0.1:1/app"]);
    expect(typed.code).toBe(2);
    expect(typed.stderr).toContain("The URL from --url is not a PostgreSQL URL (its scheme is mysql:)");
    // An import's source is named by its own variable and option, not the target's.
    const source = await eventflows(["import", "emmett-postgres", "--to", "sqlite", "--file", "events.db"], {
      EVENTFLOWS_IMPORT_SOURCE_URL: "mysql://root:Pw~src@127.0.0.1:1/shop",
    });
    expect(source.code).toBe(2);
    expect(source.stderr).toStartWith(
      "eventflows: The URL from $EVENTFLOWS_IMPORT_SOURCE_URL is not a PostgreSQL URL (its scheme is mysql:)",
    );
    expect(source.stderr).not.toContain("Pw~src");
    writeFileSync(join(source.cwd, "source-url"), "mysql://root@127.0.0.1:1/shop\n");
    const sourceFile = await eventflows(
      [
        "import",
        "emmett-postgres",
        "--from-url-file",
        join(source.cwd, "source-url"),
        "--to",
        "sqlite",
        "--file",
        "x.db",
      ],
      {},
    );
    expect(sourceFile.code).toBe(2);
    expect(sourceFile.stderr).toContain("The URL from --from-url-file is not a PostgreSQL URL");
    // Both spellings of PostgreSQL's scheme, in either case, are tried (a closed port: exit 1).
    for (const url of ["postgresql://u@127.0.0.1:1/app", "POSTGRES://u@127.0.0.1:1/app"]) {
      expect((await eventflows(["stats", "postgres"], { DATABASE_URL: url })).code).toBe(1);
    }
  });
});

describe("an argument holding control characters", () => {
  test("is quoted with them spelt out, on one line: no carriage return or escape sequence reaches the terminal (property)", async () => {
    // Unicode's invisible controls too: a right-to-left override, an isolate, a zero-width space, U+2028.
    const control = fc.constantFrom(
      "\r",
      "\u001b[2J",
      "\u001b]0;title\u0007",
      "\t",
      "\u0000",
      "\u009b",
      "\u202e",
      "\u2067",
      "\u200b",
      "\u2028",
      "\ufeff",
    );
    const text = fc.array(fc.oneof(fc.string({ minLength: 1, maxLength: 5 }), control), { minLength: 1, maxLength: 6 });
    const slot = fc.constantFrom(
      (arg: string) => ["stats", arg],
      (arg: string) => ["migrate", "postgres", arg],
      (arg: string) => ["generate", "event", `x${arg}`], // never PascalCase: refused
      (arg: string) => ["import", arg, "--to", "sqlite"],
      (arg: string) => [`x${arg}`],
    );
    await fc.assert(
      fc.asyncProperty(text, slot, async (parts, args) => {
        const run = await eventflows(args(parts.join("")));
        expect(run.code).toBe(2);
        // biome-ignore lint/suspicious/noControlCharactersInRegex: what must not be printed
        const unprintable = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/;
        expect(run.stderr).not.toMatch(unprintable);
        expect(run.stderr).toStartWith("eventflows: ");
      }),
      { numRuns: 100 },
    );
  });
});

describe("replay --since takes ISO 8601 only", () => {
  const store = ["--store", "sqlite", "--file", "events.db"];

  test("a date Date.parse guesses at (a locale's, words, no zone, a day the calendar lacks) is exit 2 naming --since", async () => {
    for (const since of [
      "12/01/2026",
      "Dec 1 2026",
      "1",
      "2026",
      "2026-1-1",
      "2026-02-30",
      "2026-11-01T09:30",
      "2026-11-01 09:30Z",
      "2026-11-01T24:00Z",
      "2026-11-01T10:30+01:",
      "2026-11-01T10:30+1",
      "2026-11-01T10:30+010",
      "2026-11-01T10:30+0160",
      "yesterday",
    ]) {
      const run = await eventflows(["replay", "projection.ts", ...store, "--since", since]);
      expect({ since, code: run.code }).toEqual({ since, code: 2 });
      expect(run.stderr).toBe(
        `eventflows: --since takes an ISO 8601 date or date-time with a zone (2026-11-01, 2026-11-01T09:30:00Z, 2026-11-01T10:30+01:00), not "${since}" (see: eventflows replay --help)`,
      );
    }
  });

  test("a date, or a date-time with Z or an offset (±hh:mm, ±hhmm, ±hh), passes (the missing module is what fails next)", async () => {
    for (const since of [
      "2026-11-01",
      "2028-02-29",
      "2026-11-01T09:30:00Z",
      "2026-11-01T10:30+01:00",
      "2026-11-01T10:30+0100",
      "2026-11-01T10:30+01",
      "2026-11-01T04:00:00.5-0530",
      "2026-11-01T09:30:00.123Z",
    ]) {
      const run = await eventflows(["replay", "projection.ts", ...store, "--since", since]);
      expect(run.code).toBe(2);
      expect(run.stderr).not.toContain("--since");
      expect(run.stderr).toContain("projection.ts");
    }
  });
});

describe("replay --stream or --category that names nothing", () => {
  test("empty, blank or with a control character: exit 2 naming the option, before the module and store", async () => {
    const cwd = mkdtempSync(join(tmpdir(), "eventflows-cli-stream-"));
    // A real projection module, so that the old order (module, then store) would get past loading it.
    writeFileSync(
      join(cwd, "counts.ts"),
      `import { projection } from ${JSON.stringify(join(import.meta.dirname, "..", "src", "index.ts"))};
export default projection({ name: "counts", handle: async () => {} });
`,
    );
    for (const [option, value, issue] of [
      ["stream", "", "stream id must not be empty"],
      ["stream", "  ", "stream id must not be only whitespace"],
      ["stream", "Cart-\u001b[2J", "stream id must not contain control characters"],
      ["category", "", "category must not be empty"],
      ["category", "Cart\r", "category must not contain control characters"],
    ] as const) {
      const stdout: string[] = [];
      const stderr: string[] = [];
      const code = await runCli(
        ["replay", "counts.ts", "--store", "sqlite", "--file", "missing.db", `--${option}=${value}`],
        { stdout: (text) => stdout.push(text), stderr: (text) => stderr.push(text), env: {}, cwd },
      );
      expect({ code, stdout, stderr }, `--${option}=${JSON.stringify(value)}`).toEqual({
        code: 2,
        stdout: [],
        stderr: [`eventflows: Invalid --${option}: ${issue} (see: eventflows replay --help)`],
      });
    }
  });
});

describe("each command's --help lists the options it takes", () => {
  // How each command names a store; an option counts as taken when one of the stores takes it.
  const lines: Record<string, (store: string) => string[]> = {
    generate: () => ["event", "Placed"],
    migrate: (store) => [store],
    stats: (store) => [store],
    rebuild: (store) => ["m.js", "--store", store],
    import: (store) => ["emmett-postgres", "--to", store],
  };
  const refused = /Unknown option|is not an option of|has no \w+ store|is for /;

  // replay's usage names the store options once ("with the store options of rebuild"), so it is left out.
  test("generate, migrate, stats, rebuild, import: an option the command takes is in its usage text", async () => {
    const { STORE_OPTIONS } = await import("./stores.js");
    const usages = new Map<string, string>();
    for (const command of [...Object.keys(lines), "replay"]) {
      usages.set(command, (await eventflows([command, "--help"])).stdout);
    }
    const candidates = new Set([
      ...Object.keys(STORE_OPTIONS).map((name) => `--${name}`),
      ...[...usages.values()].flatMap((text) => text.match(/--[a-z][a-z-]*/g) ?? []),
    ]);
    for (const [command, line] of Object.entries(lines)) {
      for (const option of candidates) {
        let taken = false;
        for (const store of ["postgres", "sqlite", "dynamodb"]) {
          const run = await eventflows([command, ...line(store), `${option}=1`]);
          taken ||= !refused.test(run.stderr);
        }
        if (taken) expect(usages.get(command), `${command} takes ${option}`).toMatch(new RegExp(`${option}(?![a-z-])`));
      }
    }
  });
});
