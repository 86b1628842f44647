import { type Issue, NoTransitionError, ValidationError } from "../errors.js";
import type { DomainEvent, EnvelopeOf } from "../events/envelope.js";
import { kindOf, unknownKeyIssues } from "../internal/validate.js";
import {
  type Correlate,
  defineSaga,
  type FiredTimeout,
  type SagaContext,
  type SagaDefinition,
  type SagaHandler,
} from "./define-saga.js";

/** A process manager's persisted state: where it is in the machine, and its data. */
export interface ProcessState<S extends string, D> {
  readonly state: S;
  readonly data: D;
}

/** One transition: to a declared state, if the guard allows, running the action on the way. */
export interface Transition<S extends string, D, Input> {
  readonly to: S;
  readonly guard?: (data: D, input: Input) => boolean;
  /** Returns the new data (or nothing to keep it); may dispatch, schedule, compensate through ctx. */
  readonly action?: (data: D, input: Input, ctx: SagaContext) => D | undefined | Promise<D | undefined>;
}

/** Per state, per event type: one transition, or several tried in order (the first whose guard passes). */
export type Transitions<E extends DomainEvent, S extends string, D> = {
  readonly [From in S]?: {
    readonly [T in E["type"]]?: Transition<S, D, EnvelopeOf<E, T>> | readonly Transition<S, D, EnvelopeOf<E, T>>[];
  };
};

export interface ProcessManagerInput<E extends DomainEvent, S extends string, D> {
  readonly name: string;
  readonly startedBy: readonly E["type"][];
  readonly handles?: readonly E["type"][];
  readonly correlate: Correlate<EnvelopeOf<E>> | { readonly [T in E["type"]]?: Correlate<EnvelopeOf<E, T>> };
  /** Every state. A transition's `to` must be one of them: anything else does not compile. */
  readonly states: readonly S[];
  readonly initial: S;
  /** States that end the instance (it completes on entering one). */
  readonly final?: readonly S[];
  readonly data: D;
  readonly transitions: Transitions<E, S, D>;
  /**
   * Events that may arrive in a state and mean nothing there: the outcome is `ignored`. Any other
   * event without a transition is a {@link NoTransitionError}, reported, never dropped silently.
   */
  readonly ignore?: { readonly [From in S]?: readonly E["type"][] };
  /** Transitions on fired timeouts: by timeout name, then by state. */
  readonly onTimeout?: {
    readonly [name: string]: { readonly [From in S]?: Transition<S, D, FiredTimeout> };
  };
}

type AnyTransition = Transition<string, unknown, unknown>;

const DEFINITION_KEYS = [
  "name",
  "startedBy",
  "handles",
  "correlate",
  "states",
  "initial",
  "final",
  "data",
  "transitions",
  "ignore",
  "onTimeout",
] as const satisfies readonly (keyof ProcessManagerInput<DomainEvent, string, unknown>)[];

/**
 * Defines a process manager: a typed state machine persisted like any saga (it is one, with
 * `ProcessState` as its state). Give the event union, the state names and the data type:
 * `defineProcessManager<OrderEvent, "placed" | "paid", OrderData>({...})`.
 */
export function defineProcessManager<E extends DomainEvent, S extends string, D>(
  input: ProcessManagerInput<E, S, D>,
): SagaDefinition<E, ProcessState<S, D>> {
  const states = new Set<string>(input?.states ?? []);
  const final = new Set<string>(input?.final ?? []);
  // A misspelt key was dropped without a word: events listed under `ignores` were NoTransitionErrors.
  const issues: Issue[] = unknownKeyIssues(input, DEFINITION_KEYS);
  if (states.size === 0) issues.push({ path: ["states"], message: "must list at least one state" });
  if (!states.has(input?.initial))
    issues.push({ path: ["initial"], message: `"${String(input?.initial)}" is not a declared state` });
  for (const state of final)
    if (!states.has(state)) issues.push({ path: ["final"], message: `"${state}" is not a declared state` });
  // The types stop a TypeScript caller; this stops a JavaScript one.
  const transitions = (input?.transitions ?? {}) as Record<string, Record<string, AnyTransition | AnyTransition[]>>;
  const declared = new Set<string>([...(input?.startedBy ?? []), ...(input?.handles ?? [])]);
  for (const [from, byType] of Object.entries(transitions)) {
    if (!states.has(from)) issues.push({ path: ["transitions", from], message: `"${from}" is not a declared state` });
    for (const [type, listed] of Object.entries(byType ?? {})) {
      // The runtime routes declared types only: a transition on any other never fired.
      if (!declared.has(type)) {
        issues.push({
          path: ["transitions", from, type],
          message: `"${type}" is in neither startedBy nor handles: this transition would never be taken`,
        });
      }
      for (const transition of [listed].flat()) {
        if (!states.has(transition?.to)) {
          issues.push({
            path: ["transitions", from, type],
            message: `goes to "${String(transition?.to)}", not a declared state`,
          });
        }
        issues.push(...hookIssues(transition, ["transitions", from, type]));
      }
    }
  }
  for (const from of Object.keys(input?.ignore ?? {})) {
    if (!states.has(from)) issues.push({ path: ["ignore", from], message: `"${from}" is not a declared state` });
  }
  for (const [timeoutName, byState] of Object.entries(input?.onTimeout ?? {})) {
    for (const [from, listed] of Object.entries(byState ?? {})) {
      if (!states.has(from)) {
        issues.push({ path: ["onTimeout", timeoutName, from], message: `"${from}" is not a declared state` });
      }
      for (const transition of [listed].flat() as (AnyTransition | undefined)[]) {
        if (!states.has(transition?.to as string)) {
          issues.push({
            path: ["onTimeout", timeoutName, from],
            message: `goes to "${String(transition?.to)}", not a declared state`,
          });
        }
        issues.push(...hookIssues(transition, ["onTimeout", timeoutName, from]));
      }
    }
  }
  const name = typeof input?.name === "string" ? input.name : "?";
  if (issues.length > 0) throw new ValidationError(`Invalid process manager "${name}"`, issues);
  const ignore = (input.ignore ?? {}) as Record<string, readonly string[]>;

  const enter = async (
    current: ProcessState<S, D>,
    candidates: readonly AnyTransition[],
    input: unknown,
    ctx: SagaContext,
    onNone: () => undefined,
  ): Promise<ProcessState<S, D> | undefined> => {
    for (const transition of candidates) {
      if (transition.guard !== undefined && !passes(name, current.state, transition, current.data, input)) continue;
      const data = transition.action === undefined ? undefined : await transition.action(current.data, input, ctx);
      if (final.has(transition.to)) ctx.complete();
      return { state: transition.to as S, data: (data ?? current.data) as D };
    }
    return onNone();
  };

  const on: Record<string, SagaHandler<ProcessState<S, D>, EnvelopeOf<E>>> = {};
  for (const type of new Set<string>([...input.startedBy, ...(input.handles ?? [])])) {
    on[type] = (current, event, ctx) =>
      enter(current, [own(own(transitions, current.state), type) ?? []].flat(), event, ctx, () => {
        if (own(ignore, current.state)?.includes(type)) {
          ctx.ignore(`"${type}" is declared ignored in state "${current.state}"`);
          return undefined;
        }
        throw new NoTransitionError(name, current.state, type);
      });
  }
  const onTimeout: Record<string, SagaHandler<ProcessState<S, D>, FiredTimeout>> = {};
  for (const [timeoutName, byState] of Object.entries(input.onTimeout ?? {})) {
    const table = byState as Record<string, AnyTransition | undefined>;
    onTimeout[timeoutName] = (current, fired, ctx) =>
      enter(current, [own(table, current.state) ?? []].flat(), fired, ctx, () => {
        // A timer that outlived the state it was meant for: nothing to do, and said so.
        ctx.ignore(`timeout "${timeoutName}" has no transition from state "${current.state}"`);
        return undefined;
      });
  }

  return defineSaga<E, ProcessState<S, D>>({
    name: input.name,
    startedBy: input.startedBy,
    handles: input.handles ?? [],
    correlate: input.correlate,
    initialState: { state: input.initial, data: input.data },
    on: on as unknown as SagaDefinition<E, ProcessState<S, D>>["on"],
    onTimeout,
  });
}

/** The record's own entry: a state or event type named like Object's methods (constructor, toString) finds none there. */
const own = <T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined =>
  record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;

/**
 * Whether the transition's guard lets it through. A guard decides synchronously: a promise (an `async`
 * guard, from JavaScript or a cast) is truthy, so its transition was taken whatever it resolved to;
 * it fails the step with a ValidationError instead, and nothing is saved.
 */
function passes(
  pm: string,
  state: string,
  transition: { readonly to: string; readonly guard?: (data: never, input: never) => unknown },
  data: unknown,
  input: unknown,
): boolean {
  const verdict = (transition.guard as (data: unknown, input: unknown) => unknown)(data, input);
  if (typeof (verdict as { then?: unknown } | null)?.then === "function") {
    throw new ValidationError(`Process manager "${pm}": a guard returned a promise`, [
      {
        path: ["transitions", state, "guard"],
        message: `the guard of the transition to "${transition.to}" returned a promise: a guard decides synchronously (make it a function returning a boolean; do async work in an action)`,
      },
    ]);
  }
  return Boolean(verdict);
}

const TRANSITION_KEYS = ["to", "guard", "action"] as const satisfies readonly (keyof AnyTransition)[];

/** A transition's `guard` and `action`, when given, are called at run time: anything but a function is refused now. */
function hookIssues(transition: AnyTransition | undefined, path: readonly string[]): Issue[] {
  // A misspelt `gaurd` was dropped, and the transition was always taken.
  const issues: Issue[] = unknownKeyIssues(transition, TRANSITION_KEYS, path);
  for (const hook of ["guard", "action"] as const) {
    const value = transition?.[hook];
    if (value !== undefined && typeof value !== "function") {
      issues.push({ path: [...path, hook], message: `${hook} must be a function, got ${kindOf(value)}` });
    }
  }
  return issues;
}
