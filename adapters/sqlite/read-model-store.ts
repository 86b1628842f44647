import {
  type CheckpointStore,
  checkpointConflict,
  PayloadTooLargeError,
  type ReadModelDocument,
  type ReadModelDrop,
  ReadModelStore,
  type ReadModelStoreCapabilities,
  type ReadModelSwap,
  type ReadModelTransaction,
  ReadModelTransactionTooLargeError,
  ServiceError,
  StagedCheckpointStore,
  utf8Length,
  ValidationError,
} from "../../src/index.js";
import { SqliteCheckpointStore } from "./checkpoint-store.js";
import { driverIssues, type SqliteDriver, type SqliteStatement } from "./driver.js";
import { SQLITE_MAX_VALUE_BYTES, storedJsonText, textIssues } from "./encode.js";
import { guard, SERVICE } from "./errors.js";
import { NAME_OPTIONS, nameIssues, type SqliteNameOptions, tableNames } from "./names.js";

export interface SqliteReadModelStoreOptions extends SqliteNameOptions {
  /** The database (the event store's `driver`, say). */
  readonly driver: SqliteDriver;
}

const OPTIONS = Object.keys({ ...NAME_OPTIONS, driver: true } satisfies Record<
  keyof SqliteReadModelStoreOptions,
  true
>);

/**
 * Read models as JSON text in the event store's database (the `read_models` table of migration 4),
 * with the projections' checkpoints beside them. A transaction stages its writes (its reads see
 * them) and commits them with the checkpoints as one `driver.batch`, which every driver runs as one
 * transaction (D1's `batch` included); a checkpoint whose compare-and-set fails makes its statement
 * fail, and the whole batch with it. A transaction of more statements than the driver's
 * `maxBatchStatements` is refused with `ReadModelTransactionTooLargeError`, nothing sent.
 */
export class SqliteReadModelStore extends ReadModelStore {
  readonly capabilities: ReadModelStoreCapabilities = { atomicCheckpoints: true, rebuilds: true };
  readonly checkpoints: CheckpointStore;
  readonly #driver: SqliteDriver;
  readonly #table: string;
  readonly #checkpointTable: string;
  /** The driver's cap on one value, which caps a row too (2 MB on D1 and Durable Objects). */
  readonly #maxValueBytes: number;

  constructor(options: SqliteReadModelStoreOptions) {
    super();
    const issues =
      typeof options === "object" && options !== null
        ? [...driverIssues(options.driver), ...nameIssues(options, OPTIONS)]
        : [{ path: [], message: "options are required" }];
    if (issues.length > 0) throw new ValidationError("Invalid read-model store options", issues);
    this.#driver = options.driver;
    const names = tableNames(options, OPTIONS);
    this.#table = names.readModels;
    this.#checkpointTable = names.checkpoints;
    this.#maxValueBytes = options.driver.maxValueBytes ?? SQLITE_MAX_VALUE_BYTES;
    this.checkpoints = new SqliteCheckpointStore(options);
  }

  protected readDocument(collection: string, id: string): Promise<unknown> {
    assertStorable(collection, id);
    return guard("getReadModel", this.#driver.name, async () => {
      const [row] = await this.#driver.all(
        `SELECT document AS document FROM ${this.#table} WHERE collection = ? AND id = ?`,
        [collection, id],
      );
      return row === undefined ? undefined : storedDocument(row.document, "getReadModel");
    });
  }

  protected async writeDocument(collection: string, id: string, document: unknown): Promise<void> {
    const statement = this.#put(collection, id, JSON.stringify(document));
    await guard("putReadModel", this.#driver.name, () => this.#driver.all(statement.sql, statement.params));
  }

  /** @throws {PayloadTooLargeError} the row (its keys and document) over the driver's `maxValueBytes`. */
  protected override async checkDocument(collection: string, id: string, document: unknown): Promise<void> {
    assertStorable(collection, id);
    this.#assertFits(collection, id, JSON.stringify(document));
  }

  protected async deleteDocument(collection: string, id: string): Promise<void> {
    const statement = this.#delete(collection, id);
    await guard("deleteReadModel", this.#driver.name, () => this.#driver.all(statement.sql, statement.params));
  }

  protected listDocuments(collection: string): Promise<ReadModelDocument[]> {
    assertStorable(collection, "-");
    return guard("listReadModels", this.#driver.name, async () => {
      const rows = await this.#driver.all(
        `SELECT id AS id, document AS document FROM ${this.#table} WHERE collection = ? ORDER BY id`,
        [collection],
      );
      return rows.map((row) => ({ id: String(row.id), document: storedDocument(row.document, "listReadModels") }));
    });
  }

  protected async runTransaction<T>(work: (tx: ReadModelTransaction) => Promise<T>): Promise<T> {
    // A put is staged as its row's text, checked against the driver's cap at the put (in the handler),
    // not when the batch fails in the database on every retry.
    const staged = new Map<string, { text: string } | { deleted: true }>();
    const positions = new Map<string, { position: number; expected: number | undefined }>();
    const key = (collection: string, id: string) => JSON.stringify([collection, id]);
    const store = this;
    const tx: ReadModelTransaction = {
      checkpoints: new StagedCheckpointStore(this.checkpoints, positions, "SQLite"),
      async get<D>(collection: string, id: string) {
        const found = staged.get(key(collection, id));
        if (found === undefined) return (await store.readDocument(collection, id)) as D | undefined;
        return "deleted" in found ? undefined : (JSON.parse(found.text) as D);
      },
      async put(collection, id, document) {
        assertStorable(collection, id);
        const text = JSON.stringify(document);
        store.#assertFits(collection, id, text);
        staged.set(key(collection, id), { text });
      },
      async delete(collection, id) {
        assertStorable(collection, id);
        staged.set(key(collection, id), { deleted: true });
      },
    };
    const result = await work(tx);
    const statements: SqliteStatement[] = [];
    // Checkpoints first: a failed compare-and-set stops the batch before any document is written.
    for (const [id, { position, expected }] of positions) statements.push(...this.#checkpoint(id, position, expected));
    for (const [k, change] of staged) {
      const [collection, id] = JSON.parse(k) as [string, string];
      statements.push("deleted" in change ? this.#delete(collection, id) : this.#put(collection, id, change.text));
    }
    if (statements.length === 0) return result;
    // More statements than the driver sends in one batch (D1's maxBatchStatements) cannot commit at
    // once, valid as each is: refused before anything is sent, and a runner commits its batch in halves.
    const max = this.#driver.maxBatchStatements;
    if (max !== undefined && statements.length > max) {
      throw new ReadModelTransactionTooLargeError(`SQLite (${this.#driver.name})`, statements.length, max, "writes");
    }
    try {
      await guard("readModelTransaction", this.#driver.name, () => this.#driver.batch(statements));
    } catch (error) {
      for (const [id, { expected }] of positions) {
        const current = await this.checkpoints.load(id);
        if (expected !== undefined && (current ?? 0) !== expected) {
          throw checkpointConflict(id, expected, current);
        }
      }
      throw error;
    }
    return result;
  }

  /** One `driver.batch`, so one transaction: readers see the generation before or after it. */
  protected override async swapGeneration(swap: ReadModelSwap): Promise<void> {
    const rm = this.#table;
    const cp = this.#checkpointTable;
    const statements: SqliteStatement[] = [];
    for (const { from, to } of swap.checkpoints) {
      statements.push({ sql: `DELETE FROM ${cp} WHERE id = ?`, params: [to] });
      statements.push({ sql: `UPDATE ${cp} SET id = ? WHERE id = ?`, params: [to, from] });
    }
    for (const { from, to } of swap.collections) {
      statements.push({ sql: `DELETE FROM ${rm} WHERE collection = ?`, params: [to] });
      statements.push({ sql: `UPDATE ${rm} SET collection = ? WHERE collection = ?`, params: [to, from] });
    }
    for (const { from, to } of swap.documents) {
      statements.push(this.#delete(to.collection, to.id));
      statements.push({
        sql: `UPDATE ${rm} SET collection = ?, id = ? WHERE collection = ? AND id = ?`,
        params: [to.collection, to.id, from.collection, from.id],
      });
    }
    if (statements.length > 0) await guard("swapReadModels", this.#driver.name, () => this.#driver.batch(statements));
  }

  protected override async dropGeneration(drop: ReadModelDrop): Promise<void> {
    const statements: SqliteStatement[] = [
      ...drop.checkpoints.map((id) => ({ sql: `DELETE FROM ${this.#checkpointTable} WHERE id = ?`, params: [id] })),
      ...drop.collections.map((c) => ({ sql: `DELETE FROM ${this.#table} WHERE collection = ?`, params: [c] })),
      ...drop.documents.map(({ collection, id }) => this.#delete(collection, id)),
    ];
    if (statements.length > 0) await guard("dropReadModels", this.#driver.name, () => this.#driver.batch(statements));
  }

  #put(collection: string, id: string, text: string): SqliteStatement {
    assertStorable(collection, id);
    this.#assertFits(collection, id, text);
    return {
      sql: `INSERT INTO ${this.#table} (collection, id, document, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (collection, id) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at`,
      params: [collection, id, text, new Date().toISOString()],
    };
  }

  /** @throws {PayloadTooLargeError} the row (its keys and document) over the driver's `maxValueBytes`. */
  #assertFits(collection: string, id: string, text: string): void {
    const units = collection.length + id.length + text.length;
    // A code unit is at most three UTF-8 bytes: most documents need no counting.
    if (units * 3 <= this.#maxValueBytes) return;
    const bytes = utf8Length(collection) + utf8Length(id) + utf8Length(text);
    if (bytes > this.#maxValueBytes) {
      throw new PayloadTooLargeError(`The read-model document "${collection}" "${id}"`, bytes, this.#maxValueBytes);
    }
  }

  #delete(collection: string, id: string): SqliteStatement {
    assertStorable(collection, id);
    return { sql: `DELETE FROM ${this.#table} WHERE collection = ? AND id = ?`, params: [collection, id] };
  }

  /**
   * A checkpoint write for a batch. With `expected`, a position that moved (or a checkpoint missing
   * when one was expected) becomes -1, which the table's CHECK (position >= 0) refuses: the statement
   * fails, so the batch does.
   */
  #checkpoint(id: string, position: number, expected: number | undefined): SqliteStatement[] {
    const now = new Date().toISOString();
    const table = this.#checkpointTable;
    const upsert = `INSERT INTO ${table} (id, position, updated_at) VALUES (?, ?, ?)
ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at, position = `;
    if (expected === undefined) return [{ sql: `${upsert}excluded.position`, params: [id, position, now] }];
    if (expected === 0) {
      return [
        {
          sql: `${upsert}CASE WHEN position = 0 THEN excluded.position ELSE -1 END`,
          params: [id, position, now],
        },
      ];
    }
    return [
      {
        sql: `INSERT INTO ${table} (id, position, updated_at) SELECT ?, -1, ? WHERE NOT EXISTS (SELECT 1 FROM ${table} WHERE id = ?)`,
        params: [id, now, id],
      },
      {
        sql: `UPDATE ${table} SET position = CASE WHEN position = ? THEN ? ELSE -1 END, updated_at = ? WHERE id = ?`,
        params: [expected, position, now, id],
      },
    ];
  }
}

/**
 * A stored document's JSON text, parsed. Text that is not JSON (another tool wrote the row) is a
 * ServiceError `DOCUMENT_CORRUPT` saying so, not the catch-all "the statement failed"; neither the
 * text nor the parser's message (which quotes it) reaches the error.
 */
function storedDocument(text: unknown, operation: string): unknown {
  try {
    return storedJsonText(text);
  } catch {
    throw new ServiceError(
      SERVICE,
      operation,
      "DOCUMENT_CORRUPT",
      false,
      "a stored read-model document is not JSON (a row another tool wrote): repair or delete it, or rebuild the projection",
    );
  }
}

function assertStorable(collection: string, id: string): void {
  const issues = [...textIssues(collection, ["collection"]), ...textIssues(id, ["id"])];
  if (issues.length > 0) throw new ValidationError("Invalid read-model key", issues);
}
