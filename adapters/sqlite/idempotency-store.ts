import {
  checkedClock,
  checkIdempotencyClaimedInput,
  checkIdempotencyInput,
  functionIssues,
  type IdempotencyClaim,
  IdempotencyClaimLostError,
  type IdempotencyStore,
  type Issue,
  PayloadTooLargeError,
  ServiceError,
  type StoredResponse,
  ulid,
  utf8Length,
  ValidationError,
} from "../../src/index.js";
import { driverIssues, type SqliteDriver, type SqliteRow } from "./driver.js";
import { storedInteger } from "./encode.js";
import { guard, SERVICE } from "./errors.js";
import { NAME_OPTIONS, nameIssues, type SqliteNameOptions, tableNames } from "./names.js";
import { pingSqlite } from "./ping.js";

export interface SqliteIdempotencyStoreOptions extends SqliteNameOptions {
  /** The database (the event store's `driver`, say). */
  readonly driver: SqliteDriver;
  /** How long a completed response is replayed. Defaults to 24 hours. */
  readonly ttlMs?: number;
  /** How long an unfinished claim blocks its key (a crashed request never completes). Defaults to 60 seconds. */
  readonly inProgressTtlMs?: number;
  /** The clock, in ms since the epoch. */
  readonly now?: () => number;
}

const OPTIONS = Object.keys({
  ...NAME_OPTIONS,
  driver: true,
  ttlMs: true,
  inProgressTtlMs: true,
  now: true,
} satisfies Record<keyof SqliteIdempotencyStoreOptions, true>);

/**
 * The HTTP routes' idempotency store on SQLite (D1 for a Worker's isolates, a file for a server's
 * processes): the `idempotency_keys` table of migration 9. A claim is one batch, so one transaction:
 * `INSERT … ON CONFLICT DO UPDATE … WHERE expired`, then a read of the key. SQLite runs writers one
 * at a time, so of concurrent claims exactly one inserts (or takes over an expired row) and the
 * others read the winner's row in the same transaction, with nothing to retry. `complete` writes only
 * over its own claim's row (token and fingerprint), an expired row or none; `release` deletes only
 * its own claim's row.
 */
export class SqliteIdempotencyStore implements IdempotencyStore {
  readonly #driver: SqliteDriver;
  /** The store's own table, which `ping` selects from. */
  readonly #table: string;
  readonly #ttlMs: number;
  readonly #inProgressTtlMs: number;
  readonly #now: () => number;
  readonly #statements: Record<"claim" | "read" | "complete" | "release" | "purge", string>;

  /** @throws {ValidationError} a missing driver, an unknown option, a bad table prefix, TTL or clock. */
  constructor(options: SqliteIdempotencyStoreOptions) {
    const issues = optionIssues(options);
    if (issues.length > 0) throw new ValidationError("Invalid SQLite idempotency store options", issues);
    this.#driver = options.driver;
    this.#ttlMs = options.ttlMs ?? 24 * 60 * 60 * 1000;
    this.#inProgressTtlMs = options.inProgressTtlMs ?? 60_000;
    // Whole milliseconds, as the INTEGER column holds them; a reading that is no time is a ValidationError.
    this.#now = checkedClock(options.now);
    const table = tableNames(options, OPTIONS).idempotencyKeys;
    this.#table = table;
    this.#statements = {
      // Unqualified columns in DO UPDATE's WHERE are the stored row's: taken over only once expired.
      claim: `INSERT INTO ${table} (key, fingerprint, token, expires_at) VALUES (?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, token = excluded.token,
  expires_at = excluded.expires_at, status = NULL, body = NULL, content_type = NULL
WHERE expires_at <= ? RETURNING 1 AS claimed`,
      read: `SELECT fingerprint, status, body, content_type, expires_at FROM ${table} WHERE key = ? AND expires_at > ?`,
      // Over the claim's own row, an expired row, or none (purged): never over the live claim or
      // response of a request that took the key over after this claim expired.
      complete: `INSERT INTO ${table} (key, fingerprint, token, expires_at, status, body, content_type)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, token = excluded.token,
  expires_at = excluded.expires_at, status = excluded.status, body = excluded.body, content_type = excluded.content_type
WHERE (token = excluded.token AND fingerprint = excluded.fingerprint) OR expires_at <= ? RETURNING 1 AS done`,
      release: `DELETE FROM ${table} WHERE key = ? AND fingerprint = ? AND token = ? AND status IS NULL`,
      purge: `DELETE FROM ${table} WHERE expires_at <= ?`,
    };
  }

  /** A select of no row from the store's table through the driver (see pingSqlite): for health checks. */
  ping(): Promise<void> {
    return pingSqlite(this.#driver, this.#table);
  }

  async claim(key: string, fingerprint: string): Promise<IdempotencyClaim> {
    checkIdempotencyInput(key, fingerprint);
    const now = this.#now();
    const token = ulid();
    const [claimed, rows] = await guard("claimIdempotencyKey", this.#driver.name, () =>
      this.#driver.batch([
        { sql: this.#statements.claim, params: [key, fingerprint, token, now + this.#inProgressTtlMs, now] },
        { sql: this.#statements.read, params: [key, now] },
      ]),
    );
    if ((claimed?.length ?? 0) > 0) return { state: "claimed", token };
    const row = rows?.[0];
    // The insert lost to a live row, which the read in the same transaction sees.
    if (row === undefined) throw corrupt("its expiry is not a time");
    return storedClaim(row);
  }

  /**
   * @throws {IdempotencyClaimLostError} another request claimed the key after this claim expired.
   * @throws {PayloadTooLargeError} the record is over the driver's cap on a row (2 MB on D1): nothing is sent.
   */
  async complete(key: string, fingerprint: string, response: StoredResponse, token: string): Promise<void> {
    checkIdempotencyClaimedInput(key, fingerprint, token, response);
    const now = this.#now();
    const cap = this.#driver.maxValueBytes;
    if (cap !== undefined) {
      // Counted before sending, as the event store counts an event: refused typed, and the claim stays.
      const bytes = [key, fingerprint, token, response.body, response.contentType].reduce(
        (sum, text) => sum + utf8Length(text),
        0,
      );
      if (bytes > cap) {
        throw new PayloadTooLargeError(`The response to remember (status ${response.status})`, bytes, cap);
      }
    }
    const { status, body, contentType } = response;
    const stored = await guard("completeIdempotencyKey", this.#driver.name, () =>
      this.#driver.all(this.#statements.complete, [
        key,
        fingerprint,
        token,
        now + this.#ttlMs,
        status,
        body,
        contentType,
        now,
      ]),
    );
    if (stored.length === 0) throw new IdempotencyClaimLostError();
  }

  async release(key: string, fingerprint: string, token: string): Promise<void> {
    checkIdempotencyClaimedInput(key, fingerprint, token);
    await guard("releaseIdempotencyKey", this.#driver.name, () =>
      this.#driver.all(this.#statements.release, [key, fingerprint, token]),
    );
  }

  /** Deletes the expired rows; returns how many. Run it now and then (a Cron Trigger, a scheduled job). */
  async purgeExpired(): Promise<number> {
    const now = this.#now();
    const [, [count] = []] = await guard("purgeIdempotencyKeys", this.#driver.name, () =>
      this.#driver.batch([
        { sql: this.#statements.purge, params: [now] },
        { sql: "SELECT changes() AS n", params: [] },
      ]),
    );
    return Number(count?.n ?? 0);
  }
}

/**
 * The live record another claim holds. SQLite's columns keep what another tool wrote (a status of
 * text, a body that is a BLOB): refused as corrupt, rather than replayed as a response `new Response` throws on.
 */
function storedClaim(row: SqliteRow): IdempotencyClaim {
  const { fingerprint, status, body, content_type: contentType } = row;
  // Text sorts above every number in SQL: such a row never expires, and would hold its key for good.
  if (!Number.isSafeInteger(storedInteger(row.expires_at))) throw corrupt("its expiry is not a time");
  if (typeof fingerprint !== "string") throw corrupt("its fingerprint is not text");
  if (status === null) return { state: "in-progress", fingerprint };
  const code = storedInteger(status);
  if (!(Number.isSafeInteger(code) && code >= 200 && code <= 599)) throw corrupt("it has no HTTP status");
  if (typeof body !== "string" || typeof contentType !== "string") throw corrupt("its response is not text");
  return { state: "completed", fingerprint, response: { status: code, body, contentType } };
}

function corrupt(what: string): ServiceError {
  return new ServiceError(
    SERVICE,
    "claimIdempotencyKey",
    "IDEMPOTENCY_CORRUPT",
    false,
    `a stored idempotency record is not one (${what}: a row another tool wrote): repair or delete it`,
  );
}

function optionIssues(options: SqliteIdempotencyStoreOptions): Issue[] {
  if (typeof options !== "object" || options === null) return [{ path: [], message: "options are required" }];
  const issues = [...driverIssues(options.driver), ...nameIssues(options, OPTIONS)];
  for (const name of ["ttlMs", "inProgressTtlMs"] as const) {
    const value = options[name];
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 1)) {
      issues.push({ path: [name], message: "must be a positive integer" });
    }
  }
  issues.push(...functionIssues(options.now, "now"));
  return issues;
}
