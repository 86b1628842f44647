import { type Issue, ValidationError } from "../errors.js";
import type { DomainEvent, EnvelopeOf } from "../events/envelope.js";
import { jsonIssues } from "../internal/json.js";
import { functionIssues, isName, kindOf, MAX_TYPE_LENGTH, nameIssues, unknownKeyIssues } from "../internal/validate.js";
import { textOf } from "./records.js";
import { MAX_SAGA_KEY_LENGTH } from "./saga-store.js";

/** When a timeout is due: `after` milliseconds from now, or `at` a time (a Date or epoch milliseconds). */
export type ScheduleOptions = (
  | { readonly after: number; readonly at?: undefined }
  | { readonly at: Date | number; readonly after?: undefined }
) & {
  readonly name: string;
  readonly data?: unknown;
};

/**
 * What a step can do besides returning the new state. Everything is recorded and takes effect only
 * when the step is saved: commands go to the outbox and are dispatched after the save.
 */
export interface SagaContext {
  /** The saga instance's correlation key. */
  readonly key: string;
  /** Decides a command: saved to the outbox, then dispatched with the id `<saga>/<key>/<step>`. */
  dispatch(type: string, payload: unknown): void;
  /** Registers the command that undoes what this step did, run only if the saga compensates. */
  compensateWith(type: string, payload: unknown): void;
  /** Dispatches the registered compensations, newest first, each at most once; then `compensated`. */
  compensate(): void;
  /** Schedules a timeout, replacing any pending one of the same name. */
  schedule(options: ScheduleOptions): void;
  /** Cancels a pending timeout by name; nothing happens if there is none. */
  cancel(name: string): void;
  /** Ends the instance: later events are not applied, its timeouts are dropped. */
  complete(): void;
  /** Declares the event irrelevant here: nothing is saved, the outcome is `ignored`. */
  ignore(reason?: string): void;
  /** The runtime's clock, in epoch milliseconds (a fake one in tests). */
  now(): number;
}

/** A fired timeout, as a saga's `onTimeout` handler sees it. */
export interface FiredTimeout<Data = unknown> {
  readonly id: string;
  readonly name: string;
  readonly data: Data;
  readonly dueAt: number;
  readonly firedAt: number;
  /** How late it fired, in milliseconds (after downtime, possibly a lot). */
  readonly latenessMs: number;
}

/** A step: the state and the event in, the new state out (or nothing, to keep the state). */
export type SagaHandler<State, Event> = (
  state: State,
  event: Event,
  ctx: SagaContext,
) => State | undefined | Promise<State | undefined>;

/** Reads an instance's key from an event: one string, or several that together make the key. */
export type Correlate<Event> = (event: Event) => string | readonly string[] | undefined;

export interface SagaDefinitionInput<E extends DomainEvent, State> {
  /** Unique among sagas: part of every instance id and command id. */
  readonly name: string;
  /** Event types that create an instance when none exists for their key. */
  readonly startedBy: readonly E["type"][];
  /** Event types applied to an existing instance only (an event with no instance is `no-instance`). */
  readonly handles?: readonly E["type"][];
  /**
   * The instance an event belongs to: one function for every type, or one per type. Return
   * several strings for a composite key (tenant and order, say).
   */
  readonly correlate: Correlate<EnvelopeOf<E>> | { readonly [T in E["type"]]?: Correlate<EnvelopeOf<E, T>> };
  /** The state of a new instance; must be JSON. */
  readonly initialState: State;
  readonly on: { readonly [T in E["type"]]?: SagaHandler<State, EnvelopeOf<E, T>> };
  /** Handlers of fired timeouts, by timeout name. */
  readonly onTimeout?: { readonly [name: string]: SagaHandler<State, FiredTimeout> };
}

/** A checked saga definition, ready for a `SagaRuntime`. */
export interface SagaDefinition<E extends DomainEvent = DomainEvent, State = unknown>
  extends SagaDefinitionInput<E, State> {
  readonly handles: readonly E["type"][];
  /** Every type it reacts to: `startedBy` and `handles`. */
  readonly types: ReadonlySet<string>;
  /** The key of an event, or a ValidationError naming what is missing. */
  readonly keyOf: (event: EnvelopeOf<E>) => string | ValidationError;
}

const DEFINITION_KEYS = [
  "name",
  "startedBy",
  "handles",
  "correlate",
  "initialState",
  "on",
  "onTimeout",
] as const satisfies readonly (keyof SagaDefinitionInput<DomainEvent, unknown>)[];

/**
 * The fields a definition adds to its input, made afresh from it: passed back in, by a saga derived
 * from a defined one (`defineSaga({ ...saga, name })`), they are no misspelling, and are not refused.
 */
const DERIVED_KEYS: readonly unknown[] = ["types", "keyOf"] satisfies readonly Exclude<
  keyof SagaDefinition,
  keyof SagaDefinitionInput<DomainEvent, unknown>
>[];

/**
 * Defines a saga. Checks the definition at once: a saga without correlation, a type without a
 * handler, a handler for a type it does not declare, a key it does not take or an initial state
 * that is not JSON is a {@link ValidationError} here, not at run time.
 */
export function defineSaga<E extends DomainEvent, State>(
  input: SagaDefinitionInput<E, State>,
): SagaDefinition<E, State> {
  // A misspelt key was dropped without a word: with `handels`, its events reached no instance, so the
  // saga never compensated, and nothing was reported.
  const issues: Issue[] = unknownKeyIssues(input, DEFINITION_KEYS).filter(
    (issue) => !DERIVED_KEYS.includes(issue.path[0]),
  );
  issues.push(...nameIssues(input?.name, "saga name", MAX_SAGA_KEY_LENGTH, ["name"]));
  // The name opens every command and timeout id (`<name>/<key>/…`), whose keys may hold `/`: saga
  // `a/b` with key `c` and saga `a` with key `b/c` would send commands under one id (a command-side
  // dedup store would drop the second) and share timeout ids.
  if (typeof input?.name === "string" && input.name.includes("/")) {
    issues.push({ path: ["name"], message: "a saga name cannot contain /: it opens the ids of its commands" });
  }
  const name = typeof input?.name === "string" ? input.name : "?";
  if (!Array.isArray(input?.startedBy) || input.startedBy.length === 0) {
    issues.push({ path: ["startedBy"], message: "must list at least one event type" });
  }
  const handles = input?.handles ?? [];
  const types = new Set<string>([...(input?.startedBy ?? []), ...handles]);
  for (const type of types) issues.push(...nameIssues(type, "event type", MAX_TYPE_LENGTH, ["startedBy"]));
  const correlate = input?.correlate;
  if (
    correlate === undefined ||
    correlate === null ||
    (typeof correlate !== "function" && typeof correlate !== "object")
  ) {
    issues.push({
      path: ["correlate"],
      message: `is required: a function or one per event type, got ${kindOf(correlate)}`,
    });
  } else if (typeof correlate === "object") {
    for (const type of types) {
      // Its own: an event type named like Object's methods (toString) must not find those.
      if (!ownFunction(correlate, type)) {
        issues.push({ path: ["correlate", type], message: `"${type}" has no correlation function` });
      }
    }
    issues.push(...undeclaredTypeIssues(correlate, types, "correlate", "its correlation function would never run"));
  }
  for (const type of types) {
    if (!ownFunction(input?.on, type)) {
      issues.push({ path: ["on", type], message: `"${type}" has no handler` });
    }
  }
  issues.push(...undeclaredTypeIssues(input?.on, types, "on", "its handler would never run"));
  const onTimeout: unknown = input?.onTimeout;
  if (onTimeout !== undefined && (typeof onTimeout !== "object" || onTimeout === null)) {
    issues.push({
      path: ["onTimeout"],
      message: `must be an object of handlers by timeout name, got ${kindOf(onTimeout)}`,
    });
  } else {
    for (const [timeout, handler] of Object.entries(onTimeout ?? {})) {
      issues.push(...functionIssues(handler, ["onTimeout", timeout], true));
    }
  }
  // As the stores check every state: one with U+0000 could never be saved, so no instance would start.
  issues.push(...jsonIssues(input?.initialState, ["initialState"], { refuseNul: true }));
  if (issues.length > 0) throw new ValidationError(`Invalid saga "${name}"`, issues);

  const keyOf = (event: EnvelopeOf<E>): string | ValidationError => {
    const read =
      typeof correlate === "function" ? correlate : (correlate as Record<string, Correlate<unknown>>)[event.type];
    let value: unknown;
    try {
      value = read?.(event);
    } catch (error) {
      return new ValidationError(`Saga "${name}" could not correlate ${event.type} ${textOf(event.id)}`, [], {
        cause: error,
      });
    }
    return keyFrom(name, event, value);
  };
  return { ...input, handles, types, keyOf };
}

/**
 * An entry of `on` or `correlate` for a type in neither `startedBy` nor `handles`: the runtime routes
 * only declared types, so it would never run (a type left out of `handles`, or misspelt in it,
 * compensated nothing).
 */
function undeclaredTypeIssues(record: unknown, types: ReadonlySet<string>, key: string, never: string): Issue[] {
  if (typeof record !== "object" || record === null) return [];
  const issues: Issue[] = [];
  for (const type of Object.keys(record)) {
    if (!types.has(type)) {
      issues.push({ path: [key, type], message: `"${type}" is in neither startedBy nor handles: ${never}` });
    }
  }
  return issues;
}

const ownFunction = (holder: unknown, name: string): boolean =>
  typeof holder === "object" &&
  holder !== null &&
  Object.hasOwn(holder, name) &&
  typeof (holder as Record<string, unknown>)[name] === "function";

/** The saga's own `onTimeout` handler for `name`: never one inherited from Object (`toString`, `constructor`). */
export function timeoutHandler<State>(
  saga: Pick<SagaDefinitionInput<DomainEvent, State>, "onTimeout">,
  name: string,
): SagaHandler<State, FiredTimeout> | undefined {
  const handlers = saga.onTimeout;
  if (handlers === undefined || handlers === null || !Object.hasOwn(handlers, name)) return undefined;
  const handler = handlers[name];
  return typeof handler === "function" ? handler : undefined;
}

/** One key, or several joined (each escaped, so `["a/b", "c"]` and `["a", "b/c"]` differ). */
function keyFrom(name: string, event: { type: string; id: string }, value: unknown): string | ValidationError {
  // One non-empty string (the common case) is its own key: one check, no arrays.
  if (isName(value, MAX_SAGA_KEY_LENGTH)) return value;
  const parts = Array.isArray(value) ? (value as unknown[]) : [value];
  const issues: Issue[] = [];
  if (parts.length === 0) issues.push({ path: ["correlate"], message: "returned no key" });
  for (const [i, part] of parts.entries()) {
    if (part === undefined || part === null || part === "") {
      issues.push({ path: ["correlate", i], message: `the key is missing from the event (got ${kindOf(part)})` });
    } else issues.push(...nameIssues(part, "correlation key", MAX_SAGA_KEY_LENGTH, ["correlate", i]));
  }
  if (issues.length > 0) {
    return new ValidationError(`Saga "${name}" cannot correlate ${event.type} ${textOf(event.id)}`, issues);
  }
  const key =
    parts.length === 1 ? (parts[0] as string) : parts.map((part) => encodeURIComponent(part as string)).join("/");
  const tooLong = nameIssues(key, "correlation key", MAX_SAGA_KEY_LENGTH, ["correlate"]);
  return tooLong.length > 0
    ? new ValidationError(`Saga "${name}" cannot correlate ${event.type} ${textOf(event.id)}`, tooLong)
    : key;
}
