import {
  checkDedupId,
  checkedClock,
  type DedupStore,
  functionIssues,
  type Issue,
  integerOptionIssues,
  ServiceError,
  ValidationError,
} from "../../src/index.js";
import { driverIssues, type SqliteDriver } from "./driver.js";
import { storedInteger } from "./encode.js";
import { guard, SERVICE } from "./errors.js";
import { NAME_OPTIONS, nameIssues, type SqliteNameOptions, tableNames } from "./names.js";
import { pingSqlite } from "./ping.js";

export interface SqliteDedupStoreOptions extends SqliteNameOptions {
  /** The database (the event store's `driver`, say). */
  readonly driver: SqliteDriver;
  /** How long a handled event id is remembered. Defaults to 14 days, SQS's longest retention. */
  readonly ttlMs?: number;
  /** The clock, in ms since the epoch. Use one clock for all instances' stores (the default: each host's). */
  readonly now?: () => number;
}

const OPTIONS = Object.keys({ ...NAME_OPTIONS, driver: true, ttlMs: true, now: true } satisfies Record<
  keyof SqliteDedupStoreOptions,
  true
>);

/**
 * A consumer's dedup store on SQLite (a file for a machine's processes, D1 for Workers): the `dedup`
 * table of migration 11, one row per handled event id with its expiry. `add` upserts (repeating it
 * restarts the TTL); `has` ignores expired rows, which {@link SqliteDedupStore.purgeExpired} deletes
 * when you schedule it.
 */
export class SqliteDedupStore implements DedupStore {
  readonly #driver: SqliteDriver;
  /** The store's own table, which `ping` selects from. */
  readonly #table: string;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #statements: { readonly has: string; readonly add: string; readonly purge: string };

  /** @throws {ValidationError} a missing driver, an unknown option, a bad table prefix, TTL or clock. */
  constructor(options: SqliteDedupStoreOptions) {
    const issues = optionIssues(options);
    if (issues.length > 0) throw new ValidationError("Invalid SQLite dedup store options", issues);
    this.#driver = options.driver;
    this.#ttlMs = options.ttlMs ?? 14 * 24 * 60 * 60 * 1000;
    // Whole milliseconds, as the INTEGER column holds them; a reading that is no time is a ValidationError.
    this.#now = checkedClock(options.now);
    const table = tableNames(options, OPTIONS).dedup;
    this.#table = table;
    this.#statements = {
      // The expiry is compared here, not in SQL: text another tool wrote sorts above every number there.
      has: `SELECT expires_at FROM ${table} WHERE id = ?`,
      add: `INSERT INTO ${table} (id, expires_at) VALUES (?, ?)
ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at`,
      purge: `DELETE FROM ${table} WHERE expires_at <= ?`,
    };
  }

  /** A select of no row from the store's table through the driver (see pingSqlite): for health checks. */
  ping(): Promise<void> {
    return pingSqlite(this.#driver, this.#table);
  }

  /** @throws {ServiceError} `DEDUP_CORRUPT`: the id's stored expiry is no time (a row another tool wrote). */
  async has(eventId: string): Promise<boolean> {
    checkDedupId(eventId);
    const now = this.#now();
    const [row] = await guard("hasDedupId", this.#driver.name, () => this.#driver.all(this.#statements.has, [eventId]));
    if (row === undefined) return false;
    const expires = storedInteger(row.expires_at);
    if (!Number.isSafeInteger(expires)) {
      throw new ServiceError(
        SERVICE,
        "hasDedupId",
        "DEDUP_CORRUPT",
        false,
        "a stored expiry is not a time (a row another tool wrote): repair or delete it",
      );
    }
    return expires > now;
  }

  async add(eventId: string): Promise<void> {
    checkDedupId(eventId);
    const expires = this.#now() + this.#ttlMs;
    await guard("addDedupId", this.#driver.name, () => this.#driver.all(this.#statements.add, [eventId, expires]));
  }

  /** Deletes the expired rows; returns how many. Run it now and then (a Cron Trigger, a scheduled job). */
  async purgeExpired(): Promise<number> {
    const now = this.#now();
    const [, [count] = []] = await guard("purgeDedupIds", this.#driver.name, () =>
      this.#driver.batch([
        { sql: this.#statements.purge, params: [now] },
        { sql: "SELECT changes() AS n", params: [] },
      ]),
    );
    return Number(count?.n ?? 0);
  }
}

function optionIssues(options: SqliteDedupStoreOptions): Issue[] {
  if (typeof options !== "object" || options === null) return [{ path: [], message: "options are required" }];
  const issues = [...driverIssues(options.driver), ...nameIssues(options, OPTIONS)];
  // As every dedup store checks it: `null` is refused, not read as the default.
  issues.push(...integerOptionIssues(options.ttlMs, "ttlMs", Number.MAX_SAFE_INTEGER));
  issues.push(...functionIssues(options.now, "now"));
  return issues;
}
