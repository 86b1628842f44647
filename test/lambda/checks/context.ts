/** What every group of checks gets: the report, the runtime's name and the running function. */
import type { Report } from "../report.ts";
import type { Invocation, LambdaFunction } from "../rie.ts";

export interface CheckContext {
  readonly report: Report;
  readonly runtime: string;
  readonly fn: LambdaFunction;
}

/** The function's result, parsed; a function error or a non-200 invoke throws with the body. */
export function resultOf<T>(invocation: Invocation): T {
  if (invocation.status !== 200) throw new Error(`invoke answered ${invocation.status}: ${invocation.body}`);
  const parsed = JSON.parse(invocation.body) as T & { errorType?: string; errorMessage?: string };
  if (
    typeof parsed === "object" &&
    parsed !== null &&
    parsed.errorType !== undefined &&
    parsed.errorMessage !== undefined
  ) {
    throw new Error(`function error ${parsed.errorType}: ${parsed.errorMessage}`);
  }
  return parsed;
}
