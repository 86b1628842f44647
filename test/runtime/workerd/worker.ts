/**
 * A Worker that runs the contract suites inside workerd and answers with the results as JSON.
 * Service locations arrive as bindings (the names of test/runtime/suites.ts SERVICE_VARIABLES), so
 * adapter suites against real services run here the same way they do on Node.
 *   GET /?suite=NAME&suite=…   the runtime suites of those names
 *   GET /?coverage             also the check that every exported contract suite has a runtime suite
 */
import { type CaseResult, runContract } from "../../../src/testing/index.js";
import { coverageSuite, type RuntimeEnv, runtimeSuites } from "../suites.js";

export interface WorkerReport {
  readonly results: readonly CaseResult[];
}

export default {
  async fetch(request: Request, env: RuntimeEnv): Promise<Response> {
    const query = new URL(request.url).searchParams;
    const wanted = query.getAll("suite");
    const unknown = wanted.filter((name) => !runtimeSuites.some((suite) => suite.name === name));
    if (unknown.length > 0) return new Response(`unknown suites: ${unknown.join(", ")}`, { status: 400 });
    const results: CaseResult[] = [];
    for (const runtimeSuite of runtimeSuites.filter((suite) => wanted.includes(suite.name))) {
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
        results.push({ suite: runtimeSuite.name, name: "opens", ok: false, error: message, durationMs: 0 });
      }
    }
    if (query.has("coverage")) results.push(...(await runContract(coverageSuite())));
    const report: WorkerReport = { results };
    return Response.json(report);
  },
};
