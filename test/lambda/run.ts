/**
 * The Lambda column of the runtime matrix: the packaged library's Lambda handlers and the contract
 * suites run under AWS's Lambda Runtime Interface Emulator (RIE), on Node 20 and Node 22 (Lambda's
 * nodejs20.x and nodejs22.x), each function invoked through RIE's endpoint as Lambda invokes it.
 * Fails, saying what is missing, if RIE or Node 22 cannot be installed or a service cannot start.
 *   bun test/lambda/run.ts        after `bun scripts/build.ts`
 */
import { contractChecks } from "./checks/contracts.ts";
import { forgetRequest, httpApiChecks } from "./checks/http-api.ts";
import { LIFECYCLE_TIMEOUT_SECONDS, lifecycleChecks } from "./checks/lifecycle.ts";
import { sqsChecks } from "./checks/sqs.ts";
import { storesChecks } from "./checks/stores.ts";
import { httpApiEvent } from "./events.ts";
import { Report } from "./report.ts";
import type { LambdaFunction } from "./rie.ts";
import { initDuration, measureColdStart, withLambdaSetup } from "./setup.ts";

const seconds = (since: number) => `${((Date.now() - since) / 1000).toFixed(1)}s`;

async function main(): Promise<number> {
  const started = Date.now();
  const report = new Report();
  const contractCases = await withLambdaSetup(async ({ tools, fixtures, withFunction }) => {
    console.log(
      `lambda: RIE, ${tools.runtimes.map((r) => `${r.name} (Node ${r.version})`).join(", ")}; ready in ${seconds(started)}`,
    );
    // One runtime at a time, so that the cold starts measured here are not slowed by the other.
    for (const runtime of tools.runtimes) {
      console.log(`\nlambda: ${runtime.name} under RIE`);
      const context = (fn: LambdaFunction) => ({ report, runtime: runtime.name, fn });
      await withFunction(runtime, "http-api", 10, async (fn) => {
        // The library's own cold start: a command without I/O, first cold, then warm.
        await report.check(runtime.name, "http: a cold invocation, then 5 warm ones", async () => {
          const timing = await measureColdStart(fn, httpApiEvent(forgetRequest));
          report.timings.push({ runtime: runtime.name, fn: "http-api", ...timing });
        });
        await httpApiChecks(context(fn));
      });
      await withFunction(runtime, "sqs", 10, (fn) => sqsChecks(context(fn)));
      await withFunction(runtime, "stores", 30, (fn) => storesChecks(context(fn), fixtures));
      await withFunction(runtime, "lifecycle", LIFECYCLE_TIMEOUT_SECONDS, async (fn) => {
        const timing = await lifecycleChecks(context(fn), fixtures);
        report.timings.push({ runtime: runtime.name, fn: "lifecycle", ...timing, initMs: initDuration(fn.logs()) });
      });
    }
    // One runtime after the other: the PostgreSQL suites share one database, and its global feed
    // rightly holds back events while another transaction (the other runtime's) is open.
    const counts = [];
    for (const runtime of tools.runtimes) {
      console.log(`\nlambda: ${runtime.name}: the runtime contract suites inside the Lambda`);
      const contractsStarted = Date.now();
      counts.push(
        await withFunction(runtime, "contracts", 300, (fn) => contractChecks({ report, runtime: runtime.name, fn })),
      );
      console.log(`  (${seconds(contractsStarted)})`);
    }
    return counts.reduce((sum, count) => sum + count.cases, 0);
  });

  console.log("\nlambda: cold start (first invocation through RIE) and warm (median of the next 5), ms");
  for (const t of report.timings) {
    const init = t.initMs === undefined ? "" : ` (RIE init ${t.initMs.toFixed(0)})`;
    console.log(`  ${t.runtime} ${t.fn}: cold ${t.coldMs.toFixed(0)}${init}, warm ${t.warmMs.toFixed(1)}`);
  }
  const passed = report.results.length - report.failed.length;
  console.log(
    `\nlambda: ${passed} checks passed, ${report.failed.length} failed, ${contractCases} contract cases inside the Lambda, ${seconds(started)}`,
  );
  for (const failure of report.failed) console.error(`  ✗ ${failure.runtime}: ${failure.name}`);
  return report.failed.length === 0 && passed > 0 && contractCases > 0 ? 0 : 1;
}

try {
  process.exit(await main());
} catch (error) {
  console.error(`lambda: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
