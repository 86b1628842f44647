import {
  checkedClock,
  checkIdempotencyClaimedInput,
  checkIdempotencyInput,
  functionIssues,
  type IdempotencyClaim,
  IdempotencyClaimLostError,
  type IdempotencyStore,
  type Issue,
  ServiceError,
  type StoredResponse,
  ulid,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import { attemptsOn, type PostgresQueryable } from "./client.js";
import { guard, guardReconnecting, SERVICE } from "./errors.js";
import { NAME_OPTIONS, type PostgresNameOptions, tableNames } from "./names.js";
import { pingPostgres } from "./ping.js";

/** A claim that lost the insert re-reads; the row may vanish between (released, expired) a few times at most. */
const CLAIM_ATTEMPTS = 5;

export interface PostgresIdempotencyStoreOptions extends PostgresNameOptions {
  readonly sql: PostgresQueryable;
  /** How long a completed response is replayed. Defaults to 24 hours. */
  readonly ttlMs?: number;
  /** How long an unfinished claim blocks its key (a crashed request never completes). Defaults to 60 seconds. */
  readonly inProgressTtlMs?: number;
  /** The clock, in ms since the epoch. */
  readonly now?: () => number;
}

type Row = [
  fingerprint: string,
  status: number | null,
  body: string | null,
  contentType: string | null,
  token: string | null,
];

const OPTIONS = Object.keys({
  ...NAME_OPTIONS,
  sql: true,
  ttlMs: true,
  inProgressTtlMs: true,
  now: true,
} satisfies Record<keyof PostgresIdempotencyStoreOptions, true>);

/**
 * The Hono routes' idempotency store for many instances: the `idempotency_keys` table of
 * migration 4 (with migration 11's `token`). A claim is `INSERT … ON CONFLICT DO UPDATE … WHERE
 * expired`, so of concurrent claims exactly one inserts (or takes over an expired row) and the others
 * read the winner's row. `complete` writes only over the row of its own claim (its token), an expired
 * row or none, and `release` deletes only its own claim's row.
 */
export class PostgresIdempotencyStore implements IdempotencyStore {
  readonly #sql: PostgresQueryable;
  /** The store's own table, which `ping` selects from. */
  readonly #table: string;
  readonly #ttlMs: number;
  readonly #inProgressTtlMs: number;
  readonly #now: () => number;
  /** Runs of a statement while its connection turns out lost (see guardReconnecting). */
  readonly #attempts: number;
  readonly #statements: Record<"claim" | "read" | "complete" | "release" | "purge", string>;

  /** @throws {ValidationError} a missing client, bad names, TTLs or clock. */
  constructor(options: PostgresIdempotencyStoreOptions) {
    // A misspelt `inProgressTtl` left a crashed claim blocking its key for the default minute.
    const issues: Issue[] = unknownKeyIssues(options, OPTIONS);
    if (typeof options?.sql !== "function") {
      issues.push({ path: ["sql"], message: "sql must be a postgres.js client or transaction" });
    }
    this.#ttlMs = positiveInteger(options?.ttlMs, 24 * 60 * 60 * 1000, "ttlMs", issues);
    this.#inProgressTtlMs = positiveInteger(options?.inProgressTtlMs, 60_000, "inProgressTtlMs", issues);
    issues.push(...functionIssues(options?.now, "now"));
    if (issues.length > 0) throw new ValidationError("Invalid PostgreSQL idempotency store options", issues);
    const table = tableNames(options, OPTIONS).idempotencyKeys;
    this.#table = table;
    this.#sql = options.sql;
    this.#attempts = attemptsOn(options.sql);
    this.#now = checkedClock(options.now);
    this.#statements = {
      // ON CONFLICT DO UPDATE locks the row and checks the WHERE against its latest version, so two
      // claims of one expired key cannot both take it over.
      claim: `INSERT INTO ${table} AS k (key, fingerprint, expires_at, token) VALUES ($1, $2, $3::text::bigint, $5)
  ON CONFLICT (key, tenant_id) DO UPDATE
  SET fingerprint = excluded.fingerprint, expires_at = excluded.expires_at, token = excluded.token,
    status = NULL, body = NULL, content_type = NULL
  WHERE k.expires_at <= $4::text::bigint
  RETURNING 1`,
      read: `SELECT fingerprint, status, body, content_type, token FROM ${table} WHERE key = $1 AND expires_at > $2::text::bigint`,
      // Over the claim's own row (its token and fingerprint), an expired row, or none (purged): never
      // over the live claim or response of a request that took the key over after this claim expired.
      complete: `INSERT INTO ${table} AS k (key, fingerprint, expires_at, status, body, content_type, token)
  VALUES ($1, $2, $3::text::bigint, $4::text::smallint, $5, $6, $7)
  ON CONFLICT (key, tenant_id) DO UPDATE SET fingerprint = excluded.fingerprint, expires_at = excluded.expires_at,
    status = excluded.status, body = excluded.body, content_type = excluded.content_type, token = excluded.token
  WHERE (k.token = excluded.token AND k.fingerprint = excluded.fingerprint) OR k.expires_at <= $8::text::bigint
  RETURNING 1`,
      release: `DELETE FROM ${table} WHERE key = $1 AND fingerprint = $2 AND token = $3 AND status IS NULL`,
      purge: `DELETE FROM ${table} WHERE expires_at <= $1::text::bigint`,
    };
  }

  /** A select of no row from the idempotency keys table (see pingPostgres): for health checks. */
  ping(signal?: AbortSignal): Promise<void> {
    return pingPostgres(this.#sql, this.#table, signal);
  }

  async claim(key: string, fingerprint: string): Promise<IdempotencyClaim> {
    checkIdempotencyInput(key, fingerprint);
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const now = this.#now();
      const token = ulid();
      // Every statement here may run again on another connection when its own is lost: a claim whose
      // row was written before the loss then reads its own token back (below).
      const claimed = await guardReconnecting("claimIdempotencyKey", this.#attempts, () =>
        this.#sql.unsafe(
          this.#statements.claim,
          [key, fingerprint, String(now + this.#inProgressTtlMs), String(now), token],
          { prepare: true },
        ),
      );
      if (claimed.length > 0) return { state: "claimed", token };
      const rows = (await guardReconnecting("readIdempotencyKey", this.#attempts, () =>
        this.#sql.unsafe(this.#statements.read, [key, String(this.#now())], { prepare: true }).values(),
      )) as unknown as Row[];
      const row = rows[0];
      if (row === undefined) continue;
      const [stored, status, body, contentType, holder] = row;
      if (status === null && holder === token) return { state: "claimed", token };
      if (status === null) return { state: "in-progress", fingerprint: stored };
      // The smallint takes what is no final HTTP status (another tool wrote it): replayed, `new Response` threw.
      if (!(status >= 200 && status <= 599)) {
        throw new ServiceError(
          SERVICE,
          "claimIdempotencyKey",
          "IDEMPOTENCY_CORRUPT",
          false,
          "a stored response has no HTTP status",
        );
      }
      return {
        state: "completed",
        fingerprint: stored,
        response: { status: Number(status), body: body ?? "", contentType: contentType ?? "" },
      };
    }
    throw new ServiceError(
      SERVICE,
      "claimIdempotencyKey",
      "IdempotencyClaimContended",
      true,
      `key ${key} was claimed and freed ${CLAIM_ATTEMPTS} times while this claim ran`,
    );
  }

  /** @throws {IdempotencyClaimLostError} another request claimed the key after this claim expired. */
  async complete(key: string, fingerprint: string, response: StoredResponse, token: string): Promise<void> {
    checkIdempotencyClaimedInput(key, fingerprint, token, response);
    const now = this.#now();
    // Safe to run again: over its own claim's row, a repeat writes the same.
    const stored = await guardReconnecting("completeIdempotencyKey", this.#attempts, () =>
      this.#sql.unsafe(
        this.#statements.complete,
        [
          key,
          fingerprint,
          String(now + this.#ttlMs),
          String(response.status),
          response.body,
          response.contentType,
          token,
          String(now),
        ],
        { prepare: true },
      ),
    );
    if (stored.length === 0) throw new IdempotencyClaimLostError();
  }

  async release(key: string, fingerprint: string, token: string): Promise<void> {
    checkIdempotencyClaimedInput(key, fingerprint, token);
    await guardReconnecting("releaseIdempotencyKey", this.#attempts, () =>
      this.#sql.unsafe(this.#statements.release, [key, fingerprint, token], { prepare: true }),
    );
  }

  /** Deletes the expired rows; returns how many. Run it now and then (a cron, a scheduled Lambda). */
  async purgeExpired(): Promise<number> {
    const rows = await guard("purgeIdempotencyKeys", () =>
      this.#sql.unsafe(this.#statements.purge, [String(this.#now())], { prepare: true }),
    );
    return rows.count;
  }
}

function positiveInteger(value: number | undefined, fallback: number, name: string, issues: Issue[]): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) issues.push({ path: [name], message: "must be a positive integer" });
  return value;
}
