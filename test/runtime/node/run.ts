/**
 * Runs the contract suites on Node 20 against the built package (dist/): bundles
 * contracts.node.ts, starts the services its suites need (unless their variables are set, as under
 * the test command), and runs `node --test`. Then a second pass on the Node 22 under .cache/node22
 * runs the modules marked "node22" (node:sqlite, which Node 20 lacks). Fails if any case failed or
 * none ran, in either pass.
 *   bun test/runtime/node/run.ts        after `bun run build`
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../../scripts/lib/package-exports.ts";
import { ensureNode22 } from "../../lambda/tools.ts";
import { startServices, stopServices } from "../../services/index.ts";
import { assertBuilt, bundleRuntimeTest } from "../bundle.ts";
import { exportedContracts } from "../exported-contracts.ts";
import { freshOutDir, verdict } from "../runner.ts";
import { servicesFor, suitesFor } from "../suites/index.ts";

async function main(): Promise<number> {
  assertBuilt();
  // Node resolves `@eventflows/core` to this package's "exports" from there.
  const outDir = freshOutDir(import.meta.dirname);
  const testFile = join(outDir, "contracts.node.mjs");
  const code = await bundleRuntimeTest(join(import.meta.dirname, "contracts.node.ts"), "external", {
    platform: "node",
    external: ["postgres", "hono", "@opentelemetry/api"],
  });
  writeFileSync(testFile, code);

  const version = spawnSync("node", ["--version"], { encoding: "utf8" });
  if (version.status !== 0) throw new Error("node is not on PATH: the Node runtime tests need Node 20");
  console.log(`node-runtime: Node ${version.stdout.trim()}, suites from dist/ via package.json "exports"`);

  const handles = await startServices(servicesFor());
  try {
    const env = { ...process.env, EVENTFLOWS_EXPORTED_CONTRACTS: JSON.stringify(await exportedContracts()) };
    const first = runPass("node", "node", testFile, join(outDir, "results.tap"), env);
    if (suitesFor("node22").length === 0) return first;
    // Installed once into .cache (npm's `node` package); a failed install fails the step, saying why.
    const node22 = await ensureNode22().catch((error: unknown) => {
      console.error(`node-runtime: the node22 suites need Node 22: ${error instanceof Error ? error.message : error}`);
      return undefined;
    });
    if (node22 === undefined) return 1;
    const second = runPass("node22", node22, testFile, join(outDir, "results-node22.tap"), {
      ...env,
      EVENTFLOWS_NODE_RUNTIME: "node22",
    });
    return first === 0 && second === 0 ? 0 : 1;
  } finally {
    await stopServices(handles);
  }
}

/** One `node --test` run of the bundle; 0 when every case passed and at least one ran. */
function runPass(label: string, node: string, testFile: string, tapFile: string, env: NodeJS.ProcessEnv): number {
  const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout?.trim();
  console.log(`node-runtime (${label}): Node ${version}`);
  const run = spawnSync(
    node,
    [
      "--test",
      "--test-reporter=spec",
      "--test-reporter-destination=stdout",
      "--test-reporter=tap",
      `--test-reporter-destination=${tapFile}`,
      testFile,
    ],
    { cwd: repoRoot, stdio: "inherit", env },
  );
  const tap = existsSync(tapFile) ? readFileSync(tapFile, "utf8") : "";
  const count = (name: string) => Number(new RegExp(`^# ${name} (\\d+)$`, "m").exec(tap)?.[1] ?? Number.NaN);
  return verdict(
    `node-runtime (${label})`,
    run.status,
    run.signal,
    { passed: count("pass"), failed: count("fail") },
    tapFile,
  );
}

try {
  process.exit(await main());
} catch (error) {
  console.error(`node-runtime: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
