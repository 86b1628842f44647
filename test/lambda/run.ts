/**
 * The Lambda column of the runtime matrix: the packaged library's Lambda handlers and the contract
 * suites run under AWS's Lambda Runtime Interface Emulator (RIE), on Node 20 and Node 22 (Lambda's
 * nodejs20.x and nodejs22.x), each function invoked through RIE's endpoint as Lambda invokes it.
 * Fails, saying what is missing, if RIE or Node 22 cannot be installed or a service cannot start.
 *   bun test/lambda/run.ts        after `bun scripts/build.ts`
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertBuilt } from "../runtime/bundle.ts";
import { startServices, stopServices } from "../services/index.ts";
import { contractChecks } from "./checks/contracts.ts";
import { httpApiChecks } from "./checks/http-api.ts";
import { LIFECYCLE_TIMEOUT_SECONDS, lifecycleChecks } from "./checks/lifecycle.ts";
import { sqsChecks } from "./checks/sqs.ts";
import { storesChecks } from "./checks/stores.ts";
import { type HandlerName, makeDeployment } from "./deployment.ts";
import { httpApiEvent } from "./events.ts";
import { type Fixtures, makeFixtures } from "./fixtures.ts";
import { initDuration, median, Report } from "./report.ts";
import { type LambdaFunction, startFunction } from "./rie.ts";
import { ensureLambdaTools, type LambdaRuntime } from "./tools.ts";

const WARM_INVOCATIONS = 5;

async function main(): Promise<number> {
  const started = Date.now();
  const tools = await ensureLambdaTools();
  assertBuilt();
  const work = mkdtempSync(join(tmpdir(), "eventflows-lambda-"));
  const handles = await startServices(["postgres", "dynamodb", "moto"]);
  let fixtures: Fixtures | undefined;
  const running = new Set<LambdaFunction>();
  try {
    const task = await makeDeployment(work);
    fixtures = await makeFixtures();
    const env = fixtures.env;
    console.log(`lambda: deployment package in ${task} (${((Date.now() - started) / 1000).toFixed(1)}s)`);
    const report = new Report();
    let contractCases = 0;

    const withFunction = async (
      runtime: LambdaRuntime,
      handler: HandlerName,
      timeoutSeconds: number,
      body: (fn: LambdaFunction) => Promise<void>,
    ) => {
      const fn = await startFunction({
        rie: tools.rie,
        node: runtime.node,
        taskRoot: task,
        handler: `${handler}.handler`,
        timeoutSeconds,
        env,
      });
      running.add(fn);
      try {
        await body(fn);
      } finally {
        await fn.stop();
        running.delete(fn);
      }
    };

    for (const runtime of tools.runtimes) {
      console.log(`\nlambda: ${runtime.name} (Node ${runtime.version}) under RIE`);
      const context = (fn: LambdaFunction) => ({ report, runtime: runtime.name, fn });
      await withFunction(runtime, "http-api", 10, async (fn) => {
        // Cold start of the library alone: a command with no I/O, first and then warm.
        const forget = httpApiEvent({ method: "POST", path: "/commands/Forget" });
        const cold = await fn.invoke(forget);
        const warm: number[] = [];
        for (let i = 0; i < WARM_INVOCATIONS; i++) warm.push((await fn.invoke(forget)).ms);
        report.timings.push({
          runtime: runtime.name,
          fn: "http-api",
          coldMs: cold.ms,
          initMs: initDuration(fn.logs()),
          warmMs: median(warm),
          warmCount: warm.length,
        });
        await httpApiChecks(context(fn));
      });
      await withFunction(runtime, "sqs", 10, (fn) => sqsChecks(context(fn)));
      await withFunction(runtime, "stores", 30, (fn) => storesChecks(context(fn), fixtures as Fixtures));
      await withFunction(runtime, "lifecycle", LIFECYCLE_TIMEOUT_SECONDS, async (fn) => {
        const timing = await lifecycleChecks(context(fn), fixtures as Fixtures);
        report.timings.push({
          runtime: runtime.name,
          fn: "lifecycle",
          coldMs: timing.coldMs,
          initMs: initDuration(fn.logs()),
          warmMs: timing.warmMs,
          warmCount: WARM_INVOCATIONS,
        });
      });
      await withFunction(runtime, "contracts", 300, async (fn) => {
        contractCases += (await contractChecks(context(fn))).cases;
      });
    }

    console.log("\nlambda: cold start (first invocation's round trip through RIE) vs warm (median of the next 5), ms");
    for (const t of report.timings) {
      const init = t.initMs === undefined ? "" : `, RIE init ${t.initMs.toFixed(0)}`;
      console.log(`  ${t.runtime} ${t.fn}: cold ${t.coldMs.toFixed(0)}${init}, warm ${t.warmMs.toFixed(1)}`);
    }
    const passed = report.results.length - report.failed.length;
    console.log(
      `\nlambda: ${passed} checks passed, ${report.failed.length} failed, ${contractCases} contract cases inside the Lambda, ${((Date.now() - started) / 1000).toFixed(1)}s`,
    );
    for (const failure of report.failed) console.error(`  ✗ ${failure.runtime}: ${failure.name}`);
    return report.failed.length === 0 && passed > 0 && contractCases > 0 ? 0 : 1;
  } finally {
    for (const fn of running) await fn.stop();
    await fixtures?.close();
    await stopServices(handles);
    rmSync(work, { recursive: true, force: true });
  }
}

try {
  process.exit(await main());
} catch (error) {
  console.error(`lambda: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
