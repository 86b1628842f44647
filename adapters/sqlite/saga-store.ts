import {
  type ClaimDueTimeoutsOptions,
  type Issue,
  type ListSagasOptions,
  type OutboxEntry,
  outboxEntryInUse,
  PayloadTooLargeError,
  SAGA_STORE_OPTIONS,
  type SagaCommit,
  type SagaFailure,
  type SagaRecord,
  SagaStore,
  type SagaStoreOptions,
  type SagaTimeout,
  sagaConflict,
  sagaCorruptError,
  sagaRecordFlaw,
  utf8Length,
  ValidationError,
} from "../../src/index.js";
import { driverIssues, type SqliteDriver, type SqliteRow, type SqliteStatement, type SqliteValue } from "./driver.js";
import { SQLITE_MAX_VALUE_BYTES, storedInteger, storedJsonText } from "./encode.js";
import { guard, SERVICE } from "./errors.js";
import { NAME_OPTIONS, nameIssues, type SqliteNameOptions, type SqliteTableNames, tableNames } from "./names.js";

export interface SqliteSagaStoreOptions extends SqliteNameOptions, SagaStoreOptions {
  /** The database (the event store's `driver`, say). */
  readonly driver: SqliteDriver;
}

const FINAL: ReadonlySet<string> = new Set(["completed", "compensated"]);

const OPTIONS = Object.keys({ ...SAGA_STORE_OPTIONS, ...NAME_OPTIONS, driver: true } satisfies Record<
  keyof SqliteSagaStoreOptions,
  true
>);

/**
 * Saga instances in the event store's database: the `sagas`, `saga_handled`, `saga_outbox`,
 * `saga_timeouts` and `saga_failures` tables of migration 8. A commit is one `driver.batch`, which
 * every driver runs as one transaction (D1's included, which has no interactive one): its first
 * statement writes the instance with a version that is NULL unless the stored one is the expected
 * one, so a stale commit fails the NOT NULL constraint and the whole batch with it; a handled id or
 * a pending outbox entry id stored already fails its key the same way. Due timeouts are claimed by
 * one `UPDATE … RETURNING`, which SQLite runs under its write lock, so competing claimers each get
 * different ones.
 */
export class SqliteSagaStore extends SagaStore {
  readonly #driver: SqliteDriver;
  readonly #n: SqliteTableNames;
  /** The driver's cap on one value, which caps a row too (2 MB on D1 and Durable Objects). */
  readonly #maxValueBytes: number;

  /** @throws {ValidationError} a missing driver, bad names or a bad `maxStateBytes`. */
  constructor(options: SqliteSagaStoreOptions) {
    const issues: Issue[] =
      typeof options === "object" && options !== null
        ? [...driverIssues(options.driver), ...nameIssues(options, OPTIONS)]
        : [{ path: [], message: "options are required" }];
    if (issues.length > 0) throw new ValidationError("Invalid SQLite saga store options", issues);
    super(options);
    this.#driver = options.driver;
    this.#n = tableNames(options, OPTIONS);
    this.#maxValueBytes = options.driver.maxValueBytes ?? SQLITE_MAX_VALUE_BYTES;
  }

  protected readInstance(saga: string, key: string): Promise<SagaRecord | undefined> {
    return this.#run("loadSaga", async (driver) => {
      const [row] = await driver.all(`${this.#selectRecords()} WHERE s.saga = ? AND s.key = ?`, [saga, key]);
      return row === undefined ? undefined : toRecord(row);
    });
  }

  protected readHandled(saga: string, key: string, handledId: string): Promise<boolean> {
    return this.#exists(
      "sagaHandled",
      `SELECT 1 AS found FROM ${this.#n.sagaHandled} WHERE saga = ? AND key = ? AND handled_id = ?`,
      [saga, key, handledId],
    );
  }

  protected async writeCommit(commit: SagaCommit): Promise<number> {
    const statements = this.#commitStatements(commit);
    try {
      await this.#run("commitSaga", (driver) => driver.batch(statements));
    } catch (error) {
      throw (await this.#refusal(commit)) ?? error;
    }
    return commit.expectedVersion + 1;
  }

  /**
   * The commit's batch. Parameters are plain `?` (every driver binds them), at most a dozen per
   * statement (D1 binds 100); the outbox entries and timeouts travel as one JSON array each.
   * @throws {PayloadTooLargeError} a row or an array over the driver's `maxValueBytes`; nothing is sent.
   */
  #commitStatements(commit: SagaCommit): SqliteStatement[] {
    const n = this.#n;
    const { saga, key } = commit;
    const what = `saga "${saga}" "${key}"`;
    const state = JSON.stringify(commit.state);
    const compensations = JSON.stringify(commit.compensations);
    const attention = commit.attention === undefined ? null : JSON.stringify(commit.attention);
    // The instance's row holds these together, and SQLite's length limit caps a row as it caps a value.
    this.#assertFits(`The row of ${what}`, [saga, key, state, compensations, attention ?? ""]);
    const now = new Date().toISOString();
    const statements: SqliteStatement[] = [
      {
        // First: NULL as the version unless the stored one (0 for none) is the expected one, which fails
        // NOT NULL before the key is looked at, so a stale commit fails here and the batch with it.
        sql: `INSERT INTO ${n.sagas} (saga, key, version, state, status, step, compensations, attention, created_at, updated_at)
SELECT ?, ?, CASE WHEN coalesce((SELECT version FROM ${n.sagas} WHERE saga = ? AND key = ?), 0) = ? THEN ? END,
  ?, ?, ?, ?, ?, ?, ? WHERE true
ON CONFLICT (saga, key) DO UPDATE SET version = excluded.version, state = excluded.state, status = excluded.status,
  step = excluded.step, compensations = excluded.compensations, attention = excluded.attention,
  updated_at = excluded.updated_at`,
        params: [
          saga,
          key,
          saga,
          key,
          commit.expectedVersion,
          commit.expectedVersion + 1,
          state,
          commit.status,
          commit.step,
          compensations,
          attention,
          now,
          now,
        ],
      },
    ];
    // Handled already, or an entry id still pending: the key refuses it, and the whole batch rolls back.
    if (commit.handledId !== undefined) {
      statements.push({
        sql: `INSERT INTO ${n.sagaHandled} (saga, key, handled_id) VALUES (?, ?, ?)`,
        params: [saga, key, commit.handledId],
      });
    }
    const outbox = commit.outbox ?? [];
    if (outbox.length > 0) {
      const entries = JSON.stringify(outbox);
      this.#assertFits(`The outbox entries of ${what}`, [entries]);
      statements.push({
        sql: `INSERT INTO ${n.sagaOutbox} (saga, key, entry_id, entry)
SELECT ?, ?, j.value ->> '$.id', j.value FROM json_each(?) AS j ORDER BY j.key`,
        params: [saga, key, entries],
      });
    }
    if (commit.firedTimeoutId !== undefined) {
      // Only the instance's own: an id is no proof of whose it is.
      statements.push({
        sql: `DELETE FROM ${n.sagaTimeouts} WHERE id = ? AND saga = ? AND key = ?`,
        params: [commit.firedTimeoutId, saga, key],
      });
    }
    const schedule = commit.schedule ?? [];
    if (FINAL.has(commit.status)) {
      // A final instance fires nothing more.
      statements.push({ sql: `DELETE FROM ${n.sagaTimeouts} WHERE saga = ? AND key = ?`, params: [saga, key] });
      return statements;
    }
    const dropped = [...(commit.cancel ?? []), ...schedule.map((t) => t.name)];
    if (dropped.length > 0) {
      const names = JSON.stringify(dropped);
      this.#assertFits(`The timeout names of ${what}`, [names]);
      statements.push({
        sql: `DELETE FROM ${n.sagaTimeouts} WHERE saga = ? AND key = ? AND name IN (SELECT value FROM json_each(?))`,
        params: [saga, key, names],
      });
    }
    if (schedule.length > 0) {
      const timeouts = JSON.stringify(schedule.map((t) => ({ id: t.id, name: t.name, dueAt: t.dueAt, data: t.data })));
      this.#assertFits(`The timeouts of ${what}`, [timeouts]);
      statements.push({
        sql: `INSERT INTO ${n.sagaTimeouts} (id, saga, key, name, due_at, data)
SELECT j.value ->> '$.id', ?, ?, j.value ->> '$.name', j.value ->> '$.dueAt', j.value -> '$.data' FROM json_each(?) AS j`,
        params: [saga, key, timeouts],
      });
    }
    return statements;
  }

  /**
   * Why a commit's batch failed, read after it: the instance moved on (a ConcurrencyError with its
   * version), the handled id is stored (one with the version expected: nothing was written), or an
   * outbox entry id is still pending (a ValidationError). Undefined for any other failure, or when
   * this read fails too: the batch's own error stands.
   */
  async #refusal(commit: SagaCommit): Promise<Error | undefined> {
    const n = this.#n;
    const { saga, key } = commit;
    try {
      const [row] = await this.#driver.all(
        `SELECT (SELECT version FROM ${n.sagas} WHERE saga = ? AND key = ?) AS version,
  EXISTS (SELECT 1 FROM ${n.sagaHandled} WHERE saga = ? AND key = ? AND handled_id = ?) AS handled,
  (SELECT entry_id FROM ${n.sagaOutbox} WHERE saga = ? AND key = ? AND entry_id IN (SELECT value FROM json_each(?))
    ORDER BY seq LIMIT 1) AS pending`,
        [
          saga,
          key,
          saga,
          key,
          commit.handledId ?? null,
          saga,
          key,
          JSON.stringify((commit.outbox ?? []).map((entry) => entry.id)),
        ],
      );
      const version = Number(row?.version ?? 0);
      if (version !== commit.expectedVersion) return sagaConflict(saga, key, commit.expectedVersion, version);
      if (Number(row?.handled) === 1) return sagaConflict(saga, key, commit.expectedVersion, version);
      if (row?.pending !== null && row?.pending !== undefined) return outboxEntryInUse(saga, key, String(row.pending));
      return undefined;
    } catch {
      return undefined;
    }
  }

  /** @throws {PayloadTooLargeError} the texts together over the driver's `maxValueBytes`. */
  #assertFits(what: string, texts: readonly string[]): void {
    let units = 0;
    for (const text of texts) units += text.length;
    // A code unit is at most three UTF-8 bytes: most commits need no counting.
    if (units * 3 <= this.#maxValueBytes) return;
    let bytes = 0;
    for (const text of texts) bytes += utf8Length(text);
    if (bytes > this.#maxValueBytes) throw new PayloadTooLargeError(what, bytes, this.#maxValueBytes);
  }

  protected async writeDispatched(saga: string, key: string, entryId: string): Promise<void> {
    await this.#run("markSagaDispatched", (driver) =>
      driver.all(`DELETE FROM ${this.#n.sagaOutbox} WHERE saga = ? AND key = ? AND entry_id = ?`, [saga, key, entryId]),
    );
  }

  protected claimTimeouts(options: ClaimDueTimeoutsOptions): Promise<SagaTimeout[]> {
    const table = this.#n.sagaTimeouts;
    const sagas = options.sagas === undefined ? null : JSON.stringify(options.sagas);
    // One statement: SQLite takes its write lock before the inner SELECT reads, so no other claim
    // runs between choosing the free timeouts and taking them, on D1 too.
    return this.#run("claimSagaTimeouts", async (driver) => {
      const rows = await driver.all(
        `UPDATE ${table} SET owner = ?, lease_until = ?
WHERE id IN (
  SELECT id FROM ${table} WHERE due_at <= ? AND (owner IS NULL OR lease_until <= ?)
    AND (? IS NULL OR saga IN (SELECT value FROM json_each(?))) ORDER BY due_at LIMIT ?)
RETURNING id, saga, key, name, due_at, data`,
        [options.owner, options.now + options.leaseMs, options.now, options.now, sagas, sagas, options.limit],
      );
      // RETURNING gives rows in no promised order.
      return rows.map(toTimeout).sort((a, b) => a.dueAt - b.dueAt);
    });
  }

  protected override readNextDue(sagas: readonly string[] | undefined): Promise<number | undefined> {
    const table = this.#n.sagaTimeouts;
    const only = sagas === undefined ? null : JSON.stringify(sagas);
    const filter = "(? IS NULL OR saga IN (SELECT value FROM json_each(?)))";
    return this.#run("nextSagaTimeout", async (driver) => {
      // Free ones by the due_at index; held ones (few: those being fired) by their lease's end.
      const [row] = await driver.all(
        `SELECT min(next) AS next FROM (
  SELECT min(due_at) AS next FROM ${table} WHERE owner IS NULL AND ${filter}
  UNION ALL SELECT min(max(due_at, lease_until)) FROM ${table} WHERE owner IS NOT NULL AND ${filter})`,
        [only, only, only, only],
      );
      const next = row?.next;
      return next === null || next === undefined ? undefined : Number(next);
    });
  }

  protected override readTimeoutPending(saga: string, key: string, timeoutId: string): Promise<boolean> {
    return this.#exists(
      "sagaTimeoutPending",
      `SELECT 1 AS found FROM ${this.#n.sagaTimeouts} WHERE id = ? AND saga = ? AND key = ?`,
      [timeoutId, saga, key],
    );
  }

  protected async deleteTimeout(timeoutId: string): Promise<void> {
    await this.#run("dropSagaTimeout", (driver) =>
      driver.all(`DELETE FROM ${this.#n.sagaTimeouts} WHERE id = ?`, [timeoutId]),
    );
  }

  protected listInstances(options: ListSagasOptions & { readonly limit: number }): Promise<SagaRecord[]> {
    // Only the filters given, so the statement can use the tables' keys.
    const where: string[] = [];
    const params: SqliteValue[] = [];
    if (options.saga !== undefined) {
      where.push("s.saga = ?");
      params.push(options.saga);
    }
    if (options.status !== undefined) {
      where.push("s.status = ?");
      params.push(options.status);
    }
    if (options.pendingOutbox === true) {
      where.push(`EXISTS (SELECT 1 FROM ${this.#n.sagaOutbox} AS o WHERE o.saga = s.saga AND o.key = s.key)`);
    }
    const filter = where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`;
    return this.#run("listSagas", async (driver) => {
      const rows = await driver.all(`${this.#selectRecords()}${filter} ORDER BY s.seq LIMIT ?`, [
        ...params,
        options.limit,
      ]);
      return rows.map(toRecord);
    });
  }

  protected async writeFailure(failure: SagaFailure): Promise<void> {
    const text = JSON.stringify(failure);
    this.#assertFits(`The failure of saga "${failure.saga}"`, [failure.saga, failure.key ?? "", text]);
    await this.#run("recordSagaFailure", (driver) =>
      driver.all(`INSERT INTO ${this.#n.sagaFailures} (saga, key, failure) VALUES (?, ?, ?)`, [
        failure.saga,
        failure.key ?? null,
        text,
      ]),
    );
  }

  protected readFailures(saga: string | undefined, limit: number): Promise<SagaFailure[]> {
    const table = this.#n.sagaFailures;
    return this.#run("sagaFailures", async (driver) => {
      const rows =
        saga === undefined
          ? await driver.all(`SELECT failure FROM ${table} ORDER BY seq LIMIT ?`, [limit])
          : await driver.all(`SELECT failure FROM ${table} WHERE saga = ? ORDER BY seq LIMIT ?`, [saga, limit]);
      return rows.map(toFailure);
    });
  }

  /** Whether `sql` (a `SELECT 1 … WHERE` of one row) finds its row. */
  #exists(operation: string, sql: string, params: SqliteValue[]): Promise<boolean> {
    return this.#run(operation, async (driver) => (await driver.all(sql, params)).length > 0);
  }

  #run<T>(operation: string, work: (driver: SqliteDriver) => Promise<T>): Promise<T> {
    return guard(operation, this.#driver.name, async () => {
      try {
        return await work(this.#driver);
      } catch (error) {
        // Only JSON.parse of a stored value throws a SyntaxError here: a row another tool wrote. Said
        // so, without the parser's message (it quotes the text), not as the catch-all "the statement failed".
        if (!(error instanceof SyntaxError)) throw error;
        const what =
          error instanceof UnreadableInstance
            ? error.message
            : "a stored saga instance, timeout or failure is not JSON";
        throw sagaCorruptError(SERVICE, operation, what);
      }
    });
  }

  #selectRecords(): string {
    // The outbox as one JSON array of the entries' texts (parsed by toRecord: SQLite's json() failed the
    // statement on one that is not JSON, naming nothing), in the order its entries were decided: an aggregate window over
    // seq orders it on every SQLite these drivers ship (an aggregate's own ORDER BY needs 3.44).
    return `SELECT s.saga AS saga, s.key AS key, s.version AS version, s.state AS state, s.status AS status,
  s.step AS step, s.compensations AS compensations, s.attention AS attention,
  (SELECT json_group_array(o.entry) OVER (ORDER BY o.seq ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
    FROM ${this.#n.sagaOutbox} AS o WHERE o.saga = s.saga AND o.key = s.key LIMIT 1) AS outbox
FROM ${this.#n.sagas} AS s`;
  }
}

/** A stored instance or failure that is none (its JSON does not parse, or is of another shape), named so it can be found. */
class UnreadableInstance extends SyntaxError {}

function toRecord(row: SqliteRow): SagaRecord {
  const saga = String(row.saga);
  const key = String(row.key);
  let record: SagaRecord;
  try {
    record = {
      saga,
      key,
      // Integers and JSON text as stored, never String() or Number() of a BLOB another tool wrote
      // (x'05' read as step 5): what is no integer or no text is refused below as a corrupt instance.
      version: storedInteger(row.version),
      state: storedJsonText(row.state),
      status: String(row.status) as SagaRecord["status"],
      step: storedInteger(row.step),
      compensations: storedJsonText(row.compensations) as SagaRecord["compensations"],
      outbox:
        row.outbox === null || row.outbox === undefined
          ? []
          : (storedJsonText(row.outbox) as unknown[]).map((entry) => storedJsonText(entry) as OutboxEntry),
      attention:
        row.attention === null || row.attention === undefined
          ? undefined
          : (storedJsonText(row.attention) as SagaRecord["attention"]),
    };
  } catch (error) {
    if (!(error instanceof SyntaxError)) throw error;
    throw new UnreadableInstance(`the stored state of saga "${saga}" key "${key}" is not JSON`);
  }
  // JSON of another shape, or a status that is none: refused as the JSON that does not parse is.
  const flaw = Number.isSafeInteger(record.version) ? sagaRecordFlaw(record) : "its version is not an integer";
  if (flaw !== undefined) throw new UnreadableInstance(`the stored instance of saga "${saga}" key "${key}": ${flaw}`);
  return record;
}

function toFailure(row: SqliteRow): SagaFailure {
  const failure = storedJsonText(row.failure) as SagaFailure | null;
  if (typeof failure === "object" && failure !== null && !Array.isArray(failure)) return failure;
  throw new UnreadableInstance("a stored saga failure is not an object");
}

function toTimeout(row: SqliteRow): SagaTimeout {
  return {
    id: String(row.id),
    saga: String(row.saga),
    key: String(row.key),
    name: String(row.name),
    dueAt: Number(row.due_at),
    // NULL: scheduled without data (undefined, which JSON leaves out).
    data: row.data === null || row.data === undefined ? undefined : (JSON.parse(String(row.data)) as unknown),
  };
}
