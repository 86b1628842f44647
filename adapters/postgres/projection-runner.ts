import {
  assertCheckpointId,
  callHook,
  type EventEnvelope,
  getLogger,
  type Issue,
  isServiceError,
  MAX_CHECKPOINT_ID_LENGTH,
  ServiceError,
  ValidationError,
} from "../../src/index.js";
import type { StoreContext } from "./append.js";
import { PostgresCheckpointStore } from "./checkpoint-store.js";
import type { PostgresSql, PostgresTransactionSql } from "./client.js";
import { guard, SERVICE, toEventFlowsError } from "./errors.js";
import type { ProjectionContext } from "./inline-projection.js";
import { type FeedRow, fromFeedRow } from "./rows.js";

/** A read model that follows the global feed in its own transactions, behind the appends. */
export interface AsyncProjection {
  /** Names the checkpoint and the lock: one name, one position, one active runner. */
  readonly name: string;
  /** Only events of these types are handed over (the checkpoint still moves past the others). */
  readonly eventTypes?: readonly string[];
  /**
   * Handles one batch, in the transaction that also moves the checkpoint past it: the read-model
   * change and the checkpoint commit together, so no batch is applied twice or lost. Throwing rolls
   * both back; the batch is retried after `retryDelayMs`.
   */
  readonly handle: (events: readonly EventEnvelope[], context: ProjectionContext) => void | Promise<void>;
}

export interface ProjectionRunnerOptions {
  /** Events read per transaction. Defaults to 100. */
  readonly batchSize?: number;
  /** Wait when caught up before looking for new events. Defaults to 500 ms. */
  readonly pollIntervalMs?: number;
  /** How often a standby runner tries to take over the lock. Defaults to 1,000 ms. */
  readonly standbyPollMs?: number;
  /** Wait after a failed batch before retrying it. Defaults to 1,000 ms. */
  readonly retryDelayMs?: number;
  /** Told about every failure (the batch is retried). Defaults to an error line on the library's logger. */
  readonly onError?: (error: unknown) => void;
  /** Called after each committed batch. */
  readonly onBatch?: (batch: BatchResult) => void;
  readonly signal?: AbortSignal;
}

export interface BatchResult {
  /** Events read (the checkpoint moved past them), matching or not. */
  readonly read: number;
  /** Events handed to the projection. */
  readonly handled: number;
  /** The checkpoint after the batch. */
  readonly position: number;
}

interface RunnerDeps {
  readonly sql: PostgresSql;
  readonly context: StoreContext;
}

interface HeldLock {
  readonly tx: PostgresTransactionSql;
  readonly release: () => void;
  /** Settles when the lock's transaction has ended. */
  readonly held: Promise<void>;
}

/**
 * Runs an {@link AsyncProjection}: `start()` follows the feed until `stop()`, as the active runner
 * or as a standby waiting for the active one's lock; `catchUp()` processes what is there and
 * returns (for schedules and serverless functions).
 *
 * At most one runner per projection name is active across processes: the active one holds an
 * advisory lock in a transaction on a connection of its own, which PostgreSQL releases when the
 * process dies. The client therefore needs at least two connections. Exactly-once application does not rest on the lock alone: each batch moves the checkpoint
 * with compare-and-set in the batch's transaction, so a batch two runners raced on commits once.
 */
export class ProjectionRunner {
  readonly projection: AsyncProjection;
  readonly #deps: RunnerDeps;
  readonly #options: Required<Omit<ProjectionRunnerOptions, "signal" | "onBatch">> &
    Pick<ProjectionRunnerOptions, "onBatch" | "signal">;
  readonly #checkpointId: string;
  readonly #lockKey: string;
  #lock: HeldLock | undefined;
  #position = 0;
  #loop: Promise<void> | undefined;
  #stopped = false;
  #wake: (() => void) | undefined;

  /** @internal Made by `PostgresEventStore.projectionRunner`. */
  constructor(deps: RunnerDeps, projection: AsyncProjection, options: ProjectionRunnerOptions = {}) {
    const issues = runnerIssues(projection, options);
    const max = (deps.sql as { options?: { max?: unknown } }).options?.max;
    if (typeof max === "number" && max < 2) {
      issues.push({
        path: ["sql"],
        message: "a projection runner needs a client with at least 2 connections (max >= 2)",
      });
    }
    if (issues.length > 0) throw new ValidationError("Invalid projection runner", issues);
    assertCheckpointId(projection.name);
    // What is stored is the prefixed id: a name that fits alone may not fit with the prefix, and
    // would then fail every batch, forever.
    const checkpointId = checkpointIdOf(projection.name);
    try {
      assertCheckpointId(checkpointId);
    } catch (error) {
      throw new ValidationError(
        "Invalid projection runner",
        [
          {
            path: ["name"],
            message: `a projection name is at most ${MAX_PROJECTION_NAME_LENGTH} characters: its checkpoint id, "${CHECKPOINT_PREFIX}" and the name, is at most ${MAX_CHECKPOINT_ID_LENGTH}`,
          },
        ],
        { cause: error },
      );
    }
    this.projection = projection;
    this.#deps = deps;
    this.#options = {
      batchSize: options.batchSize ?? 100,
      pollIntervalMs: options.pollIntervalMs ?? 500,
      standbyPollMs: options.standbyPollMs ?? 1000,
      retryDelayMs: options.retryDelayMs ?? 1000,
      onError:
        options.onError ??
        ((error) =>
          getLogger().error(`projection "${projection.name}" failed; retrying`, {
            projection: projection.name,
            error,
          })),
      onBatch: options.onBatch,
      signal: options.signal,
    };
    this.#checkpointId = checkpointId;
    this.#lockKey = `${deps.context.names.lockNamespace}:projection:${projection.name}`;
  }

  /** Whether this runner holds the projection's lock (is the active one). */
  get active(): boolean {
    return this.#lock !== undefined;
  }

  /** The checkpoint as this runner last saw it. */
  get position(): number {
    return this.#position;
  }

  /** Follows the feed in the background until `stop()` (or the signal aborts). */
  start(): void {
    if (this.#loop !== undefined) throw new ValidationError("This projection runner is already running");
    this.#stopped = false;
    this.#options.signal?.addEventListener("abort", () => void this.stop(), { once: true });
    this.#loop = this.#run();
  }

  /** Stops after the batch in hand commits, releases the lock, and resolves when done. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#loop;
    this.#loop = undefined;
  }

  /**
   * Takes the lock if it is free, processes every batch there is, releases it. Resolves to what was
   * done, or to undefined when another runner holds the lock.
   */
  async catchUp(): Promise<{ readonly read: number; readonly position: number } | undefined> {
    if (this.#loop !== undefined) throw new ValidationError("This projection runner is running; stop() it first");
    if (!(await this.#acquire())) return undefined;
    try {
      let read = 0;
      for (;;) {
        const batch = await this.#batch();
        read += batch.read;
        if (batch.read < this.#options.batchSize) return { read, position: this.#position };
      }
    } finally {
      await this.#release();
    }
  }

  async #run(): Promise<void> {
    try {
      while (!this.#stopped) {
        if (this.#lock === undefined && !(await this.#acquire().catch((error) => this.#failed(error)))) {
          await this.#pause(this.#options.standbyPollMs);
          continue;
        }
        try {
          await this.#alive();
          const batch = await this.#batch();
          if (batch.read < this.#options.batchSize) await this.#pause(this.#options.pollIntervalMs);
        } catch (error) {
          this.#failed(error);
          // A lost connection may have taken the lock with it: give it up and compete again.
          if (isServiceError(error) && error.retryable) await this.#release();
          await this.#pause(this.#options.retryDelayMs);
        }
      }
    } finally {
      await this.#release();
    }
  }

  /** One batch in one transaction: read after the checkpoint, handle, move the checkpoint (compare-and-set). */
  async #batch(): Promise<BatchResult> {
    const { sql, context } = this.#deps;
    const result = await guard("projection", () =>
      sql.begin(async (tx: PostgresTransactionSql) => {
        const checkpoints = new PostgresCheckpointStore({
          sql: tx,
          schema: context.names.schema,
          tablePrefix: context.names.tablePrefix,
        });
        const from = (await checkpoints.load(this.#checkpointId)) ?? 0;
        const rows = (await tx
          .unsafe(context.statements.readAll, [String(from), this.#options.batchSize], { prepare: true })
          .values()) as unknown as FeedRow[];
        if (rows.length === 0) return { read: 0, handled: 0, position: from };
        const events = rows.map(fromFeedRow);
        const types = this.projection.eventTypes;
        const matching = types === undefined ? events : events.filter((e) => types.includes(e.type));
        if (matching.length > 0) await this.projection.handle(matching, { sql: tx });
        const position = events[events.length - 1]?.globalPosition ?? from;
        await checkpoints.store(this.#checkpointId, position, { expected: from });
        return { read: rows.length, handled: matching.length, position };
      }),
    );
    const batch = result as BatchResult;
    this.#position = batch.position;
    // The batch has committed: a hook that throws must not make it look failed.
    const onBatch = this.#options.onBatch;
    if (batch.read > 0 && onBatch !== undefined) callHook("onBatch", onBatch, batch);
    return batch;
  }

  /**
   * Takes the lock in a transaction kept open on a connection of its own (a transaction-level
   * advisory lock, unlike a session one, also works behind transaction-pooling proxies). The
   * transaction writes nothing, so it has no id and holds back neither readers nor vacuum.
   */
  async #acquire(): Promise<boolean> {
    if (this.#lock !== undefined) return true;
    return new Promise<boolean>((resolve, reject) => {
      let settled = false;
      let release!: () => void;
      const released = new Promise<void>((done) => {
        release = done;
      });
      const held = this.#deps.sql.begin(async (tx: PostgresTransactionSql) => {
        const [row] = await tx.unsafe("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS locked", [
          this.#lockKey,
        ]);
        settled = true;
        if (row?.locked !== true) return resolve(false);
        this.#lock = {
          tx,
          release,
          held: held.then(
            () => undefined,
            () => undefined,
          ),
        };
        resolve(true);
        await released;
      });
      held.then(
        () => undefined,
        (error) => {
          // The lock's connection broke: the server released the lock with it.
          this.#lock = undefined;
          if (!settled) reject(toEventFlowsError(error, "projection lock"));
        },
      );
    });
  }

  /** Throws (a retryable ServiceError) when the lock's connection is gone. */
  async #alive(): Promise<void> {
    const lock = this.#lock;
    if (lock === undefined) {
      throw new ServiceError(
        SERVICE,
        "projection lock",
        "LOCK_LOST",
        true,
        "the projection lock's connection was lost",
      );
    }
    await guard("projection lock", () => lock.tx.unsafe("SELECT 1"));
  }

  async #release(): Promise<void> {
    const lock = this.#lock;
    if (lock === undefined) return;
    this.#lock = undefined;
    lock.release();
    await lock.held;
  }

  #failed(error: unknown): false {
    callHook("onError", this.#options.onError, error);
    return false;
  }

  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stopped) return resolve();
      const timer = setTimeout(done, ms);
      const wake = () => {
        clearTimeout(timer);
        done();
      };
      this.#wake = wake;
      function done() {
        resolve();
      }
    });
  }
}

const CHECKPOINT_PREFIX = "projection:";
/** The longest projection name: its checkpoint id, the prefix and the name, must fit the checkpoint store. */
export const MAX_PROJECTION_NAME_LENGTH = MAX_CHECKPOINT_ID_LENGTH - CHECKPOINT_PREFIX.length;

function checkpointIdOf(name: string): string {
  return `${CHECKPOINT_PREFIX}${name}`;
}

function runnerIssues(projection: AsyncProjection, options: ProjectionRunnerOptions): Issue[] {
  const issues: Issue[] = [];
  if (typeof projection !== "object" || projection === null) return [{ path: [], message: "a projection is required" }];
  if (typeof projection.handle !== "function") issues.push({ path: ["handle"], message: "handle must be a function" });
  const types = projection.eventTypes;
  if (types !== undefined && (!Array.isArray(types) || types.some((t) => typeof t !== "string"))) {
    issues.push({ path: ["eventTypes"], message: "eventTypes must be an array of strings" });
  }
  for (const key of ["batchSize", "pollIntervalMs", "standbyPollMs", "retryDelayMs"] as const) {
    const value = options[key];
    const min = key === "batchSize" ? 1 : 0;
    if (value !== undefined && (typeof value !== "number" || !Number.isSafeInteger(value) || value < min)) {
      issues.push({ path: [key], message: `${key} must be an integer of at least ${min}` });
    }
  }
  if (options.batchSize !== undefined && options.batchSize > 10_000) {
    issues.push({ path: ["batchSize"], message: "batchSize must be at most 10,000" });
  }
  return issues;
}
