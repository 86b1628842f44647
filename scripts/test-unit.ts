/**
 * The `unit` step of `scripts/test-all.ts`: every test file under Bun, in two `bun test` processes at
 * once. Most tests wait on a service or a child process, so one process took 609-666 s on this 2-core
 * machine; two take about half.
 *
 * The split is by PostgreSQL, not by size: the files that use it run in one process, one at a time,
 * as they always did, because the feed's readers stop below any transaction in flight on the server
 * (docs/adapters/postgres.md, "The global order guarantee"): a file that holds a transaction open
 * for seconds on purpose hid the commits of a file running beside it (Bun's --parallel=2 failed a
 * worker-template "nothing written" check that way, 1 run in 2). The other process runs every other
 * file, with no PostgreSQL to reach: `ensurePostgres` there throws, so a file that uses it but is not
 * sorted here fails loudly.
 *
 * Which files use PostgreSQL: the tracked and untracked test files whose text names the harness's
 * server, the adapter, its client or the CLI (USES_POSTGRES; a file that only quotes a postgres://
 * URL in a message runs with the others). Every file runs once: the second process is plain
 * `bun test` minus those paths (`--path-ignore-patterns`).
 * Each process prints when it ends (the first to end first); the step fails if either does.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gitFiles } from "./lib/git-files.ts";

const root = join(import.meta.dirname, "..");
const TEST_FILE = /(\.test|_test_|\.spec|_spec_)\.(ts|tsx|js|jsx|mjs|cjs|mts|cts)$/;
/** What a file that reaches PostgreSQL names: the harness, the adapter, its client or store, the CLI, the URL. */
const USES_POSTGRES =
  /ensurePostgres|services\/postgres|test\/postgres\/|postgresTestClient|EVENTFLOWS_PG_URL|adapters\/postgres|core\/postgres|eventflows-pg|PostgresEventStore|createPostgresClient/;

// git lists no ignored file (node_modules); Bun skips dot folders, so they are left out here too.
const postgresFiles = gitFiles(root)
  .filter((file) => TEST_FILE.test(file) && !file.split("/").some((part) => part.startsWith(".")))
  .filter((file) => USES_POSTGRES.test(readFileSync(join(root, file), "utf8")))
  .sort();

// No file found would make the first process `bun test` alone: every file, twice.
if (postgresFiles.length === 0) {
  console.error("✗ no test file uses PostgreSQL by USES_POSTGRES: scripts/test-unit.ts cannot split the unit step");
  process.exit(1);
}

const base = ["test", "--timeout", "60000"];
const withoutPostgres: NodeJS.ProcessEnv = { ...process.env, EVENTFLOWS_TEST_NO_POSTGRES: "1" };
delete withoutPostgres.EVENTFLOWS_PG_URL;

const runs = [
  run("PostgreSQL files", [...base, ...postgresFiles.map((file) => `./${file}`)], process.env),
  run("the other files", [...base, ...postgresFiles.map((file) => `--path-ignore-patterns=${file}`)], withoutPostgres),
];
const failed = (await Promise.all(runs)).filter((status) => status !== 0).length;
process.exit(failed === 0 ? 0 : 1);

/** Runs `bun <args>`, its output held and printed whole when it ends; resolves to its exit status. */
function run(name: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = Date.now();
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] });
  const output: Buffer[] = [];
  child.stdout.on("data", (chunk: Buffer) => output.push(chunk));
  child.stderr.on("data", (chunk: Buffer) => output.push(chunk));
  return new Promise((resolve) => {
    child.on("close", (code, signal) => {
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      process.stdout.write(Buffer.concat(output));
      console.log(`\n[unit] ${name}: ${code === 0 ? "passed" : `failed (exit ${code ?? signal})`} after ${seconds}s`);
      resolve(code ?? 1);
    });
  });
}
