/**
 * What every Lambda run needs, owned by one scope: RIE and the Node versions, the built package,
 * the deployment package and this run's fixtures (on the services the test command started, or
 * else those the test/services ensure* helpers reuse or start); functions started through it are
 * stopped, and everything made is removed, when the body ends.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assertBuilt } from "../runtime/bundle.ts";
import { type HandlerName, makeDeployment } from "./deployment.ts";
import { type Fixtures, makeFixtures } from "./fixtures.ts";
import { median } from "./report.ts";
import { type LambdaFunction, startFunction } from "./rie.ts";
import { ensureLambdaTools, type LambdaRuntime, type LambdaTools } from "./tools.ts";

export interface LambdaSetup {
  readonly tools: LambdaTools;
  readonly fixtures: Fixtures;
  /** Starts `handler` under RIE on `runtime`, runs `body` with it, stops it. */
  withFunction<T>(
    runtime: LambdaRuntime,
    handler: HandlerName,
    timeoutSeconds: number,
    body: (fn: LambdaFunction) => Promise<T>,
  ): Promise<T>;
}

export async function withLambdaSetup<T>(body: (setup: LambdaSetup) => Promise<T>): Promise<T> {
  const tools = await ensureLambdaTools();
  assertBuilt();
  const work = mkdtempSync(join(tmpdir(), "eventflows-lambda-"));
  const running = new Set<LambdaFunction>();
  let fixtures: Fixtures | undefined;
  try {
    const task = await makeDeployment(work);
    fixtures = await makeFixtures();
    const env = fixtures.env;
    return await body({
      tools,
      fixtures,
      async withFunction(runtime, handler, timeoutSeconds, run) {
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
          return await run(fn);
        } finally {
          await fn.stop();
          running.delete(fn);
        }
      },
    });
  } finally {
    for (const fn of running) await fn.stop();
    await fixtures?.close();
    rmSync(work, { recursive: true, force: true });
  }
}

export interface ColdStart {
  /** The first invocation's round trip: RIE starts Node, the module loads, the handler runs. */
  readonly coldMs: number;
  /** RIE's INIT REPORT for that start: Node booting and the handler module loading. */
  readonly initMs: number | undefined;
  /** Median round trip of the warm invocations after it. */
  readonly warmMs: number;
}

/** Invokes a freshly started function once (cold), then `warm` more times. */
export async function measureColdStart(fn: LambdaFunction, event: unknown, warm = 5): Promise<ColdStart> {
  const cold = await fn.invoke(event);
  if (cold.status !== 200) throw new Error(`the cold invocation answered ${cold.status}: ${cold.body}`);
  const times: number[] = [];
  for (let i = 0; i < warm; i++) times.push((await fn.invoke(event)).ms);
  return { coldMs: cold.ms, initMs: initDuration(fn.logs()), warmMs: median(times) };
}

/** The first `INIT REPORT(durationMs: …)` RIE logged. */
export function initDuration(logs: string): number | undefined {
  const match = /INIT REPORT\(durationMs: ([\d.]+)\)/.exec(logs);
  return match === null ? undefined : Number(match[1]);
}
