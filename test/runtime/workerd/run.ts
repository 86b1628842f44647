/**
 * Runs the contract suites inside workerd (Cloudflare's runtime, through miniflare) against the
 * built package. Suite modules are grouped by the compatibility flags they need; each group is
 * bundled into a Worker of its own (dist/ for the worker conditions, only that group's code), so
 * the core's suites run in a Worker with no flag at all: the core must not need `nodejs_compat`.
 * Service locations go in as bindings. Prints every case; fails if any failed or none ran.
 *   bun test/runtime/workerd/run.ts     after `bun run build`
 * miniflare runs under Bun as well as Node; Bun lets this driver share the TypeScript service harness.
 */
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { startServices, stopServices } from "../../services/index.ts";
import { assertBuilt, bundleRuntimeTest } from "../bundle.ts";
import { exportedContracts } from "../exported-contracts.ts";
import { runsOn, SERVICE_VARIABLES, type SuiteModule } from "../runtime-suite.ts";
import { coveredContracts, selectedModules, servicesFor } from "../suites/index.ts";
import type { WorkerReport } from "./worker.ts";

/** A recent date the installed workerd supports; behaviour follows that date's defaults. */
export const COMPATIBILITY_DATE = "2025-12-01";

/** Node modules that postgres.js 4 (src/cf.js and what it imports) names without `node:`. */
const BARE_NODE_MODULES = ["crypto", "diagnostics_channel", "fs", "net", "os", "stream", "tls", "util"];

interface WorkerGroup {
  readonly flags: readonly string[];
  readonly files: string[];
  readonly modules: SuiteModule[];
}

const exportName = (file: string) => `${file.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}Suites`;

/** One Worker per distinct flag set; the flagless one comes first and also runs the coverage check. */
function groupByFlags(): WorkerGroup[] {
  const groups = new Map<string, WorkerGroup>([["", { flags: [], files: [], modules: [] }]]);
  for (const [file, module] of Object.entries(selectedModules())) {
    if (!runsOn(module, "workerd")) continue;
    const flags = [...module.workerdFlags].sort();
    const group = groups.get(flags.join(",")) ?? { flags, files: [], modules: [] };
    group.files.push(file);
    group.modules.push(module);
    groups.set(flags.join(","), group);
  }
  return [...groups.values()];
}

function workerEntry(group: WorkerGroup, exported: readonly string[] | undefined): string {
  const suitesDir = join(import.meta.dirname, "..", "suites");
  const lines = [`import { workerFor } from ${JSON.stringify(join(import.meta.dirname, "worker.ts"))};`];
  for (const file of group.files) {
    lines.push(`import { ${exportName(file)} } from ${JSON.stringify(join(suitesDir, `${file}.ts`))};`);
  }
  // Durable Object classes the modules declare must be exports of the Worker's main module.
  for (const [index, module] of group.modules.entries()) {
    const classes = Object.values(module.workerd?.durableObjects ?? {});
    if (classes.length === 0) continue;
    const file = join(suitesDir, `${group.files[index]}.ts`);
    lines.push(`export { ${classes.join(", ")} } from ${JSON.stringify(file)};`);
  }
  const covered = exported === undefined ? "" : `, ${JSON.stringify(exported)}, ${JSON.stringify(coveredContracts())}`;
  lines.push(`export default workerFor([${group.files.map(exportName).join(", ")}]${covered});`);
  return lines.join("\n");
}

async function runGroup(group: WorkerGroup, exported: readonly string[] | undefined, bindings: Record<string, string>) {
  const script = await bundleRuntimeTest({ contents: workerEntry(group, exported) }, "bundled", {
    platform: "neutral",
    conditions: ["workerd", "worker", "browser", "module"],
    mainFields: ["browser", "module", "main"],
    // Provided by workerd itself: cloudflare:sockets always, node:* only under nodejs_compat, which
    // also takes the bare names that postgres.js 4's workerd build imports.
    external: ["cloudflare:*", "node:*", ...BARE_NODE_MODULES],
  });
  const mf = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: script }],
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: [...group.flags],
    bindings,
    d1Databases: group.modules.flatMap((module) => module.workerd?.d1Databases ?? []),
    durableObjects: Object.fromEntries(
      group.modules.flatMap((module) =>
        Object.entries(module.workerd?.durableObjects ?? {}).map(([name, className]) => [
          name,
          { className, useSQLite: true },
        ]),
      ),
    ),
  });
  try {
    const response = await mf.dispatchFetch("http://runtime.test/");
    const body = await response.text();
    if (!response.ok) throw new Error(`the worker answered ${response.status}: ${body.slice(0, 2000)}`);
    return (JSON.parse(body) as WorkerReport).results;
  } finally {
    await mf.dispose();
  }
}

async function main(): Promise<number> {
  assertBuilt();
  const handles = await startServices(servicesFor());
  try {
    const bindings: Record<string, string> = {};
    for (const name of SERVICE_VARIABLES) {
      const value = process.env[name];
      if (value !== undefined && value !== "") bindings[name] = value;
    }
    let passed = 0;
    let failed = 0;
    for (const [index, group] of groupByFlags().entries()) {
      const flags = group.flags.length === 0 ? "no compatibility flags" : `flags ${group.flags.join(", ")}`;
      console.log(`workerd-runtime: ${group.files.join(", ")} (compatibility date ${COMPATIBILITY_DATE}, ${flags})`);
      const results = await runGroup(group, index === 0 ? await exportedContracts() : undefined, bindings);
      let suite = "";
      for (const result of results) {
        if (result.suite !== suite) {
          suite = result.suite;
          console.log(`▶ ${suite}`);
        }
        console.log(`  ${result.ok ? "✓" : "✗"} ${result.name}${result.ok ? "" : `\n      ${result.error}`}`);
        if (result.ok) passed += 1;
        else failed += 1;
      }
    }
    console.log(`workerd-runtime: ${passed} passed, ${failed} failed`);
    if (failed > 0 || passed === 0) {
      console.error(`workerd-runtime: failed${passed === 0 ? ": no case ran" : ""}`);
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
  console.error(`workerd-runtime: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
