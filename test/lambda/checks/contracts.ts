/** The runtime matrix's contract suites, each run inside the Lambda by the contracts function. */
import { deepStrictEqual, ok } from "node:assert/strict";
import type { SuiteReport } from "../handlers/contracts.ts";
import { type CheckContext, resultOf } from "./context.ts";

export async function contractChecks(ctx: CheckContext): Promise<{ suites: number; cases: number }> {
  const { report, runtime } = ctx;
  let suites: string[] = [];
  await report.check(runtime, "contracts: the function lists the runtime suites", async () => {
    suites = resultOf<{ suites: string[] }>(await ctx.fn.invoke({})).suites;
    ok(suites.length > 0, "no runtime suite");
    return `${suites.length} suites`;
  });
  let cases = 0;
  for (const suite of suites) {
    await report.check(runtime, `contracts: ${suite}`, async () => {
      const result = resultOf<SuiteReport>(await ctx.fn.invoke({ suite }));
      deepStrictEqual(result.failed, []);
      ok(result.passed > 0, "no case ran");
      cases += result.passed;
      return `${result.contract}, ${result.passed} cases`;
    });
  }
  return { suites: suites.length, cases };
}
