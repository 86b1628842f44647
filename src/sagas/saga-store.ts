import { ConcurrencyError, type Issue, PayloadTooLargeError, ServiceError, ValidationError } from "../errors.js";
import { jsonIssues, utf8Length } from "../internal/json.js";
import {
  assertKnownOptions,
  assertObject,
  integerOptionIssues,
  isName,
  kindOf,
  MAX_TYPE_LENGTH,
  nameIssues,
} from "../internal/validate.js";
import type {
  ClaimDueTimeoutsOptions,
  ListSagasOptions,
  NextDueAtOptions,
  SagaCommit,
  SagaFailure,
  SagaRecord,
  SagaStatus,
  SagaTimeout,
} from "./types.js";

/** Longest saga name or correlation key accepted, in characters. */
export const MAX_SAGA_KEY_LENGTH = 512;
/**
 * Longest handled id, outbox entry id, causation id or timeout id accepted, in characters: room for
 * a timeout id (`<saga>/<key>/t/<name>/<version>`) made of the longest names, each `/` and `%` of the
 * name escaped.
 */
export const MAX_SAGA_ID_LENGTH = 2048;
/** Highest version (and step) an instance may reach: PostgreSQL keeps them as 32-bit integers. */
export const MAX_SAGA_VERSION = 2_147_483_647;

const STATUSES: ReadonlySet<string> = new Set<SagaStatus>([
  "running",
  "compensating",
  "completed",
  "compensated",
  "needs-attention",
]);
// U+0000 as in event data: PostgreSQL's jsonb cannot hold it, so no saga store takes it (one rule everywhere).
const JSON_RULES = { refuseNul: true } as const;
/** Default cap on a saga's serialized state, in bytes: well inside a DynamoDB item (400 KB). */
export const DEFAULT_MAX_SAGA_STATE_BYTES = 262_144;

export interface SagaStoreOptions {
  /** Largest state accepted, in UTF-8 bytes of its JSON. Defaults to {@link DEFAULT_MAX_SAGA_STATE_BYTES}. */
  readonly maxStateBytes?: number;
}

/**
 * The keys of {@link SagaStoreOptions}, for the stores that extend them to refuse any other key (a misspelt
 * option was dropped without a word): a record, so that a key added to the interface and not here fails to compile.
 */
export const SAGA_STORE_OPTIONS = { maxStateBytes: true } as const satisfies Record<keyof SagaStoreOptions, true>;

/**
 * The saga store port: instances with optimistic concurrency, the ids of what each has handled,
 * its outbox and its due timeouts. This base checks every input, so each adapter refuses the same
 * mistakes with the same errors before writing; subclasses implement storage, and must apply a
 * commit (state, handled id, outbox, timeouts) as one atomic write.
 */
export abstract class SagaStore {
  readonly maxStateBytes: number;

  constructor(given: SagaStoreOptions = {}) {
    // null is no options, as for every store.
    const options = given ?? {};
    const issues = integerOptionIssues(options.maxStateBytes, "maxStateBytes", 64 * 1024 * 1024);
    if (issues.length > 0) throw new ValidationError("Invalid saga store options", issues);
    this.maxStateBytes = options.maxStateBytes ?? DEFAULT_MAX_SAGA_STATE_BYTES;
  }

  /** The instance, with its undispatched outbox, or undefined. */
  async load(saga: string, key: string): Promise<SagaRecord | undefined> {
    assertSagaKey(saga, key);
    return this.readInstance(saga, key);
  }

  /** Whether the instance has committed with this handled id (an event id or a timeout id). */
  async hasHandled(saga: string, key: string, handledId: string): Promise<boolean> {
    assertSagaKey(saga, key, idIssues(handledId, "handled id", ["handledId"]));
    return this.readHandled(saga, key, handledId);
  }

  /**
   * Saves a step atomically.
   * @throws {ValidationError} a bad name, a state or payload that is not JSON; nothing is written.
   * @throws {PayloadTooLargeError} the state is over `maxStateBytes`; nothing is written.
   * @throws {ConcurrencyError} the instance is not at `expectedVersion`, or `handledId` was
   *   handled already; nothing is written.
   * @returns the new version.
   */
  async commit(commit: SagaCommit): Promise<number> {
    this.check(commit);
    // Stores keep due times in whole milliseconds: a fractional one is rounded down here, for all alike.
    const schedule = commit.schedule;
    if (schedule?.some((t) => !Number.isInteger(t.dueAt))) {
      return this.writeCommit({ ...commit, schedule: schedule.map((t) => ({ ...t, dueAt: Math.floor(t.dueAt) })) });
    }
    return this.writeCommit(commit);
  }

  /** Checks a commit as {@link commit} does, without writing: for callers that want the error early. */
  check(commit: SagaCommit): void {
    assertObject(commit, [], "saga commit");
    assertSagaKey(commit.saga, commit.key);
    const issues: Issue[] = [];
    if (!isCount(commit.expectedVersion, MAX_SAGA_VERSION - 1)) {
      issues.push({
        path: ["expectedVersion"],
        message: `must be an integer from 0 to ${MAX_SAGA_VERSION - 1}, got ${kindOf(commit.expectedVersion)}`,
      });
    }
    if (!STATUSES.has(commit.status as string)) {
      issues.push({
        path: ["status"],
        message: `must be one of ${[...STATUSES].join(", ")}, got ${kindOf(commit.status)}`,
      });
    }
    if (!isCount(commit.step, MAX_SAGA_VERSION)) {
      issues.push({
        path: ["step"],
        message: `must be an integer from 0 to ${MAX_SAGA_VERSION}, got ${kindOf(commit.step)}`,
      });
    }
    issues.push(...jsonIssues(commit.state, ["state"], JSON_RULES));
    if (commit.handledId !== undefined) issues.push(...idIssues(commit.handledId, "handled id", ["handledId"]));
    const entryIds = new Set<unknown>();
    for (const [i, entry] of (commit.outbox ?? []).entries()) {
      issues.push(...idIssues(entry.id, "outbox entry id", ["outbox", i, "id"]));
      if (entryIds.has(entry.id)) issues.push({ path: ["outbox", i, "id"], message: "duplicate outbox entry id" });
      entryIds.add(entry.id);
      issues.push(...nameIssues(entry.type, "command type", MAX_TYPE_LENGTH, ["outbox", i, "type"]));
      issues.push(...idIssues(entry.causationId, "causation id", ["outbox", i, "causationId"]));
      // The whole entry is stored as JSON: its payload, and its trace context when it has one.
      issues.push(...jsonIssues(entry, ["outbox", i], JSON_RULES));
    }
    for (const [i, compensation] of commit.compensations.entries()) {
      issues.push(...nameIssues(compensation.type, "command type", MAX_TYPE_LENGTH, ["compensations", i, "type"]));
      issues.push(...jsonIssues(compensation.payload, ["compensations", i, "payload"], JSON_RULES));
    }
    if (commit.attention !== undefined) issues.push(...jsonIssues(commit.attention, ["attention"], JSON_RULES));
    const names = new Set<unknown>();
    const timeoutIds = new Set<unknown>();
    for (const [i, timeout] of (commit.schedule ?? []).entries()) {
      issues.push(...idIssues(timeout.id, "timeout id", ["schedule", i, "id"]));
      if (timeoutIds.has(timeout.id)) issues.push({ path: ["schedule", i, "id"], message: "duplicate timeout id" });
      timeoutIds.add(timeout.id);
      issues.push(...nameIssues(timeout.name, "timeout name", MAX_TYPE_LENGTH, ["schedule", i, "name"]));
      if (timeout.saga !== commit.saga || timeout.key !== commit.key) {
        issues.push({ path: ["schedule", i], message: "a timeout belongs to the instance that schedules it" });
      } else if (
        typeof timeout.id === "string" &&
        typeof timeout.name === "string" &&
        !isOwnTimeoutId(commit, timeout)
      ) {
        // Its instance and name in its id: no two instances or names ever hold one id.
        issues.push({
          path: ["schedule", i, "id"],
          message:
            "a timeout id is <saga>/<key>/t/<name>/<version>, with / and % in the saga, key and name escaped (%2F, %25)",
        });
      }
      if (names.has(timeout.name)) issues.push({ path: ["schedule", i, "name"], message: "duplicate timeout name" });
      names.add(timeout.name);
      // Not before 1970: DynamoDB's due index orders `<dueAt>.<hash>` as a number, which for a negative
      // due time sorts the hash below it (a timeout due 1 ms later was claimed).
      if (!isTime(timeout.dueAt) || timeout.dueAt < 0) {
        issues.push({
          path: ["schedule", i, "dueAt"],
          message: `must be a time in milliseconds from 0 (1970), got ${kindOf(timeout.dueAt)}`,
        });
      }
      issues.push(...jsonIssues(timeout.data, ["schedule", i, "data"], JSON_RULES));
    }
    for (const [i, name] of (commit.cancel ?? []).entries()) {
      issues.push(...nameIssues(name, "timeout name", MAX_TYPE_LENGTH, ["cancel", i]));
    }
    if (commit.firedTimeoutId !== undefined) {
      issues.push(...idIssues(commit.firedTimeoutId, "timeout id", ["firedTimeoutId"]));
      // The stores remove it only if it is the instance's (ids made before the saga and key were
      // escaped in them are the instance's too, and may still be pending).
      const fired = commit.firedTimeoutId;
      if (
        typeof fired === "string" &&
        !fired.startsWith(timeoutIdPrefix(commit)) &&
        !fired.startsWith(legacyPrefix(commit))
      ) {
        issues.push({ path: ["firedTimeoutId"], message: "a fired timeout is one of the instance's own" });
      }
    }
    if (issues.length > 0) throw new ValidationError(`Invalid saga step for "${commit.saga}" "${commit.key}"`, issues);
    const size = utf8Length(JSON.stringify(commit.state) ?? "");
    if (size > this.maxStateBytes) {
      throw new PayloadTooLargeError(`The state of saga "${commit.saga}" "${commit.key}"`, size, this.maxStateBytes);
    }
  }

  /** Marks an outbox entry dispatched; it is no longer loaded. Marking twice is harmless. */
  async markDispatched(saga: string, key: string, entryId: string): Promise<void> {
    assertSagaKey(saga, key, idIssues(entryId, "outbox entry id", ["entryId"]));
    return this.writeDispatched(saga, key, entryId);
  }

  /**
   * Claims timeouts due at `now` that no one holds (or whose lease expired), for `leaseMs`, so
   * competing schedulers each fire a different one. Oldest due first (a store that spreads timeouts
   * over partitions, DynamoDB with `timeoutShards`, within each partition).
   */
  async claimDueTimeouts(options: ClaimDueTimeoutsOptions): Promise<SagaTimeout[]> {
    assertObject(options, [], "timeout claim");
    assertKnownOptions(options, CLAIM_KEYS, "timeout claim");
    const issues = [
      ...(isTime(options.now)
        ? []
        : [{ path: ["now"], message: `must be a time in milliseconds, got ${kindOf(options.now)}` }]),
      ...nameIssues(options.owner, "owner", MAX_SAGA_KEY_LENGTH, ["owner"]),
      ...integerOptionIssues(options.leaseMs, "leaseMs", 24 * 60 * 60 * 1000),
      ...integerOptionIssues(options.limit, "limit", 10_000),
      ...claimSagasIssues(options.sagas),
    ];
    if (issues.length > 0) throw new ValidationError("Invalid timeout claim", issues);
    if (options.sagas?.length === 0) return [];
    // Due times are whole milliseconds (see commit): so is the time they are compared with.
    return this.claimTimeouts(Number.isInteger(options.now) ? options : { ...options, now: Math.floor(options.now) });
  }

  /**
   * When a pending timeout can next be claimed: the earliest due time, or a held timeout's lease
   * end if later; undefined when none is pending. For drivers that sleep until then (a Durable
   * Object alarm). Only the timeouts of `sagas`, when given, as {@link claimDueTimeouts} claims. A
   * store that cannot tell answers undefined, and such drivers wake on their own period instead.
   */
  async nextDueAt(given?: NextDueAtOptions | null): Promise<number | undefined> {
    const options = listingOptions(given, ["sagas"], "next due time query");
    const issues = claimSagasIssues(options.sagas);
    if (issues.length > 0) throw new ValidationError("Invalid next due time query", issues);
    if (options.sagas?.length === 0) return undefined;
    return this.readNextDue(options.sagas);
  }

  /**
   * Whether the timeout is still pending for this instance: not fired, cancelled or replaced by a
   * later schedule of its name. The runtime asks after loading the instance and before firing, so a
   * timeout claimed just before a step cancelled it does not fire (that step's commit moved the
   * version on, so a firing decided on the older version conflicts). Undefined: the store cannot tell.
   */
  async isTimeoutPending(saga: string, key: string, timeoutId: string): Promise<boolean | undefined> {
    assertSagaKey(saga, key, idIssues(timeoutId, "timeout id", ["timeoutId"]));
    return this.readTimeoutPending(saga, key, timeoutId);
  }

  /** Removes a timeout without firing it (its instance is gone or final). */
  async dropTimeout(timeoutId: string): Promise<void> {
    const issues = idIssues(timeoutId, "timeout id", ["timeoutId"]);
    if (issues.length > 0) throw new ValidationError("Invalid timeout id", issues);
    return this.deleteTimeout(timeoutId);
  }

  /** Instances by saga, status or pending outbox, oldest first. */
  async list(given?: ListSagasOptions | null): Promise<SagaRecord[]> {
    const options = listingOptions(given, LIST_KEYS, "saga listing");
    const issues = integerOptionIssues(options.limit, "limit", 10_000);
    if (options.saga !== undefined)
      issues.push(...nameIssues(options.saga, "saga name", MAX_SAGA_KEY_LENGTH, ["saga"]));
    if (options.status !== undefined && !STATUSES.has(options.status)) {
      issues.push({
        path: ["status"],
        message: `must be one of ${[...STATUSES].join(", ")}, got ${kindOf(options.status)}`,
      });
    }
    if (issues.length > 0) throw new ValidationError("Invalid saga listing", issues);
    return this.listInstances({ ...options, limit: options.limit ?? 100 });
  }

  /** Records a failed step for operators. */
  async recordFailure(failure: SagaFailure): Promise<void> {
    const issues = [
      ...nameIssues(failure?.saga, "saga name", MAX_SAGA_KEY_LENGTH, ["saga"]),
      ...jsonIssues(failure, [], JSON_RULES),
    ];
    if (issues.length > 0) throw new ValidationError("Invalid saga failure", issues);
    return this.writeFailure(failure);
  }

  /** Recorded failures, oldest first: at most `limit` (an integer from 1 to 10,000; default 100). */
  async failures(given?: { readonly saga?: string; readonly limit?: number } | null): Promise<SagaFailure[]> {
    const options = listingOptions(given, ["saga", "limit"], "saga failure listing");
    const issues = integerOptionIssues(options.limit, "limit", 10_000);
    if (options.saga !== undefined)
      issues.push(...nameIssues(options.saga, "saga name", MAX_SAGA_KEY_LENGTH, ["saga"]));
    if (issues.length > 0) throw new ValidationError("Invalid saga failure listing", issues);
    return this.readFailures(options.saga, options.limit ?? 100);
  }

  protected abstract readInstance(saga: string, key: string): Promise<SagaRecord | undefined>;
  protected abstract readHandled(saga: string, key: string, handledId: string): Promise<boolean>;
  /** Applies the whole commit atomically or throws {@link sagaConflict} with nothing written. */
  protected abstract writeCommit(commit: SagaCommit): Promise<number>;
  protected abstract writeDispatched(saga: string, key: string, entryId: string): Promise<void>;
  protected abstract claimTimeouts(options: ClaimDueTimeoutsOptions): Promise<SagaTimeout[]>;
  protected abstract deleteTimeout(timeoutId: string): Promise<void>;
  /** See {@link nextDueAt}; `sagas` is undefined for all, else not empty. By default the store cannot tell. */
  protected async readNextDue(_sagas: readonly string[] | undefined): Promise<number | undefined> {
    return undefined;
  }
  /** See {@link isTimeoutPending}; by default the store cannot tell (the runtime then fires what it claimed). */
  protected async readTimeoutPending(_saga: string, _key: string, _timeoutId: string): Promise<boolean | undefined> {
    return undefined;
  }
  protected abstract listInstances(options: ListSagasOptions & { readonly limit: number }): Promise<SagaRecord[]>;
  protected abstract writeFailure(failure: SagaFailure): Promise<void>;
  protected abstract readFailures(saga: string | undefined, limit: number): Promise<SagaFailure[]>;
}

/** The error a lost race raises; adapters call this so every store reports it alike. */
export function sagaConflict(saga: string, key: string, expected: number, actual: number): ConcurrencyError {
  return new ConcurrencyError(`${saga}/${key}`, expected, actual, {
    subject: "Saga",
    hint: "another delivery changed this instance, or already handled this event; load it again and decide again",
  });
}

export function sagaKeyIssues(saga: unknown, key: unknown): Issue[] {
  return [
    ...nameIssues(saga, "saga name", MAX_SAGA_KEY_LENGTH, ["saga"]),
    ...nameIssues(key, "correlation key", MAX_SAGA_KEY_LENGTH, ["key"]),
  ];
}

/**
 * What makes a stored instance no instance, or undefined: for a saga store to refuse a row another tool
 * wrote (a status the runtime has no branch for, compensations it cannot iterate, an outbox entry that is
 * no entry) as corrupt, naming the instance, rather than hand it on to fail far away or stay stuck.
 */
export function sagaRecordFlaw(record: SagaRecord): string | undefined {
  const { status, step, compensations, outbox, attention } = record;
  if (!STATUSES.has(status)) return "its status is not a saga status";
  if (!Number.isSafeInteger(step) || step < 0) return "its step is not an integer from 0";
  if (!Array.isArray(compensations) || !compensations.every(isObject)) return "its compensations are not objects";
  if (!Array.isArray(outbox) || !outbox.every(isObject)) return "an outbox entry is not an object";
  if (attention !== undefined && !isObject(attention)) return "its attention is not an object";
  return undefined;
}

/**
 * A saga store's refusal of a row another tool wrote (`what` names it, quoting none of it): a `ServiceError`
 * `SAGA_CORRUPT`, not retryable, as every store words it.
 */
export function sagaCorruptError(service: string, operation: string, what: string): ServiceError {
  return new ServiceError(
    service,
    operation,
    "SAGA_CORRUPT",
    false,
    `${what} (a row another tool wrote): repair or delete it`,
  );
}

/** A JSON object: not null, not an array. */
function isObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function assertSagaKey(saga: unknown, key: unknown, more: readonly Issue[] = []): void {
  const issues = [...sagaKeyIssues(saga, key), ...more];
  if (issues.length > 0) throw new ValidationError("Invalid saga instance", issues);
}

/** What the id of every timeout of an instance starts with (its name follows). */
const timeoutIdPrefix = (commit: SagaCommit): string => `${timeoutIdName(commit.saga)}/${timeoutIdName(commit.key)}/t/`;

/** The prefix of ids made before the saga and key were escaped in them (releases before 2026-12-05). */
const legacyPrefix = (commit: SagaCommit): string => `${commit.saga}/${commit.key}/t/`;

/** Whether a scheduled timeout's id is the one {@link sagaTimeoutId} gives its instance and name, at some version. */
function isOwnTimeoutId(commit: SagaCommit, timeout: SagaTimeout): boolean {
  const prefix = `${timeoutIdPrefix(commit)}${timeoutIdName(timeout.name)}/`;
  return timeout.id.startsWith(prefix) && timeout.id.length > prefix.length && !timeout.id.includes("/", prefix.length);
}

/**
 * A part of a timeout's id (saga, key or name) as the id holds it: `%` and `/` escaped, so the id
 * splits into its five parts one way only. Unescaped, instance `k` with a timeout `x/t/y` and instance
 * `k/t/x` with a timeout `y` would both get `<saga>/k/t/x/t/y/1`, and so would saga `a/b`'s instance
 * `c` and saga `a`'s instance `b/c` with one timeout name: one instance's timeout replaced the other's.
 */
export const timeoutIdName = (name: string): string =>
  name.includes("/") || name.includes("%") ? name.replaceAll("%", "%25").replaceAll("/", "%2F") : name;

/** The id of an instance's timeout `name` scheduled at `version`: `<saga>/<key>/t/<name>/<version>`, parts escaped. */
export const sagaTimeoutId = (saga: string, key: string, name: string, version: number): string =>
  `${timeoutIdName(saga)}/${timeoutIdName(key)}/t/${timeoutIdName(name)}/${version}`;

/** The error a commit gets for an outbox entry id the instance still has pending; nothing is written. */
export function outboxEntryInUse(saga: string, key: string, entryId: string): ValidationError {
  return new ValidationError(`Invalid saga step for "${saga}" "${key}"`, [
    { path: ["outbox"], message: `outbox entry id "${entryId}" is pending already: each entry has an id of its own` },
  ]);
}

/** Handled, outbox entry, causation and timeout ids: names, as long as a timeout id may be. */
function idIssues(value: unknown, what: string, path: (string | number)[]): Issue[] {
  return isName(value, MAX_SAGA_ID_LENGTH) ? [] : nameIssues(value, what, MAX_SAGA_ID_LENGTH, path);
}

const isCount = (value: unknown, max: number): boolean =>
  typeof value === "number" && Number.isSafeInteger(value) && value >= 0 && value <= max;

/** A due time or a claim's time: milliseconds since the epoch, as far as a 64-bit column keeps them exactly. */
const isTime = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value) && Math.abs(value) <= Number.MAX_SAFE_INTEGER;

const CLAIM_KEYS: readonly (keyof ClaimDueTimeoutsOptions)[] = ["now", "owner", "leaseMs", "limit", "sagas"];
const LIST_KEYS: readonly (keyof ListSagasOptions)[] = ["saga", "status", "pendingOutbox", "limit"];

/**
 * A listing's or query's options: none (undefined or null) are the defaults; anything else must be an
 * object of `known` keys, checked before a field is read (a misspelt key was dropped for its default,
 * and options whose keys cannot be read let the Proxy's own error out).
 */
function listingOptions<T extends object>(
  given: T | null | undefined,
  known: readonly string[],
  what: string,
): Partial<T> {
  if (given === undefined || given === null) return {};
  assertObject(given, [], what);
  assertKnownOptions(given, known, what);
  return given;
}

/** The `sagas` a claim is limited to: absent, or a list of saga names (at most 10,000). */
function claimSagasIssues(sagas: unknown): Issue[] {
  if (sagas === undefined) return [];
  if (!Array.isArray(sagas) || sagas.length > 10_000) {
    return [{ path: ["sagas"], message: "must be a list of at most 10,000 saga names" }];
  }
  return sagas.flatMap((saga, i) => nameIssues(saga, "saga name", MAX_SAGA_KEY_LENGTH, ["sagas", i]));
}
