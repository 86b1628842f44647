/**
 * The OpenAPI contract check (`bun scripts/check-openapi-contract.ts`, the `openapi-contract` step of
 * the test command): starts the two example servers and the worker template on free ports, in memory
 * (the task board and the template's D1 entry in workerd through miniflare, the shop on Bun), and runs
 * schemathesis with every check against the OpenAPI document each serves, as outside testers do. It exits non-zero naming the API, the operation and the
 * check of every failure.
 *   SCHEMATHESIS_SEED=<n>          another seed (the default is fixed, so a run is reproducible)
 *   SCHEMATHESIS_MAX_EXAMPLES=<n>  more cases per operation (30 keeps the step well under 2 minutes)
 * schemathesis comes from the pinned virtualenv `.ci/run` builds (.cache/schemathesis/), else `st` on
 * PATH, else `python3 -m schemathesis.cli`; without any of them the check fails, never skips.
 * Test-only code: Node APIs are fine here.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { commandExists, freePort, waitFor } from "../test/services/common.ts";
import { pythonToolPath } from "../test/services/python-tool.ts";
import { runCollecting, SCHEMATHESIS_VERSION, schemathesis } from "../test/services/schemathesis.ts";

const root = join(import.meta.dirname, "..");
const seed = process.env.SCHEMATHESIS_SEED ?? "20261206";
const maxExamples = process.env.SCHEMATHESIS_MAX_EXAMPLES ?? "30";
// Forgives the examples' intended refusals, narrowly; see the file for each and why.
const hooks = join(root, "scripts", "lib", "openapi-contract-hooks.py");

interface Api {
  readonly name: string;
  readonly script: string;
  /** Where the routes are mounted: the OpenAPI document is `<mount>/openapi.json`. */
  readonly mount: string;
  /** A demo token the example knows (admin in the shop, so every route is reachable). */
  readonly token: string;
  /** More environment for the server, after the environment's own settings are taken out. */
  readonly env?: Readonly<Record<string, string>>;
}

const apis: readonly Api[] = [
  {
    name: "task-management",
    script: "examples/task-management/dev.ts",
    mount: "/projects/demo/api",
    token: "ada-token",
  },
  { name: "ecommerce", script: "examples/ecommerce/main.ts", mount: "/api", token: "admin-token" },
  // What users deploy: the template's top level (D1), over miniflare's local D1 in memory.
  {
    name: "worker-template",
    script: "worker-template/test/serve.ts",
    mount: "",
    token: "contract-token",
    env: { API_TOKEN: "contract-token" },
  },
];

const st = findSchemathesis();
const version = spawnSync(st[0] as string, [...st.slice(1), "--version"], { encoding: "utf8" }).stdout.trim();
console.log(
  `${st.join(" ")}: ${version} (pinned: ${SCHEMATHESIS_VERSION}); seed ${seed}, ${maxExamples} examples per operation`,
);

const failures: string[] = [];
for (const api of apis) failures.push(...(await check(api)));
if (failures.length > 0) {
  console.error(`\nOpenAPI contract check failed (seed ${seed}; rerun with SCHEMATHESIS_SEED=${seed}):`);
  for (const failure of failures) console.error(`  ${failure}`);
  process.exit(1);
}
console.log("\nOpenAPI contract check: no failure");

/** The command that runs schemathesis, as argv. */
function findSchemathesis(): string[] {
  const pinned = pythonToolPath(schemathesis);
  if (existsSync(pinned)) return [pinned];
  if (commandExists("st")) return ["st"];
  const python = ["python3", "python"].find(commandExists);
  if (python !== undefined && spawnSync(python, ["-m", "schemathesis.cli", "--version"]).status === 0) {
    return [python, "-m", "schemathesis.cli"];
  }
  console.error("schemathesis is not installed: pip install schemathesis");
  process.exit(1);
}

/** Serves one example, runs schemathesis against it and returns its failures, each a line. */
async function check(api: Api): Promise<string[]> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}${api.mount}`;
  console.log(`\n▶ ${api.name}: ${base}/openapi.json`);
  const server = serve(api, port);
  try {
    let operations = 0;
    // An example that exits ends the wait at once (waitFor treats a throw as "not yet").
    await waitFor(`${api.name} example`, async () => {
      if (server.exitCode !== null) return true;
      const response = await fetch(`${base}/openapi.json`);
      if (!response.ok) return false;
      const doc = (await response.json()) as { paths: Record<string, Record<string, unknown>> };
      operations = Object.values(doc.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
      return true;
    });
    if (server.exitCode !== null) return [`${api.name}: the example exited ${server.exitCode} before serving`];
    const run = await runSchemathesis(base, api.token);
    const found = failuresIn(run.output).map((failure) => `${api.name}: ${failure}`);
    if (run.code !== 0 || !run.output.includes(`Tested: ${operations}`)) {
      console.log(run.output);
      if (found.length > 0) return found;
      return [
        `${api.name}: schemathesis exited ${run.code} naming no failure, or tested fewer than the ${operations} operations (output above)`,
      ];
    }
    console.log(
      run.output
        .split("\n")
        .filter((line) => /^(Test cases:| {2}\d+ generated|Seed:)/.test(line))
        .join("\n"),
    );
    return [];
  } finally {
    server.kill("SIGTERM");
  }
}

function serve(api: Api, port: number): ChildProcess {
  // In memory with the demo users, whatever the environment points at (the test command's services).
  const {
    EVENTFLOWS_PG_URL: _pg,
    SHOP_DYNAMODB_TABLE: _dynamo,
    SHOP_USERS: _shopUsers,
    USERS: _users,
    TASKS_PERSIST_DIR: _persist,
    API_TOKEN: _apiToken,
    ...env
  } = process.env;
  const child = spawn(process.execPath, [api.script], {
    cwd: root,
    env: { ...env, ...api.env, PORT: String(port) },
    stdio: ["ignore", "ignore", "inherit"],
  });
  child.once("error", (error) => console.error(`${api.name} example: ${error.message}`));
  return child;
}

/** Runs without blocking this process, so the wait above and the children's output keep going. */
function runSchemathesis(base: string, token: string): Promise<{ code: number; output: string }> {
  const args = [
    "run",
    `${base}/openapi.json`,
    "--url",
    base,
    "-H",
    `Authorization: Bearer ${token}`,
    "--checks",
    "all",
    // Replaced by positive_data_acceptance_with_known_refusals from the hooks: the built-in plus the
    // examples' intended refusals, each forgiven only when the run's own earlier requests explain it.
    "--exclude-checks",
    "positive_data_acceptance",
    "--max-examples",
    maxExamples,
    "--workers",
    "1",
    "--seed",
    seed,
    "--request-timeout",
    "10",
    "--generation-database",
    "none",
  ];
  // schemathesis keeps a .schemathesis/ cache in its working folder: a throwaway one, not the repository.
  const work = mkdtempSync(join(tmpdir(), "eventflows-openapi-contract-"));
  return runCollecting(st[0] as string, [...st.slice(1), ...args], {
    cwd: work,
    env: { SCHEMATHESIS_HOOKS: hooks },
  }).finally(() => rmSync(work, { recursive: true, force: true }));
}

/**
 * "POST /commands/X: ST202 Schema-valid request rejected (got 400)" per failure in schemathesis's
 * FAILURES section: the operation, the check's code and title, and the status the server answered.
 */
function failuresIn(output: string): string[] {
  const found: string[] = [];
  let operation = "";
  let pending: string | undefined;
  const flush = (status?: string) => {
    if (pending !== undefined) found.push(status === undefined ? pending : `${pending} (got ${status})`);
    pending = undefined;
  };
  for (const line of output.split("\n")) {
    const header = /^_{3,} (\S+ \S+) _{3,}$/.exec(line);
    const failure = /^- ((?:ST\d+ )?\S.*)$/.exec(line);
    const status = /^\[(\d{3})\] /.exec(line);
    if (header || failure || line.startsWith("=")) flush();
    if (header) operation = header[1] as string;
    else if (line.startsWith("="))
      operation = ""; // WARNINGS, SUMMARY: past the failures
    else if (failure && operation !== "") pending = `${operation}: ${failure[1]}`;
    else if (status) flush(status[1]);
  }
  flush();
  return [...new Set(found)];
}
