/**
 * Runs the contract suites, and the live and dispatcher routes served by `Deno.serve`, on Deno
 * against the built package (dist/): bundles contracts.deno.ts and serve.deno.ts, starts the
 * services the suites need (unless their variables are set, as under the test command), and runs
 * `deno test` with narrow permissions: the network on 127.0.0.1 only, the environment, reading the
 * bundle, dist/ and node_modules, writing a temporary folder (node:sqlite's files). Deno comes from
 * npm into .cache/deno (test/lambda/tools.ts). Fails if any case failed or none ran.
 *   bun test/runtime/deno/run.ts        after `bun run build`
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { packageEntries, repoRoot } from "../../../scripts/lib/package-exports.ts";
import { ensureDeno } from "../../lambda/tools.ts";
import { startServices, stopServices } from "../../services/index.ts";
import { assertBuilt, bundleRuntimeTest } from "../bundle.ts";
import { exportedContracts } from "../exported-contracts.ts";
import { freshOutDir, verdict } from "../runner.ts";
import { servicesFor, suitesFor } from "../suites/index.ts";

/**
 * What permissions.deno.ts reaches (a PostgreSQL server and DynamoDB Local, refused by Deno's
 * permissions): started whichever suite modules EVENTFLOWS_RUNTIME_MODULES selects, since that file
 * runs in every run.
 */
const PERMISSION_SERVICES = ["postgres", "dynamodb"];

/** Resolved by Deno from node_modules (package.json at the root), as an application's would be. */
const EXTERNAL = ["postgres", "hono", "hono/*", "@opentelemetry/api", "node:*"];

async function main(): Promise<number> {
  assertBuilt();
  const deno = await ensureDeno();
  const outDir = freshOutDir(import.meta.dirname);
  const files: string[] = [];
  for (const name of ["contracts", "serve", "permissions"]) {
    const file = join(outDir, `${name}.deno.mjs`);
    const entry = join(import.meta.dirname, `${name}.deno.ts`);
    writeFileSync(file, await bundleRuntimeTest(entry, "external", { platform: "neutral", external: EXTERNAL }));
    files.push(file);
  }
  // `@eventflows/core/…` to dist/ through an import map from package.json "exports".
  const importMap = join(outDir, "import-map.json");
  const imports = Object.fromEntries(
    packageEntries().map((e) => [e.specifier, `./${relative(outDir, join(repoRoot, e.js))}`]),
  );
  writeFileSync(importMap, JSON.stringify({ imports }, null, 2));
  const tmp = join(outDir, "tmp");
  mkdirSync(tmp);

  const version = spawnSync(deno, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0];
  console.log(
    `deno-runtime: ${version}, suites from dist/ via package.json "exports" (${suitesFor("deno").length} suites)`,
  );
  const handles = await startServices([...new Set([...servicesFor(), ...PERMISSION_SERVICES])]);
  try {
    const junit = join(outDir, "results.xml");
    const reads = [
      outDir,
      join(repoRoot, "dist"),
      join(repoRoot, "package.json"),
      realpathSync(join(repoRoot, "node_modules")),
    ];
    const run = spawnSync(
      deno,
      [
        "test",
        "--no-config",
        "--node-modules-dir=manual",
        `--import-map=${importMap}`,
        "--allow-net=127.0.0.1",
        "--allow-env",
        `--allow-read=${reads.join(",")}`,
        `--allow-write=${tmp}`,
        `--junit-path=${junit}`,
        ...files,
      ],
      {
        cwd: repoRoot,
        stdio: "inherit",
        env: {
          ...process.env,
          TMPDIR: tmp,
          DENO_NO_UPDATE_CHECK: "1",
          EVENTFLOWS_EXPORTED_CONTRACTS: JSON.stringify(await exportedContracts()),
        },
      },
    );
    const xml = existsSync(junit) ? readFileSync(junit, "utf8") : "";
    return verdict("deno-runtime", run.status, run.signal, junitCounts(xml), junit);
  } finally {
    await stopServices(handles);
  }
}

/**
 * Cases passed and failed in Deno's JUnit report: the steps (named "test > step"), and the tests
 * that have none (the serve cases); a test with steps only sums them up.
 */
function junitCounts(xml: string): { passed: number; failed: number } {
  const cases = [...xml.matchAll(/<testcase name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g)].map((m) => ({
    name: m[1] ?? "",
    failed: /<(failure|error)\b/.test(m[3] ?? ""),
  }));
  const parents = new Set(cases.flatMap((c) => (c.name.includes(" &gt; ") ? [c.name.split(" &gt; ")[0]] : [])));
  const counted = cases.filter((c) => !parents.has(c.name));
  const failed = counted.filter((c) => c.failed).length;
  // A test that failed before its steps ran (a suite that did not open) counts as a failed case.
  const brokenParents = cases.filter((c) => parents.has(c.name) && c.failed).length;
  return { passed: counted.length - failed, failed: failed + (failed === 0 ? brokenParents : 0) };
}

try {
  process.exit(await main());
} catch (error) {
  console.error(`deno-runtime: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
