/**
 * The PostgreSQL adapter's tests on postgres.js 4 (the postgres-js-4 step of test-all.ts). The
 * project's own dependency is postgres.js 3.4, the peer range takes both, and `npm install postgres`
 * installs 4.x: so the same tests run again on a copy of the project whose `postgres` is 4.x (the
 * `postgres4` devDependency alias). The copy is the tracked and untracked files of the working tree
 * in .cache/postgres-js-4, with node_modules linked entry by entry: only `postgres` differs.
 *   bun scripts/test-postgres-js-4.ts                 adapters/postgres, then the PostgreSQL contract
 *                                                     suites on Node and in workerd from the copy's build
 *   bun scripts/test-postgres-js-4.ts <test paths>    those tests only
 *   bun scripts/test-postgres-js-4.ts --workerd       the build and the workerd contract suites only
 * Services: as for `bun test` (EVENTFLOWS_PG_URL, or one started by test/services).
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gitFiles } from "./lib/git-files.ts";

const root = join(import.meta.dirname, "..");
const tree = join(root, ".cache", "postgres-js-4");
const modules = join(root, "node_modules");

const version = (JSON.parse(readFileSync(join(modules, "postgres4", "package.json"), "utf8")) as { version: string })
  .version;
if (!version.startsWith("4.")) {
  console.error(`✗ node_modules/postgres4 is postgres.js ${version}, not 4.x: run npm ci`);
  process.exit(1);
}

rmSync(tree, { recursive: true, force: true });
let copied = 0;
for (const file of gitFiles(root)) {
  mkdirSync(dirname(join(tree, file)), { recursive: true });
  copyFileSync(join(root, file), join(tree, file));
  copied++;
}
mkdirSync(join(tree, "node_modules"));
for (const entry of readdirSync(modules)) {
  symlinkSync(join(modules, entry === "postgres" ? "postgres4" : entry), join(tree, "node_modules", entry));
}
// What `postgres` resolves to from the copy's own files (a test or an adapter module there): 4.x, or stop.
const resolved = createRequire(join(tree, "adapters", "postgres", "client.ts")).resolve("postgres");
const resolvedVersion = (
  JSON.parse(readFileSync(join(dirname(resolved), "..", "package.json"), "utf8")) as { version: string }
).version;
if (resolvedVersion !== version) {
  console.error(`✗ postgres resolves to ${resolvedVersion} (${resolved}) in the copy, not ${version}`);
  process.exit(1);
}
console.log(`postgres.js ${version}: ${copied} files copied to ${tree.replace(root, ".")}`);

/** Runs `args` with Bun in the copy; exits with its status when it fails. */
function inCopy(args: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const run = spawnSync(process.execPath, args, { cwd: tree, stdio: "inherit", env });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

const args = process.argv.slice(2);
if (args.length > 0 && args[0] !== "--workerd") {
  inCopy(["test", "--timeout", "60000", ...args]);
  process.exit(0);
}
const everything = args.length === 0;
if (everything) inCopy(["test", "--timeout", "60000", "adapters/postgres"]);
// And the PostgreSQL contract suites from the copy's build: on Node (where most 4.x users run), and in
// workerd, where the bundler picks 4.x's own Workers build (cloudflare:sockets).
const runtimeEnv = { ...process.env, EVENTFLOWS_RUNTIME_MODULES: "postgres" };
inCopy(["scripts/build.ts"]);
if (everything) inCopy(["test/runtime/node/run.ts"], runtimeEnv);
inCopy(["test/runtime/workerd/run.ts"], runtimeEnv);
