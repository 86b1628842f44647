import {
  type Issue,
  masterKeyIssues,
  newSubjectKey,
  SUBJECT_KEY_STORE_OPTIONS,
  type SubjectKeyLookup,
  SubjectKeyStore,
  type SubjectKeyStoreOptions,
  unknownKeyIssues,
  unwrapSubjectKey,
  ValidationError,
  type WebCryptoKey,
  wrapSubjectKey,
} from "../../src/index.js";
import { attemptsOn, type PostgresQueryable } from "./client.js";
import { guardReconnecting } from "./errors.js";
import { NAME_OPTIONS, type PostgresNameOptions, tableNames } from "./names.js";
import { pingPostgres } from "./ping.js";

export interface PostgresSubjectKeyStoreOptions extends PostgresNameOptions, SubjectKeyStoreOptions {
  readonly sql: PostgresQueryable;
  /**
   * The application's AES-GCM key (from a KMS, a secret binding, `crypto.subtle.importKey`) under
   * which every subject key is stored: the table never holds a key in plaintext. Losing it loses
   * every subject's personal data.
   */
  readonly masterKey: WebCryptoKey;
}

const OPTIONS = Object.keys({
  ...SUBJECT_KEY_STORE_OPTIONS,
  ...NAME_OPTIONS,
  sql: true,
  masterKey: true,
} satisfies Record<keyof PostgresSubjectKeyStoreOptions, true>);

/**
 * Subject keys in the `subject_keys` table of migration 8: one row per data subject, its key
 * wrapped by the master key with the subject id authenticated. `delete` nulls the key and keeps the
 * row as a tombstone (`erased_at`), so the subject is never given a key again.
 */
export class PostgresSubjectKeyStore extends SubjectKeyStore {
  readonly #sql: PostgresQueryable;
  /** The store's own table, which `ping` selects from. */
  readonly #table: string;
  readonly #masterKey: WebCryptoKey;
  readonly #statements: { readonly read: string; readonly insert: string; readonly erase: string };
  /** Runs of each statement while its connection turns out lost (see attemptsOn). */
  readonly #attempts: number;

  /** @throws {ValidationError} a missing client or master key, bad names or cache options. */
  constructor(options: PostgresSubjectKeyStoreOptions) {
    super(options);
    // A misspelt `schmea` kept the subjects' keys (and their erasure) in the default schema.
    const issues: Issue[] = unknownKeyIssues(options, OPTIONS);
    if (typeof options?.sql !== "function") {
      issues.push({ path: ["sql"], message: "sql must be a postgres.js client or transaction" });
    }
    issues.push(...masterKeyIssues(options?.masterKey));
    if (issues.length > 0) throw new ValidationError("Invalid PostgreSQL subject key store options", issues);
    const table = tableNames(options, OPTIONS).subjectKeys;
    this.#table = table;
    this.#sql = options.sql;
    this.#masterKey = options.masterKey;
    this.#attempts = attemptsOn(options.sql);
    // Keys travel as base64 text: no driver-specific binary handling on any runtime.
    this.#statements = {
      read: `SELECT encode(wrapped_key, 'base64') AS wrapped FROM ${table} WHERE subject_id = $1`,
      insert: `INSERT INTO ${table} (subject_id, wrapped_key) VALUES ($1, decode($2, 'base64'))
  ON CONFLICT (subject_id, tenant_id) DO NOTHING`,
      erase: `INSERT INTO ${table} (subject_id, wrapped_key, erased_at) VALUES ($1, NULL, now())
  ON CONFLICT (subject_id, tenant_id) DO UPDATE SET wrapped_key = NULL, erased_at = coalesce(${table}.erased_at, now())`,
    };
  }

  /** A select of no row from the subject keys table (see pingPostgres): for health checks. */
  ping(signal?: AbortSignal): Promise<void> {
    return pingPostgres(this.#sql, this.#table, signal);
  }

  protected async readKey(subjectId: string): Promise<SubjectKeyLookup> {
    // All three statements are safe to repeat (a read; an insert that keeps an existing row; an erasure
    // that keeps the first erased_at), so a connection the server ended under one (a restart, a proxy
    // closing idle connections) costs a run on another, as for the event store's appends and reads.
    const rows = await guardReconnecting("readSubjectKey", this.#attempts, () =>
      this.#sql.unsafe(this.#statements.read, [subjectId], { prepare: true }),
    );
    const row = rows[0] as unknown as { wrapped: string | null } | undefined;
    if (row === undefined) return { status: "unknown" };
    if (row.wrapped === null) return { status: "erased" };
    return { status: "active", key: await unwrapSubjectKey(this.#masterKey, subjectId, fromBase64(row.wrapped)) };
  }

  protected async insertKey(subjectId: string): Promise<SubjectKeyLookup> {
    const { raw } = await newSubjectKey();
    const wrapped = await wrapSubjectKey(this.#masterKey, subjectId, raw);
    raw.fill(0);
    // Inserted unless a row exists (another writer's key, or a tombstone); then the row decides.
    await guardReconnecting("createSubjectKey", this.#attempts, () =>
      this.#sql.unsafe(this.#statements.insert, [subjectId, toBase64(wrapped)], { prepare: true }),
    );
    return this.readKey(subjectId);
  }

  protected async eraseKey(subjectId: string): Promise<void> {
    await guardReconnecting("eraseSubjectKey", this.#attempts, () =>
      this.#sql.unsafe(this.#statements.erase, [subjectId], { prepare: true }),
    );
  }
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  // PostgreSQL's encode() breaks base64 lines every 76 characters.
  const binary = atob(text.replace(/\s/g, ""));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
