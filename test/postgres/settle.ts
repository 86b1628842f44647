/** What the kill scenarios (killed-backends.ts, killed-transaction.ts) report of each call: its outcome in words, never a hang. */
import { isServiceError } from "../../src/index.js";

/** How long any call may take before a scenario calls it hung (calls that hang never settle). */
export const HUNG_AFTER_MS = 15_000;

/** What a call ended with, in words; "hung" when it had not settled after HUNG_AFTER_MS. */
export function settle(call: Promise<unknown>): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve("hung"), HUNG_AFTER_MS);
  });
  const outcome = call.then(
    () => "resolved",
    (error: unknown) =>
      isServiceError(error)
        ? `ServiceError ${error.serviceCode} ${error.retryable ? "retryable" : "not retryable"}`
        : `other: ${String(error)}`,
  );
  return Promise.race([outcome, hung]).finally(() => clearTimeout(timer));
}

export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
