import { DuplicateHandlerError, HandlerNotFoundError, type Issue, ValidationError } from "../errors.js";
import { type PromiseStatus, promiseStatusReader } from "../internal/promise-status.js";
import {
  assertFunction,
  assertReadable,
  assertTypeName,
  functionIssues,
  isArray,
  kindOf,
  unknownKeyIssues,
} from "../internal/validate.js";
import { getLogger } from "../logging/library-logger.js";
import { countError, dispatchTimer, ownMeterProvider } from "../telemetry/metrics.js";
import { activeContext, otelUnregistered, spanOf } from "../telemetry/otel-global.js";
import { contextFromMetadata } from "../telemetry/propagation.js";
import { inSpan, SpanKind, type Tracer } from "../telemetry/spans.js";
import { activeTracer } from "../telemetry/tracer.js";
import {
  DispatchedMessage,
  type ExecuteOptions,
  type Message,
  type MessageKind,
  type MessageMap,
  type MessageMetadata,
  type PayloadOf,
  type ResultOf,
} from "./message.js";

export type MessageHandler<Payload = unknown, Result = unknown> = (
  payload: Payload,
  message: Message<string, Payload>,
) => Result | Promise<Result>;

/** Wraps dispatch: call `next()` to continue (it may be called again, to retry), or return/throw to stop. */
export type Middleware = (message: Message, next: () => Promise<unknown>) => Promise<unknown>;

/**
 * Marks a middleware that only does synchronous work and then continues (`validation`): the bus
 * runs that work inline instead of calling the middleware, which behaves the same when called.
 */
export const MIDDLEWARE_STEP: unique symbol = Symbol("eventflows.middlewareStep");

/** A middleware that is also a synchronous step: it may change the message or throw, then dispatch goes on. */
export interface SteppedMiddleware extends Middleware {
  readonly [MIDDLEWARE_STEP]: (message: Message) => void;
}

export type BeforeHook = (message: Message) => void | Promise<void>;

export type Outcome = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: unknown };

export type AfterHook = (message: Message, outcome: Outcome, durationMs: number) => void | Promise<void>;

/** Counters kept per message type. */
export interface ExecutionStats {
  readonly type: string;
  /** Dispatches that ended, every one counted. */
  readonly executions: number;
  /** Of those, the ones that failed. */
  readonly failures: number;
  /** How many of the executions were timed (see `timeExecutions`): the durations below cover these. */
  readonly timedExecutions: number;
  readonly totalDurationMs: number;
  readonly maxDurationMs: number;
  /** When the last timed execution ended (ISO time). */
  readonly lastExecutedAt: string | undefined;
}

/** The metadata of a message sent without any: shared, so frozen (`MessageMetadata` is read-only). */
const NO_METADATA: MessageMetadata = Object.freeze({});

/** By default the stats time the first dispatch of each type, then one in this many. */
const DEFAULT_TIMING_SAMPLE = 16;

export interface MessageBusOptions {
  /** Keep per-type execution stats: every dispatch counted, some timed (`timeExecutions`). Defaults to true. */
  readonly trackExecutions?: boolean;
  /**
   * Which dispatches the stats time (durations, `lastExecutedAt`): `true` every one, `false` none, or
   * `n`: the first of each type, then one in `n`. Defaults to 16: two
   * clock reads per dispatch cost more than the rest of a dispatch, so only a sample pays them.
   */
  readonly timeExecutions?: boolean | number;
  /** Told of every failed dispatch, with the message. The caller still receives the error. */
  readonly onError?: (error: unknown, message: Message) => void;
  /**
   * `false` turns this bus's dispatch spans off whatever provider is registered. Defaults to true:
   * a span per dispatch whenever a provider is registered.
   */
  readonly telemetry?: boolean;
}

interface MutableStats {
  readonly type: string;
  /** Dispatches to begin before the next timed one: a countdown, cheaper per dispatch than a modulo. */
  untilTimed: number;
  executions: number;
  failures: number;
  timedExecutions: number;
  totalDurationMs: number;
  maxDurationMs: number;
  /** `performance.now()` when the last timed execution ended. */
  lastEndedAt: number;
  /** Counting reactions of an untimed dispatch, made once per type: no closure per dispatch. */
  readonly fulfilled: () => void;
  readonly rejected: () => void;
  /**
   * Where the runtime reads a promise's state synchronously (Bun): untimed dispatches not yet
   * counted, counted by `sweep` instead of by a reaction each.
   */
  readonly unswept: Promise<unknown>[];
  /** `unswept` is swept when it grows to this length. */
  sweepAt: number;
}

/** Unswept dispatches kept at least before a sweep: bounds what settled results stay referenced. */
const SWEEP_MIN = 32;

type Pipeline = (message: Message, handler: MessageHandler) => Promise<unknown>;

interface Registration {
  readonly handler: MessageHandler;
  /** Its dispatch spans' name (`command PlaceOrder`), made once: not a new string per traced dispatch. */
  readonly spanName: string;
  /** This type's stats entry, once dispatched (the entry outlives the registration, in `#stats`). */
  entry: MutableStats | undefined;
}

/**
 * What the command and query buses share: one handler per type, before/after hooks, a middleware
 * pipeline, introspection and per-type execution stats. `M` types each message's payload and result.
 */
export abstract class MessageBus<M extends MessageMap = MessageMap> {
  readonly #kind: MessageKind;
  readonly #handlers = new Map<string, Registration>();
  readonly #middleware: Middleware[] = [];
  readonly #before: BeforeHook[] = [];
  readonly #after: AfterHook[] = [];
  readonly #stats = new Map<string, MutableStats>();
  readonly #track: boolean;
  /** Time one dispatch in this many per type; 0: none. */
  readonly #timeEvery: number;
  readonly #onError: ((error: unknown, message: Message) => void) | undefined;
  readonly #traced: boolean;
  readonly #status: ((promise: Promise<unknown>) => PromiseStatus) | undefined = promiseStatusReader();
  #pipeline: Pipeline = direct;
  // Before or after hooks make dispatch take the general, async path (see `execute`).
  #hooked = false;

  protected constructor(kind: MessageKind, given?: MessageBusOptions | null) {
    // null is no options, as undefined is: never a TypeError.
    const options = given ?? {};
    assertBusOptions(options);
    this.#kind = kind;
    this.#track = options.trackExecutions ?? true;
    this.#timeEvery = timingSample(options.timeExecutions);
    this.#onError = options.onError;
    this.#traced = options.telemetry !== false;
  }

  /**
   * @returns a function that unregisters this handler.
   * @throws {DuplicateHandlerError} the type has a handler already.
   */
  register<T extends keyof M & string>(type: T, handler: MessageHandler<PayloadOf<M, T>, ResultOf<M, T>>): () => void {
    assertTypeName(type, `${this.#kind} type`);
    assertFunction(handler, type, `${this.#kind} handler`);
    if (this.#handlers.has(type)) throw new DuplicateHandlerError(this.#kind, type);
    const registration: Registration = {
      handler: handler as MessageHandler,
      spanName: `${this.#kind} ${type}`,
      entry: undefined,
    };
    this.#handlers.set(type, registration);
    // This registration only: once it is gone, a later one (of the same function, too) is not this one's to remove.
    return () => {
      if (this.#handlers.get(type) === registration) this.#handlers.delete(type);
    };
  }

  unregister(type: keyof M & string): boolean {
    return this.#handlers.delete(type);
  }

  has(type: string): type is keyof M & string {
    return this.#handlers.has(type);
  }

  registeredTypes(): (keyof M & string)[] {
    return [...this.#handlers.keys()];
  }

  /**
   * A start-up check that every type of `M` has a handler. TypeScript types are gone at run time, so
   * pass an object with a key per type (the valibot schemas given to `validation`, or `{ A: true, ... }`):
   * the compiler refuses one that misses a type of `M`, and this call refuses a type with no handler.
   * @throws {HandlerNotFoundError} naming every type without a handler.
   * @throws {ValidationError} `types` is not an object.
   */
  assertAllHandled(types: { readonly [T in keyof M & string]: unknown }): void {
    if (typeof types !== "object" || types === null || Array.isArray(types)) {
      throw new ValidationError(`Invalid ${this.#kind} types`, [
        { path: [], message: `must be an object with a key per ${this.#kind} type, got ${kindOf(types)}` },
      ]);
    }
    const missing = Object.keys(types).filter((type) => !this.#handlers.has(type));
    const first = missing[0];
    if (first === undefined) return;
    throw new HandlerNotFoundError(this.#kind, first, { missing, registered: [...this.#handlers.keys()] });
  }

  /** Adds a middleware; the first added is the outermost. */
  use(middleware: Middleware): this {
    assertFunction(middleware, "middleware", "middleware");
    this.#middleware.push(middleware);
    this.#pipeline = compose(this.#middleware);
    return this;
  }

  /** Runs before the middleware; a hook that throws stops the dispatch with its error. */
  before(hook: BeforeHook): this {
    assertFunction(hook, "before", "before hook");
    this.#before.push(hook);
    this.#hooked = true;
    return this;
  }

  /** Runs after the outcome is known; it cannot change it, and its own errors are only logged. */
  after(hook: AfterHook): this {
    assertFunction(hook, "after", "after hook");
    this.#after.push(hook);
    this.#hooked = true;
    return this;
  }

  stats(): ExecutionStats[];
  stats(type: keyof M & string): ExecutionStats | undefined;
  stats(type?: keyof M & string): ExecutionStats[] | ExecutionStats | undefined {
    const status = this.#status;
    if (type !== undefined) {
      const entry = this.#stats.get(type);
      if (entry === undefined) return undefined;
      if (status !== undefined) sweep(entry, status);
      return publicStats(entry);
    }
    return [...this.#stats.values()].map((entry) => {
      if (status !== undefined) sweep(entry, status);
      return publicStats(entry);
    });
  }

  /**
   * Dispatches to the type's handler. Every failure, including a missing handler, arrives as a
   * rejection, never as a synchronous throw.
   * @throws {HandlerNotFoundError} nothing handles this type; otherwise whatever the pipeline throws.
   */
  execute<T extends keyof M & string>(
    type: T,
    payload: PayloadOf<M, T>,
    options?: ExecuteOptions | null,
  ): Promise<ResultOf<M, T>> {
    // Nothing registered with OpenTelemetry (the usual case): no span, no timer, one property read.
    if (otelUnregistered() && !ownMeterProvider()) return this.#execute(type, payload, options);
    try {
      return this.#instrumentedExecute(type, payload, options);
    } catch {
      // Reading the options for the span or the timer threw (a getter, a revoked Proxy): dispatched
      // as without OpenTelemetry, whose checks refuse such options as a rejection, never a throw.
      return this.#execute(type, payload, options);
    }
  }

  /** `execute` with a provider registered: in a span when traced, timed when the type is registered. */
  #instrumentedExecute<T extends keyof M & string>(
    type: T,
    payload: PayloadOf<M, T>,
    options: ExecuteOptions | null | undefined,
  ): Promise<ResultOf<M, T>> {
    // Read before anything is dispatched: when reading throws, `execute` dispatches once, unobserved.
    const metadata = options?.metadata;
    const tracer = this.#traced ? activeTracer() : undefined;
    // Timed only with a provider registered, and only registered types: an unknown one may be user input.
    const timer = dispatchTimer(this.#kind);
    const dispatched =
      tracer === undefined
        ? this.#execute(type, payload, options)
        : this.#tracedExecute(tracer, type, payload, options, metadata);
    if (timer === undefined || !this.#handlers.has(type)) return dispatched;
    return timer(type, dispatched, metadata) as Promise<ResultOf<M, T>>;
  }

  /**
   * Dispatch in a span named for the kind and type. A message that arrives with a trace context in
   * its metadata and no active span (from a queue, say) continues that trace.
   */
  #tracedExecute<T extends keyof M & string>(
    tracer: Tracer,
    type: T,
    payload: PayloadOf<M, T>,
    options: ExecuteOptions | null | undefined,
    metadata: ExecuteOptions["metadata"],
  ): Promise<ResultOf<M, T>> {
    // An unregistered type is whatever a caller sent: it stays out of the span name (bounded names).
    const registration = this.#handlers.get(type);
    const known = registration !== undefined;
    const correlationId = typeof metadata?.correlationId === "string" ? metadata.correlationId : undefined;
    // Object literals, not one object grown key by key: the SDK copies and checks every span's
    // attributes, and on Bun that cost about 0.7 µs less per dispatch (measured with the SDK registered).
    const attributes: Record<string, string> = !known
      ? { "eventflows.message.kind": this.#kind }
      : correlationId === undefined
        ? { "eventflows.message.kind": this.#kind, "eventflows.message.type": type }
        : {
            "eventflows.message.kind": this.#kind,
            "eventflows.message.type": type,
            "eventflows.correlation_id": correlationId,
          };
    if (!known && correlationId !== undefined) attributes["eventflows.correlation_id"] = correlationId;
    // The active context, read once: the parent, unless no span runs and the message carries a trace.
    const active = activeContext();
    const parent = spanOf(active) === undefined ? (contextFromMetadata(metadata) ?? active) : active;
    const name = registration === undefined ? this.#kind : registration.spanName;
    return inSpan(tracer, name, SpanKind.INTERNAL, attributes, () => this.#execute(type, payload, options), parent);
  }

  #execute<T extends keyof M & string>(
    type: T,
    payload: PayloadOf<M, T>,
    options?: ExecuteOptions | null,
  ): Promise<ResultOf<M, T>> {
    let registration: Registration | undefined;
    let message: Message;
    try {
      registration = this.#handlers.get(type);
      if (registration === undefined) {
        assertTypeName(type, `${this.#kind} type`);
        throw new HandlerNotFoundError(this.#kind, type, { registered: [...this.#handlers.keys()] });
      }
      // null is no options, as it is for save, update, subscriptions and the buses' own options.
      if (options != null) assertExecuteOptions(options);
      message = new DispatchedMessage(
        this.#kind,
        type,
        payload,
        options?.metadata ?? NO_METADATA,
        options?.signal,
        options?.id,
      );
    } catch (error) {
      // A registered type's failure (its execute options refused) is counted by the dispatch timer
      // with the rest of its failures; counting it here too counted it twice.
      if (registration === undefined) countError(this.#kind, error);
      return Promise.reject(error);
    }
    const handler = registration.handler;
    // The stats entry hangs off the registration: one map lookup per dispatch, not two.
    let entry: MutableStats | undefined;
    if (this.#track) {
      entry = registration.entry;
      if (entry === undefined) {
        entry = this.#entry(type);
        registration.entry = entry;
      }
    }
    let timed = false;
    if (entry !== undefined && this.#timeEvery > 0 && --entry.untilTimed === 0) {
      entry.untilTimed = this.#timeEvery;
      timed = true;
    }
    if (this.#hooked) return this.#dispatch(message, handler, entry, timed) as Promise<ResultOf<M, T>>;
    // No hooks (the common case): the handler's or the middleware chain's promise is all there is to
    // wait for, so dispatch adds no async frame of its own; at most one reaction to keep the stats,
    // and an untimed one allocates nothing.
    const started = timed ? performance.now() : 0;
    let returned: unknown;
    try {
      returned = this.#middleware.length === 0 ? handler(payload, message) : this.#pipeline(message, handler);
    } catch (error) {
      returned = Promise.reject(error);
    }
    const onError = this.#onError;
    if (onError === undefined) {
      if (entry === undefined) return Promise.resolve(returned) as Promise<ResultOf<M, T>>;
      if (!timed) {
        // A handler that answered synchronously has ended: counted now, and one promise, not two.
        let thenable: boolean;
        try {
          thenable = isThenable(returned);
        } catch (error) {
          // A result whose `then` getter throws (a proxy, say): as a promise would take it, a rejection.
          returned = Promise.reject(error);
          thenable = true;
        }
        if (!thenable) {
          entry.executions++;
          return Promise.resolve(returned) as Promise<ResultOf<M, T>>;
        }
        // The caller gets the handler's own promise; the count is a reaction beside the caller's, not a
        // link in its chain: registered first, it runs before the caller resumes, so the count is
        // exact when the caller looks, and the caller waits one microtask less.
        const settled = Promise.resolve(returned);
        const status = this.#status;
        if (status === undefined) settled.then(entry.fulfilled, entry.rejected);
        else {
          // Where the state can be read (Bun), not even that reaction: an async handler that never
          // awaited has settled already and is counted now; one still pending is kept, counted at the
          // next sweep or `stats()` read, whichever comes first, so a read is exact all the same.
          const state = status(settled);
          if (state === "pending") {
            if (entry.unswept.push(settled) >= entry.sweepAt) sweep(entry, status);
          } else {
            entry.executions++;
            if (state === "rejected") entry.failures++;
          }
        }
        return settled as Promise<ResultOf<M, T>>;
      }
    }
    return Promise.resolve(returned).then(
      (result) => {
        if (entry !== undefined) record(entry, true, timed ? started : undefined);
        return result as ResultOf<M, T>;
      },
      (error: unknown) => {
        if (entry !== undefined) record(entry, false, timed ? started : undefined);
        if (onError !== undefined) this.#tellError(error, message);
        throw error;
      },
    );
  }

  async #dispatch(
    message: Message,
    handler: MessageHandler,
    entry: MutableStats | undefined,
    timed: boolean,
  ): Promise<unknown> {
    // After hooks are given the duration of every dispatch; the stats take it only when it is timed.
    const clocked = timed || this.#after.length > 0;
    const started = clocked ? performance.now() : 0;
    let outcome: Outcome;
    try {
      for (const hook of this.#before) await hook(message);
      outcome = { ok: true, result: await this.#pipeline(message, handler) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    if (entry !== undefined) record(entry, outcome.ok, timed ? started : undefined);
    if (this.#after.length > 0) await this.#runAfterHooks(message, outcome, performance.now() - started);
    if (!outcome.ok) {
      this.#tellError(outcome.error, message);
      throw outcome.error;
    }
    return outcome.result;
  }

  #entry(type: string): MutableStats {
    let entry = this.#stats.get(type);
    if (entry === undefined) {
      const made: MutableStats = {
        type,
        // The first dispatch of a type is timed, then one in `timeExecutions`.
        untilTimed: 1,
        executions: 0,
        failures: 0,
        timedExecutions: 0,
        totalDurationMs: 0,
        maxDurationMs: 0,
        lastEndedAt: 0,
        fulfilled: () => {
          made.executions++;
        },
        // The caller's own reaction sees the error: rethrowing here would reject a promise nobody
        // holds, reported as unhandled.
        rejected: () => {
          made.executions++;
          made.failures++;
        },
        unswept: [],
        sweepAt: SWEEP_MIN,
      };
      entry = made;
      this.#stats.set(type, entry);
    }
    return entry;
  }
  /**
   * Tells `onError` of a failed dispatch; what it throws, or an async one rejects with, is logged
   * (never an unhandled rejection), and the caller still gets `error` without waiting for it.
   */
  #tellError(error: unknown, message: Message): void {
    const onError = this.#onError;
    if (onError === undefined) return;
    const report = (thrown: unknown) =>
      logQuietly("the bus's onError threw", { error: thrown, kind: message.kind, type: message.type });
    try {
      const returned: unknown = onError(error, message);
      if (returned instanceof Promise) returned.catch(report);
    } catch (thrown) {
      report(thrown);
    }
  }

  async #runAfterHooks(message: Message, outcome: Outcome, durationMs: number): Promise<void> {
    for (const hook of this.#after) {
      // After hooks observe; one that fails must not change the outcome the caller sees.
      try {
        await hook(message, outcome, durationMs);
      } catch (error) {
        logQuietly("an after hook threw", { error, kind: message.kind, type: message.type });
      }
    }
  }
}

/**
 * Logs a hook's failure on the library's logger; a logger that throws too (a closed sink) is
 * ignored: the caller must still get the dispatch's own outcome, not the logger's error.
 */
function logQuietly(line: string, fields: Record<string, unknown>): void {
  try {
    getLogger().error(line, fields);
  } catch {
    // Nowhere left to report it.
  }
}

/** Counts an ended dispatch; `started` (its `performance.now()`) when it was timed. */
function record(entry: MutableStats, ok: boolean, started: number | undefined): void {
  entry.executions++;
  if (!ok) entry.failures++;
  if (started === undefined) return;
  const ended = performance.now();
  const durationMs = ended - started;
  entry.timedExecutions++;
  entry.totalDurationMs += durationMs;
  if (durationMs > entry.maxDurationMs) entry.maxDurationMs = durationMs;
  entry.lastEndedAt = ended;
}

/** Counts the kept dispatches that have ended and keeps the rest, for a later sweep. */
function sweep(entry: MutableStats, status: (promise: Promise<unknown>) => PromiseStatus): void {
  const unswept = entry.unswept;
  let kept = 0;
  for (const promise of unswept) {
    const state = status(promise);
    if (state === "pending") unswept[kept++] = promise;
    else {
      entry.executions++;
      if (state === "rejected") entry.failures++;
    }
  }
  unswept.length = kept;
  // Many long dispatches in flight: sweep again only once as many more have begun, so each
  // dispatch is looked at a bounded number of times on average.
  entry.sweepAt = Math.max(SWEEP_MIN, kept * 2);
}

const BUS_OPTIONS = [
  "trackExecutions",
  "timeExecutions",
  "onError",
  "telemetry",
] as const satisfies readonly (keyof MessageBusOptions)[];
const EXECUTE_OPTIONS = ["metadata", "id", "signal"] as const satisfies readonly (keyof ExecuteOptions)[];

/** The options other than `timeExecutions` (checked by {@link timingSample}): a JavaScript caller's mistakes. */
function assertBusOptions(options: MessageBusOptions): void {
  // An array is no options object: its entries were never read.
  if (typeof options !== "object" || isArray(options) !== false) {
    throw new ValidationError("Invalid bus options", [
      { path: [], message: `options must be an object, got ${kindOf(options)}` },
    ]);
  }
  // A misspelt key was dropped and its default taken: `trackExecution: false` went on tracking.
  const issues: Issue[] = unknownKeyIssues(options, BUS_OPTIONS);
  for (const key of ["trackExecutions", "telemetry"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "boolean") {
      issues.push({ path: [key], message: `must be a boolean, got ${kindOf(options[key])}` });
    }
  }
  issues.push(...functionIssues(options.onError, "onError"));
  if (issues.length > 0) throw new ValidationError("Invalid bus options", issues);
}

function timingSample(option: boolean | number | undefined): number {
  if (option === undefined) return DEFAULT_TIMING_SAMPLE;
  if (typeof option === "boolean") return option ? 1 : 0;
  if (!Number.isSafeInteger(option) || option < 1) {
    throw new ValidationError("Invalid bus options", [
      { path: ["timeExecutions"], message: "must be true, false or a whole number of at least 1" },
    ]);
  }
  return option;
}

function publicStats(entry: MutableStats): ExecutionStats {
  return {
    type: entry.type,
    executions: entry.executions,
    failures: entry.failures,
    timedExecutions: entry.timedExecutions,
    totalDurationMs: entry.totalDurationMs,
    maxDurationMs: entry.maxDurationMs,
    lastExecutedAt:
      entry.timedExecutions === 0 ? undefined : new Date(performance.timeOrigin + entry.lastEndedAt).toISOString(),
  };
}

const direct: Pipeline = async (message, handler) => handler(message.payload, message);

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === "object" || typeof value === "function") &&
    value !== null &&
    typeof (value as { then?: unknown }).then === "function"
  );
}

function compose(middleware: readonly Middleware[]): Pipeline {
  const chain = [...middleware];
  // A middleware with a synchronous step (`validation`) runs as that step, inline: no closure, no
  // promise and no microtask of its own per dispatch. Its place in the order is kept.
  const steps = chain.map((entry) => (entry as Partial<SteppedMiddleware>)[MIDDLEWARE_STEP]);
  return (message, handler) => {
    // Always a promise, never a synchronous throw, whatever a middleware or the handler does.
    const dispatch = (index: number): Promise<unknown> => {
      try {
        let step = steps[index];
        while (step !== undefined) {
          step(message);
          step = steps[++index];
        }
        const next = chain[index];
        return Promise.resolve(
          next === undefined ? handler(message.payload, message) : next(message, () => dispatch(index + 1)),
        );
      } catch (error) {
        return Promise.reject(error);
      }
    };
    return dispatch(0);
  };
}

/** A real AbortSignal: one that only has an `aborted` flag fails where a handler calls its methods. */
function isAbortSignal(signal: unknown): boolean {
  try {
    return signal instanceof AbortSignal;
  } catch {
    // A Proxy whose getPrototypeOf trap throws is no signal either: refused, not its trap's error.
    return false;
  }
}

/**
 * Refuses execute options a JavaScript caller got wrong, which would otherwise be taken silently: an
 * empty id became the events' correlation and causation id, a metadata or options value that is not
 * an object was ignored. Checked only when options are given (the usual dispatch passes none).
 */
function assertExecuteOptions(options: ExecuteOptions): void {
  if (typeof options !== "object" || options === null || isArray(options) !== false) {
    throw new ValidationError("Invalid execute options", [
      { path: [], message: `must be an object, got ${kindOf(options)}` },
    ]);
  }
  // A misspelt `metadata` or `id` was dropped: the command ran without its correlation, under a new id.
  const issues: Issue[] = unknownKeyIssues(options, EXECUTE_OPTIONS);
  assertReadable(issues, "execute options");
  const { id, metadata, signal } = options;
  if (id !== undefined && (typeof id !== "string" || id === "")) {
    issues.push({ path: ["id"], message: `must be a non-empty string, got ${kindOf(id)}` });
  }
  if (metadata !== undefined && (typeof metadata !== "object" || metadata === null || Array.isArray(metadata))) {
    issues.push({ path: ["metadata"], message: `must be an object, got ${kindOf(metadata)}` });
  }
  if (signal !== undefined && !isAbortSignal(signal)) {
    issues.push({ path: ["signal"], message: `must be an AbortSignal, got ${kindOf(signal)}` });
  }
  if (issues.length > 0) throw new ValidationError("Invalid execute options", issues);
}
