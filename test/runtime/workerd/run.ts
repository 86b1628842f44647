/**
 * Runs the contract suites inside workerd (Cloudflare's runtime, through miniflare) against the
 * built package: bundles worker.ts with dist/ for the worker conditions, starts it without any
 * compatibility flag (the core must not need `nodejs_compat`), passes service locations as
 * bindings, fetches the results, prints every case and fails if any failed or none ran. Suites
 * whose adapter declares flags run in a second Worker with exactly those flags.
 *   bun test/runtime/workerd/run.ts     after `bun run build`
 * miniflare runs under Bun as well as Node; Bun lets this driver share the TypeScript service harness.
 */
import { Miniflare } from "miniflare";
import { startServices, stopServices } from "../../services/index.ts";
import { assertBuilt, bundleRuntimeTest } from "../bundle.ts";
import { type RuntimeSuite, runtimeSuites, SERVICE_VARIABLES, servicesFor } from "../suites.ts";
import type { WorkerReport } from "./worker.ts";

/** A recent date the installed workerd supports; behaviour follows that date's defaults. */
export const COMPATIBILITY_DATE = "2025-12-01";

interface WorkerGroup {
  readonly flags: readonly string[];
  readonly suites: RuntimeSuite[];
}

/** One Worker per distinct flag set; the flagless one comes first and also runs the coverage check. */
function groupByFlags(suites: readonly RuntimeSuite[]): WorkerGroup[] {
  const groups = new Map<string, WorkerGroup>([["", { flags: [], suites: [] }]]);
  for (const suite of suites) {
    const flags = [...(suite.workerdFlags ?? [])].sort();
    const key = flags.join(",");
    const group = groups.get(key) ?? { flags, suites: [] };
    group.suites.push(suite);
    groups.set(key, group);
  }
  return [...groups.values()];
}

async function runGroup(script: string, group: WorkerGroup, bindings: Record<string, string>, coverage: boolean) {
  const mf = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: script }],
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: [...group.flags],
    bindings,
  });
  try {
    const url = new URL("http://runtime.test/");
    for (const suite of group.suites) url.searchParams.append("suite", suite.name);
    if (coverage) url.searchParams.set("coverage", "");
    const response = await mf.dispatchFetch(url);
    const body = await response.text();
    if (!response.ok) throw new Error(`the worker answered ${response.status}: ${body.slice(0, 2000)}`);
    return (JSON.parse(body) as WorkerReport).results;
  } finally {
    await mf.dispose();
  }
}

async function main(): Promise<number> {
  assertBuilt();
  const script = await bundleRuntimeTest(`${import.meta.dirname}/worker.ts`, "bundled", {
    platform: "neutral",
    conditions: ["workerd", "worker", "browser", "module"],
  });
  const handles = await startServices(servicesFor());
  try {
    const bindings: Record<string, string> = {};
    for (const name of SERVICE_VARIABLES) {
      const value = process.env[name];
      if (value !== undefined && value !== "") bindings[name] = value;
    }
    let passed = 0;
    let failed = 0;
    for (const [index, group] of groupByFlags(runtimeSuites).entries()) {
      const results = await runGroup(script, group, bindings, index === 0);
      const flags = group.flags.length === 0 ? "no compatibility flags" : `flags ${group.flags.join(", ")}`;
      console.log(`workerd-runtime: compatibility date ${COMPATIBILITY_DATE}, ${flags}`);
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
