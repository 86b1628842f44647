/**
 * Runs the contract suites inside workerd (Cloudflare's runtime, through miniflare) against the
 * built package: bundles worker.ts with dist/ for the worker conditions, starts it without
 * `nodejs_compat` (the core must not need it), passes service locations as bindings, fetches the
 * results, prints every case and fails if any failed or none ran.
 *   bun test/runtime/workerd/run.ts     after `bun run build`
 * miniflare runs under Bun as well as Node; Bun lets this driver share the TypeScript service harness.
 */
import { Miniflare } from "miniflare";
import { startServices, stopServices } from "../../services/index.ts";
import { assertBuilt, bundleRuntimeTest } from "../bundle.ts";
import { SERVICE_VARIABLES, servicesFor } from "../suites.ts";
import type { WorkerReport } from "./worker.ts";

/** A recent date the installed workerd supports; flags stay at their defaults for that date. */
export const COMPATIBILITY_DATE = "2025-12-01";

async function main(): Promise<number> {
  assertBuilt();
  const script = await bundleRuntimeTest(`${import.meta.dirname}/worker.ts`, "bundled", {
    platform: "neutral",
    conditions: ["workerd", "worker", "browser", "module"],
  });
  const handles = await startServices(servicesFor());
  const bindings: Record<string, string> = {};
  for (const name of SERVICE_VARIABLES) {
    const value = process.env[name];
    if (value !== undefined && value !== "") bindings[name] = value;
  }
  const mf = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: script }],
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: [],
    bindings,
  });
  try {
    const response = await mf.dispatchFetch("http://runtime.test/");
    const body = await response.text();
    if (!response.ok) throw new Error(`the worker answered ${response.status}: ${body.slice(0, 2000)}`);
    const { results } = JSON.parse(body) as WorkerReport;
    console.log(`workerd-runtime: compatibility date ${COMPATIBILITY_DATE}, no compatibility flags`);
    let suite = "";
    for (const result of results) {
      if (result.suite !== suite) {
        suite = result.suite;
        console.log(`▶ ${suite}`);
      }
      console.log(`  ${result.ok ? "✓" : "✗"} ${result.name}${result.ok ? "" : `\n      ${result.error}`}`);
    }
    const failed = results.filter((result) => !result.ok).length;
    const passed = results.length - failed;
    console.log(`workerd-runtime: ${passed} passed, ${failed} failed`);
    if (failed > 0 || passed === 0) {
      console.error(`workerd-runtime: failed${passed === 0 ? ": no case ran" : ""}`);
      return 1;
    }
    return 0;
  } finally {
    await mf.dispose();
    await stopServices(handles);
  }
}

try {
  process.exit(await main());
} catch (error) {
  console.error(`workerd-runtime: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
