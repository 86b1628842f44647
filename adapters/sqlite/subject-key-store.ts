import {
  type Issue,
  masterKeyIssues,
  newSubjectKey,
  PersonalDataError,
  SUBJECT_KEY_STORE_OPTIONS,
  type SubjectKeyLookup,
  SubjectKeyStore,
  type SubjectKeyStoreOptions,
  unwrapSubjectKey,
  ValidationError,
  type WebCryptoKey,
  wrapSubjectKey,
} from "../../src/index.js";
import { driverIssues, type SqliteDriver, type SqliteRow } from "./driver.js";
import { storedBytes } from "./encode.js";
import { guard } from "./errors.js";
import { NAME_OPTIONS, nameIssues, type SqliteNameOptions, tableNames } from "./names.js";
import { pingSqlite } from "./ping.js";

export interface SqliteSubjectKeyStoreOptions extends SqliteNameOptions, SubjectKeyStoreOptions {
  /** The database (the event store's `driver`, say). */
  readonly driver: SqliteDriver;
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
  driver: true,
  masterKey: true,
} satisfies Record<keyof SqliteSubjectKeyStoreOptions, true>);

/**
 * Subject keys in the `subject_keys` table of migration 10: one row per data subject, its key
 * wrapped by the master key with the subject id authenticated. `delete` nulls the key and keeps the
 * row as a tombstone (`erased_at`), so the subject is never given a key again. Creating is one batch
 * (an insert that keeps an existing row, then the read of the row): of concurrent creators, in this
 * process or others on the same database, all get the first one's key.
 */
export class SqliteSubjectKeyStore extends SubjectKeyStore {
  readonly #driver: SqliteDriver;
  /** The store's own table, which `ping` selects from. */
  readonly #table: string;
  readonly #masterKey: WebCryptoKey;
  readonly #statements: { readonly read: string; readonly insert: string; readonly erase: string };

  /** @throws {ValidationError} a missing driver or master key, an unknown option, a bad table prefix or cache option. */
  constructor(options: SqliteSubjectKeyStoreOptions) {
    super(options);
    const issues: Issue[] =
      typeof options === "object" && options !== null
        ? [...driverIssues(options.driver), ...nameIssues(options, OPTIONS), ...masterKeyIssues(options.masterKey)]
        : [{ path: [], message: "options are required" }];
    if (issues.length > 0) throw new ValidationError("Invalid SQLite subject key store options", issues);
    const table = tableNames(options, OPTIONS).subjectKeys;
    this.#table = table;
    this.#driver = options.driver;
    this.#masterKey = options.masterKey;
    this.#statements = {
      read: `SELECT wrapped_key FROM ${table} WHERE subject_id = ?`,
      insert: `INSERT INTO ${table} (subject_id, wrapped_key, created_at) VALUES (?, ?, ?) ON CONFLICT (subject_id) DO NOTHING`,
      // Erasing again keeps the first erasure's time.
      erase: `INSERT INTO ${table} (subject_id, wrapped_key, created_at, erased_at) VALUES (?, NULL, ?, ?)
ON CONFLICT (subject_id) DO UPDATE SET wrapped_key = NULL, erased_at = coalesce(erased_at, excluded.erased_at)`,
    };
  }

  /** A select of no row from the store's table through the driver (see pingSqlite): for health checks. */
  ping(): Promise<void> {
    return pingSqlite(this.#driver, this.#table);
  }

  protected async readKey(subjectId: string): Promise<SubjectKeyLookup> {
    const [row] = await guard("readSubjectKey", this.#driver.name, () =>
      this.#driver.all(this.#statements.read, [subjectId]),
    );
    return this.#lookup(subjectId, row);
  }

  protected async insertKey(subjectId: string): Promise<SubjectKeyLookup> {
    const { raw } = await newSubjectKey();
    const wrapped = await wrapSubjectKey(this.#masterKey, subjectId, raw);
    raw.fill(0);
    // Inserted unless a row exists (another writer's key, or a tombstone); then the row decides.
    const [, rows] = await guard("createSubjectKey", this.#driver.name, () =>
      this.#driver.batch([
        { sql: this.#statements.insert, params: [subjectId, wrapped, new Date().toISOString()] },
        { sql: this.#statements.read, params: [subjectId] },
      ]),
    );
    return this.#lookup(subjectId, rows?.[0]);
  }

  protected async eraseKey(subjectId: string): Promise<void> {
    const now = new Date().toISOString();
    await guard("eraseSubjectKey", this.#driver.name, () =>
      this.#driver.all(this.#statements.erase, [subjectId, now, now]),
    );
  }

  async #lookup(subjectId: string, row: SqliteRow | undefined): Promise<SubjectKeyLookup> {
    if (row === undefined) return { status: "unknown" };
    if (row.wrapped_key === null) return { status: "erased" };
    const wrapped = storedBytes(row.wrapped_key);
    // This store writes a BLOB or a tombstone: text or a number (another tool wrote it) is a key that does not unwrap.
    if (wrapped === undefined) throw new PersonalDataError("key-unwrap", subjectId, undefined);
    return { status: "active", key: await unwrapSubjectKey(this.#masterKey, subjectId, wrapped) };
  }
}
