/**
 * The saga-timer function: EventBridge Scheduler invokes it every minute; each invocation fires the
 * follow-ups that are due (leases make overlapping invocations safe) and answers how many fired and
 * how late the latest was.
 */
import { createSagaTimerHandler } from "../../../adapters/lambda/index.js";
import { readEnv } from "../../../src/index.js";
import { followUpRuntime, tableSagaStore } from "./follow-up.js";

export const handler = createSagaTimerHandler(() => {
  const table = readEnv("EVENTFLOWS_TABLE");
  if (table === undefined) throw new Error("EVENTFLOWS_TABLE is not set: deploy with the stack in examples/aws-cdk");
  return followUpRuntime(tableSagaStore(table));
});
