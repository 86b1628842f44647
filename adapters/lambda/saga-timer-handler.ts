import {
  assertFunction,
  assertObject,
  callHook,
  type SagaRuntime,
  type TickResult,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import type { LambdaContext } from "./api-gateway-types.js";

/** What a scheduled invocation returns: how many timeouts fired, and how late the latest was. */
export interface SagaTimerResult {
  readonly fired: number;
  readonly maxLatenessMs: number;
}

export type SagaTimerHandler = (event?: unknown, context?: LambdaContext) => Promise<SagaTimerResult>;

/**
 * A Lambda handler for a schedule (an EventBridge Scheduler schedule, or an EventBridge rule with
 * `rate(1 minute)`): each invocation fires the saga timeouts due, with `runtime.tick()` at the
 * runtime's clock. The event's payload is not read, so any schedule target input works. Overlapping
 * invocations are safe: timeouts are claimed with leases and fired once. A failing tick throws, so
 * the scheduler's retry policy applies. The tick also re-drives the outboxes, at a Lambda instance's
 * first invocation and then every `redriveIntervalMs` of the runtime (a failed re-drive goes to its `onError`).
 *
 * @example
 * const runtime = new SagaRuntime({ store: new DynamoDbSagaStore({ tableName: "sagas" }), commands, sagas });
 * export const handler = createSagaTimerHandler(runtime);
 */
/** `runtime` may be a factory: it runs on the first invocation (and again only after it failed). */
export function createSagaTimerHandler(
  runtime: SagaRuntime | (() => SagaRuntime | Promise<SagaRuntime>),
  given?: { readonly onTick?: (result: TickResult) => void } | null,
): SagaTimerHandler {
  if (typeof runtime !== "function" && typeof runtime?.tick !== "function") {
    throw new ValidationError("Invalid saga timer handler", [
      { path: ["runtime"], message: "runtime must be a SagaRuntime or a function that returns one" },
    ]);
  }
  // null is no options, as undefined is; an onTick that is no function would fail every tick after it fired.
  assertObject(given ?? undefined, "options", "saga timer handler", false);
  const options = given ?? {};
  // A misspelt `ontick` was dropped: the ticks went unobserved, without a word.
  const unknown = unknownKeyIssues(options, ["onTick"]);
  if (unknown.length > 0) throw new ValidationError("Invalid saga timer handler", unknown);
  assertFunction(options.onTick, "onTick", "saga timer handler", false);
  // A factory runs once per Lambda instance (warm invocations reuse its runtime); again after it failed.
  let made: Promise<SagaRuntime> | undefined;
  return async () => {
    if (typeof runtime === "function" && made === undefined) {
      made = Promise.resolve()
        .then(runtime)
        .then((value) => {
          // Checked here, or every warm invocation would fail with a TypeError on the cached value.
          if (typeof (value as Partial<SagaRuntime> | null)?.tick !== "function") {
            throw new ValidationError("Invalid saga timer handler", [
              { path: ["runtime"], message: "the runtime factory must return a SagaRuntime (or a promise of one)" },
            ]);
          }
          return value;
        });
      made.catch(() => {
        made = undefined;
      });
    }
    const resolved = made === undefined ? (runtime as SagaRuntime) : await made;
    const result = await resolved.tick();
    // An observer, isolated as every hook is: its throw, after the timeouts fired, must not fail the
    // invocation (the schedule would retry a tick that succeeded). It is logged instead.
    if (options.onTick !== undefined) callHook("onTick", options.onTick, result);
    return {
      fired: result.fired.length,
      maxLatenessMs: result.fired.reduce((max, fired) => Math.max(max, fired.latenessMs), 0),
    };
  };
}
