/**
 * A Worker that runs the contract suites inside workerd and answers with the results as JSON.
 * Service locations arrive as bindings (the names of test/runtime/suites.ts SERVICE_VARIABLES), so
 * adapter suites against real services run here the same way they do on Node.
 *   GET /            every suite
 *   GET /?suite=X    only the suites whose contract factory is X (repeatable)
 */
import { type CaseResult, runContract } from "../../../src/testing/index.js";
import { coverageSuite, type RuntimeEnv, runtimeSuites } from "../suites.js";

export interface WorkerReport {
  readonly results: readonly CaseResult[];
}

export default {
  async fetch(request: Request, env: RuntimeEnv): Promise<Response> {
    const wanted = new URL(request.url).searchParams.getAll("suite");
    const selected = wanted.length === 0 ? runtimeSuites : runtimeSuites.filter((s) => wanted.includes(s.contract));
    const results: CaseResult[] = [];
    for (const runtimeSuite of selected) {
      try {
        const opened = await runtimeSuite.open(env);
        try {
          results.push(...(await runContract(opened.suite)));
        } finally {
          await opened.close?.();
        }
      } catch (error) {
        // A suite that cannot even open is a failure to show, not a crash of the whole report.
        const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        results.push({ suite: runtimeSuite.contract, name: "opens", ok: false, error: message, durationMs: 0 });
      }
    }
    if (wanted.length === 0) results.push(...(await runContract(coverageSuite())));
    const report: WorkerReport = { results };
    return Response.json(report);
  },
};
