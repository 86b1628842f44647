import { type Issue, ValidationError } from "../errors.js";
import type { DomainEvent } from "../events/envelope.js";
import { isName, kindOf, MAX_DELAY_MS, MAX_TYPE_LENGTH, nameIssues, unknownKeyIssues } from "../internal/validate.js";
import { type SagaContext, type SagaDefinitionInput, type ScheduleOptions, timeoutHandler } from "./define-saga.js";
import type { Compensation } from "./types.js";

/**
 * Collects what one step decides. Nothing happens while the handler runs: the runtime turns the
 * collected decisions into one commit, so a handler that throws half-way leaves no trace. Each
 * call is checked at once, so a bad command or timeout fails the step before anything is written.
 */
export class StepContext implements SagaContext {
  readonly commands: Compensation[] = [];
  readonly compensations: Compensation[] = [];
  // Made on first use: most steps schedule and cancel nothing.
  schedules: Map<string, { readonly dueAt: number; readonly data: unknown }> | undefined;
  cancels: Set<string> | undefined;
  compensating = false;
  completed = false;
  ignored: string | undefined;

  constructor(
    readonly key: string,
    readonly now: () => number,
    /** The saga the step belongs to: a timeout it has no `onTimeout` handler for is refused. */
    readonly saga?: Pick<SagaDefinitionInput<DomainEvent, unknown>, "name" | "onTimeout">,
  ) {}

  dispatch(type: string, payload: unknown): void {
    assertName(type, "command type");
    this.commands.push({ type, payload });
  }

  compensateWith(type: string, payload: unknown): void {
    assertName(type, "command type");
    this.compensations.push({ type, payload });
  }

  compensate(): void {
    this.compensating = true;
  }

  schedule(options: ScheduleOptions): void {
    assertName(options?.name, "timeout name");
    assertScheduleKeys(options);
    const dueAt = dueTime(options, this.now());
    if (this.saga !== undefined && timeoutHandler(this.saga, options.name) === undefined) {
      throw new ValidationError(`Invalid timeout "${options.name}"`, [
        {
          path: ["schedule", "name"],
          message: `saga "${this.saga.name}" has no onTimeout handler for "${options.name}": nothing would handle it`,
        },
      ]);
    }
    this.cancels?.delete(options.name);
    this.schedules ??= new Map();
    this.schedules.set(options.name, { dueAt, data: options.data ?? null });
  }

  cancel(name: string): void {
    assertName(name, "timeout name");
    this.schedules?.delete(name);
    this.cancels ??= new Set();
    this.cancels.add(name);
  }

  complete(): void {
    this.completed = true;
  }

  ignore(reason = "ignored by the saga"): void {
    this.ignored = reason;
  }
}

const SCHEDULE_KEYS: readonly string[] = ["after", "at", "name", "data"] satisfies readonly (keyof ScheduleOptions)[];

/**
 * A key `schedule` does not take: a misspelt `dat` fired the timeout with `data` null. Run per step,
 * so no issue list is made unless a key is unknown.
 */
function assertScheduleKeys(options: ScheduleOptions): void {
  for (const key in options) {
    if (Object.hasOwn(options, key) && !SCHEDULE_KEYS.includes(key)) {
      throw new ValidationError(
        `Invalid timeout "${options.name}"`,
        unknownKeyIssues(options, SCHEDULE_KEYS, ["schedule"]),
      );
    }
  }
}

function dueTime(options: ScheduleOptions, now: number): number {
  const issues: Issue[] = [];
  if (options.after !== undefined && options.at !== undefined) {
    issues.push({ path: ["schedule"], message: "give after or at, not both" });
  } else if (options.after !== undefined) {
    const after = options.after;
    if (typeof after !== "number" || !Number.isFinite(after) || after < 0 || after > MAX_DELAY_MS * 1000) {
      issues.push({
        path: ["schedule", "after"],
        // The bound named: "non-negative" alone contradicted itself for a refused 2,147,483,648,000.
        message: `must be a number of milliseconds from 0 to ${MAX_DELAY_MS * 1000} (about 68 years), got ${kindOf(after)}`,
      });
    } else return now + after;
  } else if (options.at !== undefined) {
    const at = options.at instanceof Date ? options.at.getTime() : options.at;
    if (typeof at !== "number" || !Number.isFinite(at)) {
      issues.push({
        path: ["schedule", "at"],
        message: `must be a Date or epoch milliseconds, got ${kindOf(options.at)}`,
      });
    } else return at;
  } else issues.push({ path: ["schedule"], message: "needs after (milliseconds) or at (a time)" });
  throw new ValidationError(`Invalid timeout "${options.name}"`, issues);
}

function assertName(value: unknown, what: string): void {
  if (isName(value, MAX_TYPE_LENGTH)) return;
  const issues = nameIssues(value, what, MAX_TYPE_LENGTH);
  if (issues.length > 0) throw new ValidationError(`Invalid ${what}`, issues);
}
