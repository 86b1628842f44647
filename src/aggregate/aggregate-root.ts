import {
  AggregateBrokenError,
  HandlerNotFoundError,
  type Issue,
  RehydrationError,
  ValidationError,
} from "../errors.js";
import {
  type DomainEvent,
  type EventEnvelope,
  type EventMetadata,
  metadataIssues,
  type NewEvent,
} from "../events/envelope.js";
import { isFlatJson, jsonIssues, jsonRoundTrip, MAX_JSON_DEPTH_LIMIT } from "../internal/json.js";
import { isName, kindOf, MAX_TYPE_LENGTH, nameIssues } from "../internal/validate.js";

/** The member of an event union with the given type. */
export type EventOfType<E extends DomainEvent, Type extends E["type"]> = Extract<E, { type: Type }>;

/**
 * What an event handler receives: the domain event, plus the envelope fields when it comes from the
 * store (absent while the aggregate raises it).
 */
export type AppliedEvent<E extends DomainEvent> = E & Partial<Omit<EventEnvelope, "type" | "data">>;

/** A handler map: for each event type, how it changes the state. Return the new state, or mutate and return nothing. */
export type EventHandlerMap<State, E extends DomainEvent> = {
  // biome-ignore lint/suspicious/noConfusingVoidType: an entry that mutates `state` has a body with no return
  readonly [Type in E["type"]]: (state: State, event: AppliedEvent<EventOfType<E, Type>>) => State | void;
};

/**
 * What a convention handler (`on<Type>` method) may be: it takes one of the aggregate's events and
 * returns the new state, or nothing when it mutates `this.state`.
 */
export type ConventionHandler<State, E extends DomainEvent> = {
  // A method signature, so that parameters compare both ways: a handler of one member of the union
  // fits, and so does one that declares only the data it reads (`{ data: { amount: number } }`), while
  // one whose data fits no event's data does not.
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler that mutates `this.state` has a body with no return
  handle(event: AppliedEvent<E> | { readonly data: E["data"] }): State | void;
}["handle"];

/**
 * What follows `on` in a convention handler's name: handlerMethodName capitalises the first word, so a
 * capital letter or a digit. Other members may start with `on` (`online`, `once`) without being checked as handlers.
 */
type HandlerInitial = CharsOf<"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789">;

type CharsOf<S extends string, Found = never> = S extends `${infer Char}${infer Rest}`
  ? CharsOf<Rest, Found | Char>
  : Found;
// The characters handlerMethodName keeps (its /[^A-Za-z0-9]+/ separates words).
type Alphanumeric = CharsOf<"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789">;

// Capitalises each run of letters and digits and drops everything between them, as handlerMethodName does.
type PascalWords<
  S extends string,
  Done extends string = "",
  AtWordStart extends boolean = true,
> = S extends `${infer Char}${infer Rest}`
  ? Char extends Alphanumeric
    ? PascalWords<Rest, `${Done}${AtWordStart extends true ? Uppercase<Char> : Char}`, false>
    : PascalWords<Rest, Done, true>
  : Done;

/** The convention method name for an event type, at the type level: `HandlerName<"order.placed">` is `"onOrderPlaced"`. */
export type HandlerName<Type extends string> = `on${PascalWords<Type>}`;

/**
 * Every convention handler of an event union, by name. A class that declares its handlers public and
 * `implements ConventionHandlers<State, Event>` gets every mistake as a compile error: a misspelt or
 * missing handler (the right name is then missing), wrong data, a wrong return type.
 */
export type ConventionHandlers<State, E extends DomainEvent> = {
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler that mutates `this.state` has a body with no return
  [Type in E["type"] as HandlerName<Type>]: (event: AppliedEvent<EventOfType<E, Type>>) => State | void;
};

/** The event union of an aggregate class's instances: `EventsOf<Cart>`. */
export type EventsOf<A extends AnyAggregate> = NonNullable<A["~types"]>["event"];
/** The state type of an aggregate class's instances: `StateOf<Cart>`. */
export type StateOf<A extends AnyAggregate> = NonNullable<A["~types"]>["state"];

/**
 * The state as readers see it: read-only when it is an object. (A plain `Readonly<State>` would make
 * `AnyAggregate`'s state `Readonly<any>`, an object type that aggregates with a number state do not fit.)
 */
export type ReadonlyState<State> = State extends object ? Readonly<State> : State;

/** Any aggregate, whatever its state and events: the bound of repositories and test helpers. */
// biome-ignore lint/suspicious/noExplicitAny: state and event types vary per aggregate class
export type AnyAggregate = AggregateRoot<any, any>;

export interface AggregateSnapshot<State> {
  readonly version: number;
  readonly state: State;
}

type Handler = (aggregate: AggregateRoot<unknown, DomainEvent>, event: AppliedEvent<DomainEvent>) => unknown;

// Resolved handlers per aggregate class, so rehydration does no string work per event.
const handlerCache = new WeakMap<object, Map<string, Handler | null>>();

/**
 * Base class for event-sourced aggregates. State changes only by applying events: `raise` applies
 * a new event and records it for saving; `rehydrate` replays stored ones.
 *
 * Handlers are found by convention, `on<Type>` methods (`OrderPlaced` and `order.placed` both map to
 * `onOrderPlaced`), or given as a map by overriding `handlers`. A method handler may mutate
 * `this.state` or return the new state.
 */
export abstract class AggregateRoot<State, E extends DomainEvent = DomainEvent> {
  /**
   * Every member named `on` + a capital letter or digit is a convention handler, so TypeScript checks
   * each against the event union: its parameter must be one of the events (a handler with the wrong
   * data type is a compile error) and it must return the state or nothing. (Method names themselves cannot be checked while the
   * handlers are protected; the handler map's keys are, and a missing handler's error names the
   * closest method it found.)
   */
  [handler: `on${HandlerInitial}${string}`]: ConventionHandler<State, E> | undefined;
  /** Type-level only (nothing at run time): lets `EventsOf<A>` and `StateOf<A>` read the type parameters. */
  declare readonly "~types"?: { readonly state: State; readonly event: E };
  readonly id: string;
  protected state: State;
  #version = 0;
  #persistedVersion = 0;
  #uncommitted: NewEvent[] = [];
  /** A handler is running: a `raise` now would record an event on every replay of the history. */
  #applying = false;
  /**
   * A handler threw on this event type (its error is the value): the state may be half-changed and
   * no event explains it, so the aggregate refuses further use rather than save or show that state.
   */
  #broken: { readonly type: string; readonly cause: unknown } | undefined;

  protected constructor(id: string, initialState: State) {
    this.id = id;
    this.state = initialState;
  }

  /** A handler map, used before `on<Type>` methods. Override to use one. */
  protected get handlers(): Partial<EventHandlerMap<State, E>> | undefined {
    return undefined;
  }

  /** The version of the last applied event, saved or not. */
  get version(): number {
    return this.#version;
  }

  /** The version as loaded or last saved: the expected version of the next save. */
  get persistedVersion(): number {
    return this.#persistedVersion;
  }

  /** @throws {AggregateBrokenError} after a handler threw: the state may be half-changed. */
  get currentState(): ReadonlyState<State> {
    this.#assertUsable();
    return this.state as ReadonlyState<State>;
  }

  /** @throws {AggregateBrokenError} after a handler threw, so that no save takes what the state no longer matches. */
  get uncommittedEvents(): readonly NewEvent<E["type"], E["data"]>[] {
    this.#assertUsable();
    return this.#uncommitted as NewEvent<E["type"], E["data"]>[];
  }

  /** @throws {AggregateBrokenError} after a handler threw. */
  get hasChanges(): boolean {
    this.#assertUsable();
    return this.#uncommitted.length > 0;
  }

  /**
   * Applies a new event and records it for the next save. The event is checked first, as a store's
   * append checks it (type, JSON data and metadata), so that one no store would take never changes the state.
   * @throws {ValidationError} an event no store would take; nothing changed.
   * @throws what the handler threw; the aggregate is then broken ({@link AggregateBrokenError} on further use).
   */
  protected raise<Type extends E["type"]>(
    type: Type,
    data: EventOfType<E, Type>["data"],
    metadata?: EventMetadata,
  ): void {
    this.#assertUsable();
    const issues = raisedEventIssues(type, data, metadata);
    if (issues !== undefined) throw new ValidationError("Invalid event", issues);
    if (this.#applying) {
      throw new ValidationError("Invalid event", [
        {
          path: [],
          message:
            "raise was called from an event handler: handlers only change the state (they also replay the stored history); raise events in the aggregate's decisions",
        },
      ]);
    }
    // The event is saved as raised: its own copy (JSON, checked above), taken before any handler runs,
    // since a handler may keep the data in the state and a later one change the state in place, or the
    // caller change its object, before the save. The handler gets a copy of its own too, the data as a
    // replay will give it: a state that keeps it would otherwise share the caller's object, and a change
    // the caller makes after the raise would reach the state with no event saying so.
    const saved = jsonRoundTrip(data);
    const event = { type, data: jsonRoundTrip(data) } as unknown as AppliedEvent<E>;
    this.#apply(event);
    this.#version++;
    this.#uncommitted.push(
      metadata === undefined ? { type, data: saved } : { type, data: saved, metadata: jsonRoundTrip(metadata) },
    );
  }

  /** Replays stored events (in version order) onto the current state. */
  rehydrate(events: Iterable<EventEnvelope>): this {
    this.#assertUsable();
    if (typeof (events as { [Symbol.iterator]?: unknown } | null)?.[Symbol.iterator] !== "function") {
      throw notEvents("rehydrate", "an iterable of stored events", events);
    }
    // The hot loop of every load: the class's handler table is fetched once, not per event.
    const table = this.#handlerTable();
    const self = this as unknown as AggregateRoot<unknown, DomainEvent>;
    this.#applying = true;
    try {
      for (const event of events) this.#replay(table, self, event);
    } finally {
      this.#applying = false;
    }
    this.#persistedVersion = this.#version;
    return this;
  }

  /** Like {@link rehydrate}, for an async source such as `store.readStream(...)`. */
  async rehydrateAsync(events: AsyncIterable<EventEnvelope>): Promise<this> {
    this.#assertUsable();
    const source = events as { [Symbol.asyncIterator]?: unknown; [Symbol.iterator]?: unknown } | null;
    if (typeof source?.[Symbol.asyncIterator] !== "function" && typeof source?.[Symbol.iterator] !== "function") {
      throw notEvents("rehydrateAsync", "an async iterable of stored events", events);
    }
    const table = this.#handlerTable();
    const self = this as unknown as AggregateRoot<unknown, DomainEvent>;
    this.#applying = true;
    try {
      // The source's own errors (a store that is down) pass through as they are.
      for await (const event of events) this.#replay(table, self, event);
    } finally {
      this.#applying = false;
    }
    this.#persistedVersion = this.#version;
    return this;
  }

  /**
   * Called by the repository after a save: the recorded events are now history, and the stream is at
   * `version`. `count` says how many of them the save took (all, by default): events raised while the
   * save was in flight stay uncommitted, after the saved ones, for the next save.
   */
  markCommitted(version: number = this.#version, count: number = this.#uncommitted.length): void {
    this.#assertUsable();
    const issues: Issue[] = [];
    if (!Number.isSafeInteger(version) || version < 0) {
      issues.push({ path: ["version"], message: `must be a non-negative integer, got ${kindOf(version)}` });
    }
    if (!Number.isSafeInteger(count) || count < 0 || count > this.#uncommitted.length) {
      issues.push({
        path: ["count"],
        message: `must be a whole number from 0 to the ${this.#uncommitted.length} uncommitted event(s), got ${kindOf(count)}`,
      });
    }
    if (issues.length > 0) throw new ValidationError("Invalid markCommitted", issues);
    this.#uncommitted = this.#uncommitted.slice(count);
    this.#version = version + this.#uncommitted.length;
    this.#persistedVersion = version;
  }

  /**
   * The state (a `structuredClone` of it) at `persistedVersion`. Snapshots carry plain data: an
   * aggregate whose state holds class instances (value objects) overrides this and `restoreSnapshot`
   * to convert them.
   * @throws {ValidationError} while events are uncommitted: their effect is in the state but not in
   * `persistedVersion`, and a snapshot of it would apply them twice once they are saved and replayed.
   * @throws {ValidationError} naming where the state holds something a copy would not keep: a class
   * instance (it would come back a plain object, without its methods), a function, a symbol.
   */
  toSnapshot(): AggregateSnapshot<State> {
    this.#assertUsable();
    if (this.#uncommitted.length > 0) {
      throw new ValidationError("Invalid snapshot", [
        {
          path: [],
          message: `${this.#uncommitted.length} uncommitted event(s) are in the state but not in persistedVersion (${this.#persistedVersion}): save them (markCommitted) before taking a snapshot`,
        },
      ]);
    }
    return { version: this.#persistedVersion, state: cloneState(this.state) };
  }

  /**
   * Replaces state and versions with a snapshot's. The state is cloned, so the caller's copy stays
   * theirs; `owned: true` says nobody else holds it (a freshly decoded snapshot) and skips the clone.
   * @throws {ValidationError} as `toSnapshot` does, when the state to clone holds a class instance,
   * a function or a symbol.
   */
  restoreSnapshot(snapshot: AggregateSnapshot<State>, options: { readonly owned?: boolean } = {}): this {
    this.#assertUsable();
    if (typeof snapshot !== "object" || snapshot === null) {
      throw new ValidationError("Invalid snapshot", [
        { path: [], message: `restoreSnapshot takes { version, state }, got ${kindOf(snapshot)}` },
      ]);
    }
    if (!Number.isSafeInteger(snapshot.version) || snapshot.version < 0) {
      throw new ValidationError("Invalid snapshot", [
        { path: ["version"], message: `must be a non-negative integer, got ${kindOf(snapshot.version)}` },
      ]);
    }
    // Present, whatever its value (a state may be undefined): without it the aggregate would sit at
    // the snapshot's version with no state at all.
    if (!("state" in snapshot)) {
      throw new ValidationError("Invalid snapshot", [{ path: ["state"], message: "is missing" }]);
    }
    this.state = options.owned === true ? snapshot.state : cloneState(snapshot.state);
    this.#version = snapshot.version;
    this.#persistedVersion = snapshot.version;
    this.#uncommitted = [];
    return this;
  }

  #apply(event: AppliedEvent<E>): void {
    const table = this.#handlerTable();
    const handler = table.get(event.type) ?? this.#resolveInto(table, event.type);
    let next: unknown;
    this.#applying = true;
    try {
      next = handler(this as unknown as AggregateRoot<unknown, DomainEvent>, event);
    } catch (error) {
      // It may have mutated part of the state first: copying the state before every raise to undo that
      // would cost every raise (and cannot copy class instances), so the aggregate stops here instead.
      this.#broken = { type: event.type, cause: error };
      throw error;
    } finally {
      this.#applying = false;
    }
    if (next !== undefined) this.state = next as State;
  }

  #assertUsable(): void {
    if (this.#broken === undefined) return;
    const { type, cause } = this.#broken;
    throw new AggregateBrokenError(this.constructor.name || "The aggregate", this.id, type, { cause });
  }

  /**
   * One stored event replayed onto the state, for rehydrate and rehydrateAsync. Only the handler's
   * failure is a RehydrationError naming the event; an unknown type's error passes as it is.
   */
  #replay(table: Map<string, Handler | null>, self: AggregateRoot<unknown, DomainEvent>, event: EventEnvelope): void {
    // A version is what the repository's next save expects: an event without one (built by hand,
    // from JavaScript) left persistedVersion undefined, and that save appended with no check at all.
    if (!Number.isSafeInteger(event?.version) || event.version < 1) {
      const error = new ValidationError("Invalid events", [
        { path: ["version"], message: `a stored event's version is an integer from 1, got ${kindOf(event?.version)}` },
      ]);
      // Events before it may be in the state already: the aggregate is not used any further.
      this.#broken = { type: String(event?.type), cause: error };
      throw error;
    }
    const handler = table.get(event.type) ?? this.#resolveInto(table, event.type);
    let next: unknown;
    try {
      next = handler(self, event);
    } catch (error) {
      // As in #apply: the state may be half-changed, and nothing is copied per event to undo it.
      this.#broken = { type: event.type, cause: error };
      throw this.#rehydrationError(event, error);
    }
    if (next !== undefined) this.state = next as State;
    this.#version = event.version;
  }

  /**
   * What a handler threw on a stored event, as a {@link RehydrationError} naming the stream, version
   * and type (the handler's error is its cause): a bare TypeError from the middle of a load would not
   * say which of thousands of events it met.
   */
  #rehydrationError(event: EventEnvelope, error: unknown): RehydrationError {
    return new RehydrationError(this.constructor.name || "The aggregate", event.streamId, event.version, event.type, {
      cause: error,
    });
  }

  #handlerTable(): Map<string, Handler | null> {
    let table = handlerCache.get(this.constructor);
    if (table === undefined) {
      table = new Map();
      handlerCache.set(this.constructor, table);
    }
    return table;
  }

  /** Resolves and caches the handler for a type not met yet; a type known to have none throws again. */
  #resolveInto(table: Map<string, Handler | null>, type: string): Handler {
    let handler = table.get(type);
    if (handler === undefined) {
      handler = this.#resolveHandler(type);
      table.set(type, handler);
    }
    if (handler === null) {
      const method = handlerMethodName(type);
      throw new HandlerNotFoundError("event", type, {
        aggregate: this.constructor.name || "The aggregate",
        method,
        registered: conventionMethods(this),
      });
    }
    return handler;
  }

  #resolveHandler(type: string): Handler | null {
    const map = this.handlers as Record<string, ((state: unknown, event: unknown) => unknown) | undefined> | undefined;
    // A type named like a member every object inherits (toString, valueOf, constructor) is an entry
    // only when the map has it: Object.prototype's functions are no handlers.
    const fromMap = map != null && (Object.hasOwn(map, type) || !(type in Object.prototype)) ? map[type] : undefined;
    if (typeof fromMap === "function") {
      return (aggregate, event) =>
        synchronous(fromMap((aggregate as unknown as { state: unknown }).state, event), type);
    }
    const method = (this as unknown as Record<string, unknown>)[handlerMethodName(type)];
    if (typeof method === "function") return (aggregate, event) => synchronous(method.call(aggregate, event), type);
    return null;
  }
}

/**
 * A `structuredClone` of a snapshot's state. What it would not keep is refused first, with paths: a
 * class instance comes back from structuredClone as a plain object (so a value object loses its
 * methods, and the next handler fails on it), and functions and symbols cannot be copied at all.
 */
function cloneState<State>(state: State): State {
  const issues = uncopiable(state);
  if (issues.length > 0) throw new ValidationError("Aggregate state cannot be copied", issues);
  try {
    return structuredClone(state);
  } catch (error) {
    throw new ValidationError(
      "Aggregate state cannot be copied",
      [{ path: [], message: "structuredClone cannot copy it: snapshots carry plain data" }],
      { cause: error },
    );
  }
}

// The prototypes structuredClone gives back as they were: any other object comes back a plain object.
const CLONED_AS_IS = new Set<unknown>([
  Object.prototype,
  null,
  Array.prototype,
  Date.prototype,
  Map.prototype,
  Set.prototype,
  RegExp.prototype,
  ArrayBuffer.prototype,
  DataView.prototype,
  ...[
    Int8Array,
    Uint8Array,
    Uint8ClampedArray,
    Int16Array,
    Uint16Array,
    Int32Array,
    Uint32Array,
    Float32Array,
    Float64Array,
    BigInt64Array,
    BigUint64Array,
  ].map((type) => type.prototype),
  ...[Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError].map((type) => type.prototype),
  Boolean.prototype,
  Number.prototype,
  String.prototype,
]);

/**
 * Where `state` holds what its structuredClone would not keep (at most 10 places): class instances,
 * functions, symbols. Walks plain objects, arrays, Maps and Sets, iteratively (any depth) and once per
 * object (cycles and shared references are fine: structuredClone keeps them).
 */
function uncopiable(state: unknown): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<object>();
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: state, path: [] }];
  while (stack.length > 0 && issues.length < 10) {
    const { value, path } = stack.pop() as { value: unknown; path: (string | number)[] };
    if (typeof value === "function" || typeof value === "symbol") {
      issues.push({ path, message: `a ${typeof value} cannot be copied: snapshots carry plain data` });
      continue;
    }
    if (typeof value !== "object" || value === null || seen.has(value)) continue;
    seen.add(value);
    const proto = Object.getPrototypeOf(value);
    if (!CLONED_AS_IS.has(proto)) {
      const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
      issues.push({
        path,
        message: `an instance of ${typeof name === "string" && name !== "" ? name : "a class"} would come back a plain object, without its methods: override toSnapshot() and restoreSnapshot() to convert it`,
      });
      continue;
    }
    const children: [string | number, unknown][] = [];
    if (value instanceof Map) {
      let i = 0;
      for (const [key, item] of value) {
        children.push([`<key ${i}>`, key]);
        children.push([typeof key === "string" || typeof key === "number" ? key : `<value ${i}>`, item]);
        i++;
      }
    } else if (value instanceof Set) {
      let i = 0;
      for (const item of value) children.push([`<item ${i++}>`, item]);
    } else if (Array.isArray(value) || proto === Object.prototype || proto === null) {
      for (const key of Object.keys(value))
        children.push([Array.isArray(value) ? Number(key) : key, (value as Record<string, unknown>)[key]]);
    }
    // Last first, so issues come out in document order.
    for (let i = children.length - 1; i >= 0; i--) {
      const [key, item] = children[i] as [string | number, unknown];
      stack.push({ value: item, path: [...path, key] });
    }
  }
  return issues;
}

// The store's limits but its nesting depth: that is each store's `maxJsonDepth`, checked when it appends.
const RAISE_LIMITS = { maxDepth: MAX_JSON_DEPTH_LIMIT, refuseNul: true };

/**
 * What a store's append would refuse in a raised event (its type, data and metadata), or undefined.
 * The fast checks first: a valid event allocates no issue list.
 */
function raisedEventIssues(type: unknown, data: unknown, metadata: EventMetadata | undefined): Issue[] | undefined {
  let issues: Issue[] | undefined;
  if (!isName(type, MAX_TYPE_LENGTH)) issues = nameIssues(type, "event type", MAX_TYPE_LENGTH, ["type"]);
  if (!isFlatJson(data, true)) {
    const found = jsonIssues(data, ["data"], RAISE_LIMITS);
    if (found.length > 0) issues = [...(issues ?? []), ...found];
  }
  if (metadata !== undefined) {
    const found = metadataIssues(metadata, ["metadata"], RAISE_LIMITS);
    if (found.length > 0) issues = [...(issues ?? []), ...found];
  }
  return issues;
}

/**
 * What a handler returned, unless it is a promise: an `async` handler (a JavaScript caller's; TypeScript
 * refuses one) would make the promise the state, and every later handler would read `undefined` from it.
 */
function synchronous(next: unknown, type: string): unknown {
  if (typeof (next as { then?: unknown } | null)?.then !== "function") return next;
  throw new ValidationError("Invalid event handler", [
    {
      path: [],
      message: `the handler of "${type}" returned a promise: handlers are synchronous, they return the state or nothing`,
    },
  ]);
}

/** The `on...` methods a subclass declares: candidates for "did you mean" when a handler is missing. */
function conventionMethods(aggregate: object): string[] {
  const names = new Set<string>();
  for (
    let proto = Object.getPrototypeOf(aggregate);
    proto !== null && proto !== AggregateRoot.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (/^on[A-Z0-9]/.test(name) && typeof Object.getOwnPropertyDescriptor(proto, name)?.value === "function") {
        names.add(name);
      }
    }
  }
  return [...names];
}

/**
 * `OrderPlaced`, `order.placed`, `order-placed` and `order_placed` all become `onOrderPlaced`.
 * @throws {ValidationError} the type has a letter or digit that is not ASCII, or no letter or digit.
 */
export function handlerMethodName(type: string): string {
  if (typeof type !== "string") {
    throw new ValidationError("Invalid event type", [{ path: [], message: `must be a string, got ${kindOf(type)}` }]);
  }
  const words = type.split(/[^A-Za-z0-9]+/).filter(Boolean);
  // Other letters and digits (É, ß, 注) were dropped as separators: `ÉtéFini` looked for onTFini, and
  // two types with no ASCII letter both for `on`, one method applying both. Refused, since HandlerName
  // cannot tell Unicode letters at the type level either: such types take a handler map.
  if (words.length === 0 || NON_ASCII_WORD_CHARACTER.test(type)) {
    throw new ValidationError("Invalid event type for a convention handler", [
      {
        path: [],
        message: `${JSON.stringify(type)}: handler names are made of ASCII letters and digits${words.length === 0 ? ", and it has none" : ""}; apply this type with a handler map`,
      },
    ]);
  }
  return `on${words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join("")}`;
}

/** A letter or digit that is not ASCII: handlerMethodName would drop it. */
const NON_ASCII_WORD_CHARACTER = /(?![A-Za-z0-9])[\p{L}\p{N}]/u;

function notEvents(method: string, expected: string, value: unknown): ValidationError {
  return new ValidationError("Invalid events", [
    { path: [], message: `${method} takes ${expected}, got ${kindOf(value)}` },
  ]);
}
