import {
  checkedClock,
  type DedupStore,
  dedupIdIssues,
  functionIssues,
  type Issue,
  integerOptionIssues,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import { attemptsOn, type PostgresQueryable } from "./client.js";
import { textIssues } from "./encode.js";
import { guard, guardReconnecting } from "./errors.js";
import { NAME_OPTIONS, type PostgresNameOptions, tableNames } from "./names.js";
import { pingPostgres } from "./ping.js";

export interface PostgresDedupStoreOptions extends PostgresNameOptions {
  readonly sql: PostgresQueryable;
  /** How long a handled event id is remembered. Defaults to 14 days, SQS's longest retention. */
  readonly ttlMs?: number;
  /** The clock, in ms since the epoch. Use one clock for all instances' stores (the default: each host's). */
  readonly now?: () => number;
}

const OPTIONS = Object.keys({ ...NAME_OPTIONS, sql: true, ttlMs: true, now: true } satisfies Record<
  keyof PostgresDedupStoreOptions,
  true
>);

/**
 * The SQS consumer's dedup store for many instances: the `dedup` table of migration 4, one row per
 * handled event id with its expiry. `add` upserts (repeating it restarts the TTL); `has` ignores
 * expired rows, which {@link PostgresDedupStore.purgeExpired} deletes when you schedule it.
 */
export class PostgresDedupStore implements DedupStore {
  readonly #sql: PostgresQueryable;
  /** The store's own table, which `ping` selects from. */
  readonly #table: string;
  readonly #ttlMs: number;
  readonly #now: () => number;
  /** Runs of a statement while its connection turns out lost (see guardReconnecting). */
  readonly #attempts: number;
  readonly #statements: { readonly has: string; readonly add: string; readonly purge: string };

  /** @throws {ValidationError} a missing client, bad names, TTL or clock. */
  constructor(options: PostgresDedupStoreOptions) {
    // A misspelt `ttlMS` kept ids for the default 14 days without a word.
    const issues: Issue[] = unknownKeyIssues(options, OPTIONS);
    if (typeof options?.sql !== "function") {
      issues.push({ path: ["sql"], message: "sql must be a postgres.js client or transaction" });
    }
    // As every dedup store checks it: `null` is refused, not read as the default.
    issues.push(...integerOptionIssues(options?.ttlMs, "ttlMs", Number.MAX_SAFE_INTEGER));
    issues.push(...functionIssues(options?.now, "now"));
    if (issues.length > 0) throw new ValidationError("Invalid PostgreSQL dedup store options", issues);
    const table = tableNames(options, OPTIONS).dedup;
    this.#table = table;
    this.#sql = options.sql;
    this.#attempts = attemptsOn(options.sql);
    this.#ttlMs = options.ttlMs ?? 14 * 24 * 60 * 60 * 1000;
    this.#now = checkedClock(options.now);
    this.#statements = {
      has: `SELECT 1 FROM ${table} WHERE id = $1 AND expires_at > $2::text::bigint`,
      add: `INSERT INTO ${table} (id, expires_at) VALUES ($1, $2::text::bigint)
  ON CONFLICT (id, tenant_id) DO UPDATE SET expires_at = excluded.expires_at`,
      purge: `DELETE FROM ${table} WHERE expires_at <= $1::text::bigint`,
    };
  }

  /** A select of no row from the dedup table (see pingPostgres): for health checks. */
  ping(signal?: AbortSignal): Promise<void> {
    return pingPostgres(this.#sql, this.#table, signal);
  }

  async has(eventId: string): Promise<boolean> {
    checkId(eventId);
    // A read, and `add` an upsert of the same expiry: both safe to run again on another connection
    // when theirs turns out lost (as a pooled connection the server ended does, at its next statement).
    const rows = await guardReconnecting("hasDedupId", this.#attempts, () =>
      this.#sql.unsafe(this.#statements.has, [eventId, String(this.#now())], { prepare: true }),
    );
    return rows.length > 0;
  }

  async add(eventId: string): Promise<void> {
    checkId(eventId);
    const expires = String(this.#now() + this.#ttlMs);
    await guardReconnecting("addDedupId", this.#attempts, () =>
      this.#sql.unsafe(this.#statements.add, [eventId, expires], { prepare: true }),
    );
  }

  /**
   * Deletes the expired rows; returns how many. Run it now and then (a cron, a scheduled Lambda).
   * Not run again on a lost connection (as the idempotency store's purge): a repeat would report what
   * the first run may have deleted as none.
   */
  async purgeExpired(): Promise<number> {
    const rows = await guard("purgeDedupIds", () =>
      this.#sql.unsafe(this.#statements.purge, [String(this.#now())], { prepare: true }),
    );
    return rows.count;
  }
}

/** The checks every DedupStore makes, plus what PostgreSQL text cannot hold. */
function checkId(eventId: unknown): void {
  const shared = dedupIdIssues(eventId);
  const issues: Issue[] = shared.length > 0 ? shared : textIssues(eventId as string, ["eventId"]);
  if (issues.length > 0) throw new ValidationError("Invalid event id for deduplication", issues);
}
