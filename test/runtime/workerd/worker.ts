/**
 * The Worker that runs contract suites inside workerd and answers with the results as JSON. The
 * runner bundles one Worker per set of compatibility flags, each from a generated entry:
 *   export default workerFor([postgresSuites], coveredContracts?)
 * Service locations arrive as bindings (SERVICE_VARIABLES), so adapter suites against real
 * services run here the same way they do on Node.
 */
import { type CaseResult, runContract } from "../../../src/testing/index.js";
import { coverageSuite, type RuntimeEnv, type SuiteModule } from "../runtime-suite.js";

export interface WorkerReport {
  readonly results: readonly CaseResult[];
}

/**
 * With `exportedContracts` and `coveredContracts`: also run the coverage check (every contract the
 * package exports against every runtime suite's contract).
 */
export function workerFor(
  modules: readonly SuiteModule[],
  exportedContracts?: readonly string[],
  coveredContracts?: readonly string[],
) {
  return {
    async fetch(_request: Request, env: RuntimeEnv): Promise<Response> {
      const results: CaseResult[] = [];
      for (const runtimeSuite of modules.flatMap((module) => module.suites)) {
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
      if (exportedContracts !== undefined && coveredContracts !== undefined) {
        results.push(...(await runContract(coverageSuite(exportedContracts, coveredContracts))));
      }
      const report: WorkerReport = { results };
      return Response.json(report);
    },
  };
}
