/**
 * The contracts function: the runtime matrix's contract suites (test/runtime/suites), run inside
 * the Lambda one suite per invocation, each reporting its cases. `{}` lists the suites.
 */
import { runContract } from "../../../src/testing/index.js";
import { allSuites } from "../../runtime/suites/index.js";

export interface SuiteReport {
  readonly suite: string;
  readonly contract: string;
  readonly passed: number;
  readonly failed: readonly string[];
}

export async function handler(event: { readonly suite?: string }): Promise<{ suites: string[] } | SuiteReport> {
  const suites = allSuites();
  if (event.suite === undefined) return { suites: suites.map((suite) => suite.name) };
  const runtimeSuite = suites.find((suite) => suite.name === event.suite);
  if (runtimeSuite === undefined) throw new Error(`no runtime suite named ${event.suite}`);
  const opened = await runtimeSuite.open(process.env);
  try {
    const results = await runContract(opened.suite);
    return {
      suite: runtimeSuite.name,
      contract: runtimeSuite.contract,
      passed: results.filter((result) => result.ok).length,
      failed: results.filter((result) => !result.ok).map((result) => `${result.name}: ${result.error}`),
    };
  } finally {
    await opened.close?.();
  }
}
