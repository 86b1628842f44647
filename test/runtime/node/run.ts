/**
 * Runs the contract suites on Node 20 against the built package (dist/): bundles
 * contracts.node.ts, starts the services its suites need (unless their variables are set, as under
 * the test command), and runs `node --test`. Fails if any case failed or none ran.
 *   bun test/runtime/node/run.ts        after `bun run build`
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../../scripts/lib/package-exports.ts";
import { startServices, stopServices } from "../../services/index.ts";
import { assertBuilt, bundleRuntimeTest } from "../bundle.ts";
import { exportedContracts } from "../exported-contracts.ts";
import { servicesFor } from "../suites/index.ts";

async function main(): Promise<number> {
  assertBuilt();
  // Inside the package folder, so Node resolves `@eventflows/core` to this package's "exports";
  // not under .cache/, which may be a link to another checkout's (Node resolves from the real path).
  const outDir = join(import.meta.dirname, ".out");
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const testFile = join(outDir, "contracts.node.mjs");
  const tapFile = join(outDir, "results.tap");
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
    const run = spawnSync(
      "node",
      [
        "--test",
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
        "--test-reporter=tap",
        `--test-reporter-destination=${tapFile}`,
        testFile,
      ],
      {
        cwd: repoRoot,
        stdio: "inherit",
        env: { ...process.env, EVENTFLOWS_EXPORTED_CONTRACTS: JSON.stringify(await exportedContracts()) },
      },
    );
    const tap = readFileSync(tapFile, "utf8");
    const count = (label: string) => Number(new RegExp(`^# ${label} (\\d+)$`, "m").exec(tap)?.[1] ?? Number.NaN);
    const [passed, failed] = [count("pass"), count("fail")];
    console.log(`node-runtime: ${passed} passed, ${failed} failed`);
    if (run.status !== 0 || failed !== 0 || !(passed > 0)) {
      console.error(
        `node-runtime: failed (exit ${run.status ?? run.signal}${passed > 0 ? "" : ", no case ran"}); TAP in ${tapFile}`,
      );
      return 1;
    }
    return 0;
  } finally {
    await stopServices(handles);
  }
}

try {
  process.exit(await main());
} catch (error) {
  console.error(`node-runtime: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
