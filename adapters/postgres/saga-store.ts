import {
  type ClaimDueTimeoutsOptions,
  type Issue,
  type ListSagasOptions,
  type OutboxEntry,
  outboxEntryInUse,
  SAGA_STORE_OPTIONS,
  type SagaCommit,
  type SagaFailure,
  type SagaRecord,
  SagaStore,
  type SagaStoreOptions,
  type SagaTimeout,
  type ServiceError,
  sagaConflict,
  sagaCorruptError,
  sagaRecordFlaw,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import { attemptsOn, opensTransactions, type PostgresSql, type PostgresTransactionSql } from "./client.js";
import { guard, guardReconnecting, SERVICE } from "./errors.js";
import { NAME_OPTIONS, type PostgresNameOptions, type TableNames, tableNames } from "./names.js";
import { beginUnlessGone } from "./transaction-scope.js";

export interface PostgresSagaStoreOptions extends PostgresNameOptions, SagaStoreOptions {
  /** A postgres.js client (not a transaction: each commit runs in a transaction of its own). */
  readonly sql: PostgresSql;
}

const OPTIONS = Object.keys({ ...SAGA_STORE_OPTIONS, ...NAME_OPTIONS, sql: true } satisfies Record<
  keyof PostgresSagaStoreOptions,
  true
>);

const FINAL = ["completed", "compensated"];

interface RecordRow {
  readonly saga: string;
  readonly key: string;
  readonly version: number;
  readonly state: string;
  readonly status: SagaRecord["status"];
  readonly step: number;
  readonly compensations: string;
  readonly attention: string | null;
  readonly outbox: string;
}

/**
 * Saga instances on PostgreSQL: the `sagas`, `saga_handled`, `saga_outbox`, `saga_timeouts` and
 * `saga_failures` tables of migration 7. A commit is one transaction (state with its version
 * check, handled id, outbox, timeouts); timeouts are claimed with `FOR UPDATE SKIP LOCKED` and a
 * lease, so competing schedulers each claim different ones.
 */
export class PostgresSagaStore extends SagaStore {
  readonly #sql: PostgresSql;
  readonly #n: TableNames;

  /** @throws {ValidationError} a missing client or bad names. */
  constructor(options: PostgresSagaStoreOptions) {
    super(options);
    // A misspelt `schmea` kept the sagas in the default schema.
    const issues: Issue[] = unknownKeyIssues(options, OPTIONS);
    if (!opensTransactions(options?.sql)) {
      issues.push({ path: ["sql"], message: "sql must be a postgres.js client (with begin), not a transaction" });
    }
    if (issues.length > 0) throw new ValidationError("Invalid PostgreSQL saga store options", issues);
    this.#sql = options.sql;
    this.#n = tableNames(options, OPTIONS);
  }

  protected async readInstance(saga: string, key: string): Promise<SagaRecord | undefined> {
    const rows = await guardReconnecting("loadSaga", attemptsOn(this.#sql), () =>
      this.#sql.unsafe(`${this.#selectRecords()} WHERE s.saga = $1 AND s.key = $2`, [saga, key], { prepare: true }),
    );
    const row = rows[0] as unknown as RecordRow | undefined;
    return row === undefined ? undefined : toRecord(row, "loadSaga");
  }

  protected readHandled(saga: string, key: string, handledId: string): Promise<boolean> {
    return this.#exists(
      "sagaHandled",
      `SELECT 1 FROM ${this.#n.sagaHandled} WHERE saga = $1 AND key = $2 AND handled_id = $3`,
      [saga, key, handledId],
    );
  }

  /** Whether `statement` (a `SELECT 1 ... WHERE` of one row) finds its row. */
  async #exists(operation: string, statement: string, parameters: string[]): Promise<boolean> {
    const rows = await guardReconnecting(operation, attemptsOn(this.#sql), () =>
      this.#sql.unsafe(statement, parameters, { prepare: true }),
    );
    return rows.length > 0;
  }

  protected async writeCommit(commit: SagaCommit): Promise<number> {
    const n = this.#n;
    const { saga, key } = commit;
    const version = commit.expectedVersion + 1;
    const values = [
      saga,
      key,
      version,
      JSON.stringify(commit.state),
      commit.status,
      commit.step,
      JSON.stringify(commit.compensations),
      commit.attention === undefined ? null : JSON.stringify(commit.attention),
    ];
    return guard("commitSaga", () =>
      beginUnlessGone(this.#sql, undefined, async (tx: PostgresTransactionSql) => {
        const written =
          commit.expectedVersion === 0
            ? await tx.unsafe(
                `INSERT INTO ${n.sagas} (saga, key, version, state, status, step, compensations, attention)
  VALUES ($1, $2, $3, $4::text::jsonb, $5, $6, $7::text::jsonb, $8::text::jsonb)
  ON CONFLICT (saga, key, tenant_id) DO NOTHING RETURNING version`,
                values,
                { prepare: true },
              )
            : await tx.unsafe(
                `UPDATE ${n.sagas} SET version = $3, state = $4::text::jsonb, status = $5, step = $6,
  compensations = $7::text::jsonb, attention = $8::text::jsonb, updated_at = clock_timestamp()
  WHERE saga = $1 AND key = $2 AND version = $3 - 1 RETURNING version`,
                values,
                { prepare: true },
              );
        if (written.length === 0) {
          const current = await tx.unsafe(`SELECT version FROM ${n.sagas} WHERE saga = $1 AND key = $2`, [saga, key]);
          throw sagaConflict(saga, key, commit.expectedVersion, Number(current[0]?.version ?? 0));
        }
        if (commit.handledId !== undefined) {
          const handled = await tx.unsafe(
            `INSERT INTO ${n.sagaHandled} (saga, key, handled_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1`,
            [saga, key, commit.handledId],
            { prepare: true },
          );
          // Handled already: the whole commit rolls back, as a lost race would, and the version
          // stored stays the one expected (the update above is undone).
          if (handled.length === 0) throw sagaConflict(saga, key, commit.expectedVersion, commit.expectedVersion);
        }
        const outbox = commit.outbox ?? [];
        if (outbox.length > 0) {
          const added = await tx.unsafe(
            `INSERT INTO ${n.sagaOutbox} (saga, key, entry_id, entry)
  SELECT $1, $2, e.value->>'id', e.value FROM jsonb_array_elements($3::text::jsonb) WITH ORDINALITY AS e(value, n) ORDER BY e.n
  ON CONFLICT DO NOTHING RETURNING entry_id`,
            [saga, key, JSON.stringify(outbox)],
            { prepare: true },
          );
          // An id still pending (the base class refused duplicates within the commit): the whole commit rolls back.
          if (added.length < outbox.length) {
            const taken = new Set(added.map((row) => String(row.entry_id)));
            throw outboxEntryInUse(saga, key, outbox.find((entry) => !taken.has(entry.id))?.id ?? "");
          }
        }
        if (commit.firedTimeoutId !== undefined) {
          // Only the instance's own: an id is no proof of whose it is.
          await tx.unsafe(
            `DELETE FROM ${n.sagaTimeouts} WHERE id = $1 AND saga = $2 AND key = $3`,
            [commit.firedTimeoutId, saga, key],
            {
              prepare: true,
            },
          );
        }
        const schedule = commit.schedule ?? [];
        const final = FINAL.includes(commit.status);
        const dropped = [...(commit.cancel ?? []), ...schedule.map((t) => t.name)];
        if (final) {
          await tx.unsafe(`DELETE FROM ${n.sagaTimeouts} WHERE saga = $1 AND key = $2`, [saga, key], { prepare: true });
        } else if (dropped.length > 0) {
          await tx.unsafe(
            `DELETE FROM ${n.sagaTimeouts} WHERE saga = $1 AND key = $2
  AND name = ANY(ARRAY(SELECT jsonb_array_elements_text($3::text::jsonb)))`,
            [saga, key, JSON.stringify(dropped)],
            { prepare: true },
          );
        }
        if (!final && schedule.length > 0) {
          await tx.unsafe(
            `INSERT INTO ${n.sagaTimeouts} (id, saga, key, name, due_at, data)
  SELECT t.value->>'id', $1, $2, t.value->>'name', (t.value->>'dueAt')::numeric::bigint, t.value->'data'
  FROM jsonb_array_elements($3::text::jsonb) AS t(value)`,
            [saga, key, JSON.stringify(schedule.map((t) => ({ ...t, dueAt: Math.floor(t.dueAt) })))],
            { prepare: true },
          );
        }
        return version;
      }),
    );
  }

  protected async writeDispatched(saga: string, key: string, entryId: string): Promise<void> {
    await guard("markSagaDispatched", () =>
      this.#sql.unsafe(
        `DELETE FROM ${this.#n.sagaOutbox} WHERE saga = $1 AND key = $2 AND entry_id = $3`,
        [saga, key, entryId],
        { prepare: true },
      ),
    );
  }

  protected async claimTimeouts(options: ClaimDueTimeoutsOptions): Promise<SagaTimeout[]> {
    const table = this.#n.sagaTimeouts;
    const now = Math.floor(options.now);
    const rows = await guard("claimSagaTimeouts", () =>
      this.#sql.unsafe(
        `UPDATE ${table} SET owner = $1, lease_until = $2::text::bigint + $3::text::bigint
  WHERE id IN (
    SELECT id FROM ${table}
    WHERE due_at <= $2::text::bigint AND (owner IS NULL OR lease_until <= $2::text::bigint)
      AND ($5::text IS NULL OR saga IN (SELECT jsonb_array_elements_text($5::text::jsonb)))
    ORDER BY due_at LIMIT $4 FOR UPDATE SKIP LOCKED)
  RETURNING id, saga, key, name, due_at::text AS due_at, data::text AS data`,
        [
          options.owner,
          String(now),
          String(options.leaseMs),
          options.limit,
          options.sagas === undefined ? null : JSON.stringify(options.sagas),
        ],
        { prepare: true },
      ),
    );
    return rows
      .map((row) => ({
        id: String(row.id),
        saga: String(row.saga),
        key: String(row.key),
        name: String(row.name),
        dueAt: Number(row.due_at),
        data: JSON.parse(String(row.data)) as unknown,
      }))
      .sort((a, b) => a.dueAt - b.dueAt);
  }

  protected override async readNextDue(sagas: readonly string[] | undefined): Promise<number | undefined> {
    const only = `($1::text IS NULL OR saga IN (SELECT jsonb_array_elements_text($1::text::jsonb)))`;
    const rows = await guardReconnecting("nextSagaTimeout", attemptsOn(this.#sql), () =>
      this.#sql.unsafe(
        // Free ones by the due_at index; held ones (few: those being fired) by their lease's end.
        `SELECT LEAST(
    (SELECT min(due_at) FROM ${this.#n.sagaTimeouts} WHERE owner IS NULL AND ${only}),
    (SELECT min(GREATEST(due_at, lease_until)) FROM ${this.#n.sagaTimeouts} WHERE owner IS NOT NULL AND ${only}))::text AS next`,
        [sagas === undefined ? null : JSON.stringify(sagas)],
        { prepare: true },
      ),
    );
    const next = rows[0]?.next;
    return next === null || next === undefined ? undefined : Number(next);
  }

  protected override readTimeoutPending(saga: string, key: string, timeoutId: string): Promise<boolean> {
    return this.#exists(
      "sagaTimeoutPending",
      `SELECT 1 FROM ${this.#n.sagaTimeouts} WHERE id = $1 AND saga = $2 AND key = $3`,
      [timeoutId, saga, key],
    );
  }

  protected async deleteTimeout(timeoutId: string): Promise<void> {
    await guard("dropSagaTimeout", () =>
      this.#sql.unsafe(`DELETE FROM ${this.#n.sagaTimeouts} WHERE id = $1`, [timeoutId], { prepare: true }),
    );
  }

  protected async listInstances(options: ListSagasOptions & { readonly limit: number }): Promise<SagaRecord[]> {
    const rows = await guardReconnecting("listSagas", attemptsOn(this.#sql), () =>
      this.#sql.unsafe(
        `${this.#selectRecords()}
  WHERE ($1::text IS NULL OR s.saga = $1) AND ($2::text IS NULL OR s.status = $2)
    AND (NOT $3::boolean OR EXISTS (SELECT 1 FROM ${this.#n.sagaOutbox} o WHERE o.saga = s.saga AND o.key = s.key))
  ORDER BY s.created_at, s.saga, s.key LIMIT $4`,
        [options.saga ?? null, options.status ?? null, options.pendingOutbox === true, options.limit],
        { prepare: true },
      ),
    );
    return (rows as unknown as RecordRow[]).map((row) => toRecord(row, "listSagas"));
  }

  protected async writeFailure(failure: SagaFailure): Promise<void> {
    await guard("recordSagaFailure", () =>
      this.#sql.unsafe(
        `INSERT INTO ${this.#n.sagaFailures} (saga, key, failure) VALUES ($1, $2, $3::text::jsonb)`,
        [failure.saga, failure.key ?? null, JSON.stringify(failure)],
        { prepare: true },
      ),
    );
  }

  protected async readFailures(saga: string | undefined, limit: number): Promise<SagaFailure[]> {
    const rows = await guardReconnecting("sagaFailures", attemptsOn(this.#sql), () =>
      this.#sql.unsafe(
        `SELECT failure::text AS failure FROM ${this.#n.sagaFailures} WHERE ($1::text IS NULL OR saga = $1)
  ORDER BY seq LIMIT $2`,
        [saga ?? null, limit],
        { prepare: true },
      ),
    );
    return rows.map((row) => {
      const failure = JSON.parse(String(row.failure)) as SagaFailure | null;
      if (typeof failure === "object" && failure !== null && !Array.isArray(failure)) return failure;
      throw corrupt("sagaFailures", "a stored saga failure is not an object");
    });
  }

  #selectRecords(): string {
    // jsonb is read as text and parsed here, so the store works whatever types or transforms the
    // application configured on its client.
    return `SELECT s.saga, s.key, s.version, s.state::text AS state, s.status, s.step,
  s.compensations::text AS compensations, s.attention::text AS attention,
  (SELECT coalesce(jsonb_agg(o.entry ORDER BY o.seq), '[]'::jsonb)::text FROM ${this.#n.sagaOutbox} o
    WHERE o.saga = s.saga AND o.key = s.key) AS outbox
  FROM ${this.#n.sagas} s`;
  }
}

function toRecord(row: RecordRow, operation: string): SagaRecord {
  const record: SagaRecord = {
    saga: row.saga,
    key: row.key,
    version: Number(row.version),
    state: JSON.parse(row.state) as unknown,
    status: row.status,
    step: Number(row.step),
    compensations: JSON.parse(row.compensations),
    outbox: JSON.parse(row.outbox) as OutboxEntry[],
    attention: row.attention === null ? undefined : JSON.parse(row.attention),
  };
  // jsonb and text take any shape another tool writes: named by instance, quoting none of it.
  const flaw = sagaRecordFlaw(record);
  if (flaw !== undefined)
    throw corrupt(operation, `the stored instance of saga "${row.saga}" key "${row.key}": ${flaw}`);
  return record;
}

function corrupt(operation: string, what: string): ServiceError {
  return sagaCorruptError(SERVICE, operation, what);
}
