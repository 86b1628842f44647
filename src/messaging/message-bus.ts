import { DuplicateHandlerError, HandlerNotFoundError, ValidationError } from "../errors.js";
import { assertTypeName, kindOf } from "../internal/validate.js";
import {
  DispatchedMessage,
  type ExecuteOptions,
  type Message,
  type MessageKind,
  type MessageMap,
  type PayloadOf,
  type ResultOf,
} from "./message.js";

export type MessageHandler<Payload = unknown, Result = unknown> = (
  payload: Payload,
  message: Message<string, Payload>,
) => Result | Promise<Result>;

/** Wraps dispatch: call `next()` to continue (it may be called again, to retry), or return/throw to stop. */
export type Middleware = (message: Message, next: () => Promise<unknown>) => Promise<unknown>;

export type BeforeHook = (message: Message) => void | Promise<void>;

export type Outcome = { readonly ok: true; readonly result: unknown } | { readonly ok: false; readonly error: unknown };

export type AfterHook = (message: Message, outcome: Outcome, durationMs: number) => void | Promise<void>;

/** Counters kept per message type. */
export interface ExecutionStats {
  readonly type: string;
  readonly executions: number;
  readonly failures: number;
  readonly totalDurationMs: number;
  readonly maxDurationMs: number;
  readonly lastExecutedAt: string | undefined;
}

export interface MessageBusOptions {
  /** Keep per-type execution stats. Defaults to true. */
  readonly trackExecutions?: boolean;
  /** Told of every failed dispatch, with the message. The caller still receives the error. */
  readonly onError?: (error: unknown, message: Message) => void;
}

interface MutableStats {
  type: string;
  executions: number;
  failures: number;
  totalDurationMs: number;
  maxDurationMs: number;
  /** `performance.now()` when the last execution ended: one clock read per dispatch instead of two. */
  lastEndedAt: number;
}

type Pipeline = (message: Message, handler: MessageHandler) => Promise<unknown>;

/**
 * What the command and query buses share: one handler per type, before/after hooks, a middleware
 * pipeline, introspection and per-type execution stats. `M` types each message's payload and result.
 */
export abstract class MessageBus<M extends MessageMap = MessageMap> {
  readonly #kind: MessageKind;
  readonly #handlers = new Map<string, MessageHandler>();
  readonly #middleware: Middleware[] = [];
  readonly #before: BeforeHook[] = [];
  readonly #after: AfterHook[] = [];
  readonly #stats = new Map<string, MutableStats>();
  readonly #track: boolean;
  readonly #onError: ((error: unknown, message: Message) => void) | undefined;
  #pipeline: Pipeline = direct;
  // Before or after hooks make dispatch take the general, async path (see `execute`).
  #hooked = false;

  protected constructor(kind: MessageKind, options: MessageBusOptions = {}) {
    this.#kind = kind;
    this.#track = options.trackExecutions ?? true;
    this.#onError = options.onError;
  }

  /**
   * @returns a function that unregisters this handler.
   * @throws {DuplicateHandlerError} the type has a handler already.
   */
  register<T extends keyof M & string>(type: T, handler: MessageHandler<PayloadOf<M, T>, ResultOf<M, T>>): () => void {
    assertTypeName(type, `${this.#kind} type`);
    if (typeof handler !== "function") {
      throw new ValidationError(`Invalid ${this.#kind} handler`, [
        { path: [type], message: `the handler must be a function, got ${kindOf(handler)}` },
      ]);
    }
    if (this.#handlers.has(type)) throw new DuplicateHandlerError(this.#kind, type);
    this.#handlers.set(type, handler as MessageHandler);
    return () => {
      if (this.#handlers.get(type) === handler) this.#handlers.delete(type);
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
   */
  assertAllHandled(types: { readonly [T in keyof M & string]: unknown }): void {
    const missing = Object.keys(types).filter((type) => !this.#handlers.has(type));
    const first = missing[0];
    if (first === undefined) return;
    throw new HandlerNotFoundError(this.#kind, first, { missing, registered: [...this.#handlers.keys()] });
  }

  /** Adds a middleware; the first added is the outermost. */
  use(middleware: Middleware): this {
    if (typeof middleware !== "function") throw new ValidationError("Middleware must be a function");
    this.#middleware.push(middleware);
    this.#pipeline = compose(this.#middleware);
    return this;
  }

  /** Runs before the middleware; a hook that throws stops the dispatch with its error. */
  before(hook: BeforeHook): this {
    this.#before.push(hook);
    this.#hooked = true;
    return this;
  }

  /** Runs after the outcome is known; it cannot change it, and its own errors are only logged. */
  after(hook: AfterHook): this {
    this.#after.push(hook);
    this.#hooked = true;
    return this;
  }

  stats(): ExecutionStats[];
  stats(type: keyof M & string): ExecutionStats | undefined;
  stats(type?: keyof M & string): ExecutionStats[] | ExecutionStats | undefined {
    if (type !== undefined) {
      const entry = this.#stats.get(type);
      return entry === undefined ? undefined : publicStats(entry);
    }
    return [...this.#stats.values()].map(publicStats);
  }

  /**
   * Dispatches to the type's handler. Every failure, including a missing handler, arrives as a
   * rejection, never as a synchronous throw.
   * @throws {HandlerNotFoundError} nothing handles this type; otherwise whatever the pipeline throws.
   */
  execute<T extends keyof M & string>(
    type: T,
    payload: PayloadOf<M, T>,
    options?: ExecuteOptions,
  ): Promise<ResultOf<M, T>> {
    let handler: MessageHandler | undefined;
    let message: Message;
    try {
      handler = this.#handlers.get(type);
      if (handler === undefined) {
        assertTypeName(type, `${this.#kind} type`);
        throw new HandlerNotFoundError(this.#kind, type, { registered: [...this.#handlers.keys()] });
      }
      message = new DispatchedMessage(this.#kind, type, payload, options?.metadata ?? {}, options?.signal, options?.id);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#hooked) return this.#dispatch(message, handler) as Promise<ResultOf<M, T>>;
    // No hooks (the common case): the handler's or the middleware chain's promise is all there is to
    // wait for, so dispatch adds no async frame of its own; at most one reaction to keep the stats.
    const started = this.#track ? performance.now() : 0;
    let returned: unknown;
    try {
      returned = this.#middleware.length === 0 ? handler(payload, message) : this.#pipeline(message, handler);
    } catch (error) {
      returned = Promise.reject(error);
    }
    if (!this.#track && this.#onError === undefined) return Promise.resolve(returned) as Promise<ResultOf<M, T>>;
    return Promise.resolve(returned).then(
      (result) => {
        if (this.#track) this.#record(type, true, started, performance.now());
        return result as ResultOf<M, T>;
      },
      (error: unknown) => {
        if (this.#track) this.#record(type, false, started, performance.now());
        this.#onError?.(error, message);
        throw error;
      },
    );
  }

  async #dispatch(message: Message, handler: MessageHandler): Promise<unknown> {
    const timed = this.#track || this.#after.length > 0;
    const started = timed ? performance.now() : 0;
    let outcome: Outcome;
    try {
      for (const hook of this.#before) await hook(message);
      outcome = { ok: true, result: await this.#pipeline(message, handler) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    if (timed) {
      const ended = performance.now();
      if (this.#track) this.#record(message.type, outcome.ok, started, ended);
      if (this.#after.length > 0) await this.#runAfterHooks(message, outcome, ended - started);
    }
    if (!outcome.ok) {
      this.#onError?.(outcome.error, message);
      throw outcome.error;
    }
    return outcome.result;
  }

  #record(type: string, ok: boolean, started: number, ended: number): void {
    let entry = this.#stats.get(type);
    if (entry === undefined) {
      entry = { type, executions: 0, failures: 0, totalDurationMs: 0, maxDurationMs: 0, lastEndedAt: 0 };
      this.#stats.set(type, entry);
    }
    const durationMs = ended - started;
    entry.executions++;
    if (!ok) entry.failures++;
    entry.totalDurationMs += durationMs;
    if (durationMs > entry.maxDurationMs) entry.maxDurationMs = durationMs;
    entry.lastEndedAt = ended;
  }

  async #runAfterHooks(message: Message, outcome: Outcome, durationMs: number): Promise<void> {
    for (const hook of this.#after) {
      // After hooks observe; one that fails must not change the outcome the caller sees.
      try {
        await hook(message, outcome, durationMs);
      } catch (error) {
        console.error("[eventflows] an after hook threw", error);
      }
    }
  }
}

function publicStats(entry: MutableStats): ExecutionStats {
  return {
    type: entry.type,
    executions: entry.executions,
    failures: entry.failures,
    totalDurationMs: entry.totalDurationMs,
    maxDurationMs: entry.maxDurationMs,
    lastExecutedAt:
      entry.executions === 0 ? undefined : new Date(performance.timeOrigin + entry.lastEndedAt).toISOString(),
  };
}

const direct: Pipeline = async (message, handler) => handler(message.payload, message);

function compose(middleware: readonly Middleware[]): Pipeline {
  const chain = [...middleware];
  return (message, handler) => {
    // Always a promise, never a synchronous throw, whatever a middleware or the handler does.
    const dispatch = (index: number): Promise<unknown> => {
      const next = chain[index];
      try {
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
