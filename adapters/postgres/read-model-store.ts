import {
  assertKnownOptions,
  type CheckpointStore,
  jsonRoundTrip,
  PayloadTooLargeError,
  type ReadModelDocument,
  type ReadModelDrop,
  type ReadModelKey,
  ReadModelStore,
  type ReadModelStoreCapabilities,
  type ReadModelSwap,
  type ReadModelTransaction,
  type ReadModelWriter,
  transactionEndedError,
  utf8Length,
  ValidationError,
} from "../../src/index.js";
import { PostgresCheckpointStore } from "./checkpoint-store.js";
import {
  attemptsOn,
  opensTransactions,
  type PostgresQueryable,
  type PostgresSql,
  type PostgresTransactionSql,
} from "./client.js";
import { MAX_BATCH_BYTES, textIssues } from "./encode.js";
import { guard, guardReconnecting } from "./errors.js";
import { NAME_OPTIONS, type PostgresNameOptions, type TableNames, tableNames } from "./names.js";
import { dropGeneration, swapGeneration } from "./read-model-generations.js";
import { beginUnlessGone, savepointUnlessGone } from "./transaction-scope.js";
import { untilEnded } from "./until-ended.js";

export interface PostgresReadModelStoreOptions extends PostgresNameOptions {
  /** A client, or a transaction to join (then `transaction` nests as a savepoint). */
  readonly sql: PostgresQueryable;
}

const OPTIONS = Object.keys({ ...NAME_OPTIONS, sql: true } satisfies Record<keyof PostgresReadModelStoreOptions, true>);

/**
 * Read models as JSON documents in the event store's database (the `read_models` table of
 * migration 6), with the projections' checkpoints in the same database: a runner's batch writes
 * documents, state and checkpoint in one transaction. Handlers that keep their own SQL tables get
 * the transaction from `postgresSqlOf(context.readModels)`.
 */
export class PostgresReadModelStore extends ReadModelStore {
  // 1,000 events a batch: a batch costs a transaction and a commit (an fsync) however few it holds;
  // measured 2-4x faster catch-up than 100 (bench/projections.bench.ts state, 2026-12-03, commit 22fba22).
  // Catch-up batches double up to 10,000 while they come back full: a 20,000-event catch-up then
  // commits 5 batches instead of 20 (see docs/adapters/postgres.md#projection-catch-up for the figures).
  readonly capabilities: ReadModelStoreCapabilities = {
    atomicCheckpoints: true,
    rebuilds: true,
    defaultBatchSize: 1000,
    maxBatchSize: 10_000,
  };
  readonly checkpoints: CheckpointStore;
  readonly #sql: PostgresQueryable;
  readonly #names: PostgresNameOptions;
  readonly #tables: TableNames;
  readonly #statements: DocumentStatements;

  constructor(options: PostgresReadModelStoreOptions) {
    super();
    // A misspelt `tablePrefx` wrote the documents to the unprefixed tables.
    assertKnownOptions(options, OPTIONS, "read-model store options");
    if (typeof options?.sql !== "function") {
      throw new ValidationError("Invalid read-model store options", [
        { path: ["sql"], message: "sql must be a postgres.js client or transaction" },
      ]);
    }
    this.#sql = options.sql;
    this.#names = { schema: options.schema, tablePrefix: options.tablePrefix };
    this.#tables = tableNames(options, OPTIONS);
    this.#statements = documentStatements(this.#tables);
    this.checkpoints = new PostgresCheckpointStore(options);
  }

  protected readDocument(collection: string, id: string): Promise<unknown> {
    return readDocument(this.#sql, this.#statements, collection, id);
  }

  protected writeDocument(collection: string, id: string, document: unknown): Promise<void> {
    return writeDocument(this.#sql, this.#statements, collection, id, document);
  }

  protected deleteDocument(collection: string, id: string): Promise<void> {
    return deleteDocument(this.#sql, this.#statements, collection, id);
  }

  protected listDocuments(collection: string): Promise<ReadModelDocument[]> {
    assertStorable(collection, "-");
    return guardReconnecting("listReadModels", attemptsOn(this.#sql), async () => {
      const rows = (await this.#sql
        .unsafe(this.#statements.list, [collection], { prepare: true })
        .values()) as unknown as [string, unknown][];
      return rows.map(([id, document]) => ({ id, document }));
    });
  }

  /** In one transaction (see `swapGeneration` for the order that keeps live batches safe). */
  protected override swapGeneration(swap: ReadModelSwap): Promise<void> {
    return this.runTransaction((tx) => swapGeneration((tx as PostgresReadModelTransaction).sql, this.#tables, swap));
  }

  protected override dropGeneration(drop: ReadModelDrop): Promise<void> {
    return this.runTransaction((tx) => dropGeneration((tx as PostgresReadModelTransaction).sql, this.#tables, drop));
  }

  protected async runTransaction<T>(work: (tx: ReadModelTransaction) => Promise<T>): Promise<T> {
    const sql = this.#sql as { begin?: unknown; savepoint?: unknown };
    // A client begins a transaction; a transaction (the store was made on one) nests a savepoint.
    const begins = opensTransactions(sql);
    if (!begins && typeof sql.savepoint !== "function") {
      throw new ValidationError("Invalid read-model store options", [
        { path: ["sql"], message: "transactions need a postgres.js client or transaction, not a reserved connection" },
      ]);
    }
    let written: Promise<void> | undefined;
    const run = async (tx: PostgresTransactionSql) => {
      // `transaction` hands `work` the base class's validating wrapper: every put is JSON data already.
      const models = new PostgresReadModelTransaction(tx, this.#names, this.#statements, true);
      let result: T;
      try {
        result = await work(models);
      } finally {
        // Its statements would run on a connection back in the pool, its writes would be flushed never.
        models.end();
      }
      // Documents are written behind (see PostgresReadModelTransaction): before the commit.
      const flushing = models.flush();
      if (!begins) {
        await flushing;
        return result;
      }
      // In a transaction of our own, the COMMIT goes out right behind the writes instead of a round
      // trip later. A write that fails aborts the transaction, so PostgreSQL answers that COMMIT by
      // rolling back; its error is thrown below, once the transaction is over. (A savepoint is not
      // committed here, so there the writes are awaited.)
      flushing.catch(() => undefined);
      written = flushing;
      return result;
    };
    // What `work` throws (a handler's failure, a checkpoint conflict) passes through guard unchanged.
    return guard("readModelTransaction", async () => {
      let result: T;
      try {
        result = begins
          ? await beginUnlessGone(this.#sql as PostgresSql, undefined, run)
          : await savepointUnlessGone(this.#sql as PostgresTransactionSql, run);
      } catch (error) {
        // postgres.js 4 rejects a COMMIT that the server answered by rolling back: the write that
        // aborted the transaction says why (3.x resolved it, and the write's error came below).
        await written;
        throw error;
      }
      await written;
      return result;
    });
  }
}

/**
 * A read-model transaction on PostgreSQL: documents and checkpoints in one database transaction.
 * Documents are written behind: the transaction keeps what it read and wrote, so a document read
 * twice is fetched once, and writes every changed document in one upsert (and one delete) when it
 * commits, instead of a round trip per `put`. Checkpoints are written at once. A document that many
 * events of a batch update is held as an object, copied on each `get` and `put` (a walk of the
 * object, no text), and serialized once, when the batch commits.
 */
export class PostgresReadModelTransaction implements ReadModelTransaction {
  readonly checkpoints: CheckpointStore;
  /** The database transaction: read-model statements of the application's own run here. Refused once ended. */
  readonly sql: PostgresTransactionSql;
  readonly #sql: PostgresTransactionSql;
  readonly #statements: DocumentStatements;
  /**
   * What the transaction read and wrote, by collection then id (no key string built per call). Every
   * key in it passed `assertStorable` on its way in, so a key met again is not checked again.
   */
  readonly #documents = new Map<string, Map<string, CachedDocument>>();
  /** Whether every `put` comes through the store's validating wrapper (documents are JSON data). */
  readonly #validated: boolean;
  #open = true;

  /** @internal Made by `PostgresReadModelStore.transaction` (validated) and the inline step (not). */
  constructor(
    sql: PostgresTransactionSql,
    names: PostgresNameOptions,
    statements: DocumentStatements,
    validated = false,
  ) {
    this.#sql = sql;
    this.sql = untilEnded(sql, () => this.#open);
    this.#statements = statements;
    this.#validated = validated;
    this.checkpoints = new PostgresCheckpointStore({ ...names, sql: this.sql });
  }

  /**
   * @internal Ends the transaction for its user (the batch's work or the inline step is over): its
   * methods and `sql` are refused from here on. `flush` still writes what it holds.
   */
  end(): void {
    this.#open = false;
  }

  get<T = unknown>(collection: string, id: string): Promise<T | undefined> {
    if (!this.#open) return Promise.reject(transactionEndedError());
    const cached = this.#cached(collection, id);
    // Not async: a document the batch holds already (the usual case) costs one settled promise.
    return cached === undefined ? this.#read<T>(collection, id) : Promise.resolve(copyOf<T>(cached));
  }

  async #read<T>(collection: string, id: string): Promise<T | undefined> {
    const document = await readDocument(this.#sql, this.#statements, collection, id);
    // A get that ran meanwhile for the same key (handlers that do not await) keeps what it read.
    return copyOf<T>(this.#cached(collection, id) ?? this.#remember({ collection, id, document, dirty: false }));
  }

  /** One SELECT for every key not read or written here yet; the absent ones are remembered as absent. */
  async preload(keys: readonly ReadModelKey[]): Promise<void> {
    if (!this.#open) throw transactionEndedError();
    const wanted: { c: string; i: string }[] = [];
    for (const { collection, id } of keys) {
      if (this.#cached(collection, id) !== undefined) continue;
      assertStorable(collection, id);
      wanted.push({ c: collection, i: id });
    }
    if (wanted.length === 0) return;
    const rows = await guard("getReadModels", async () => {
      const query = this.#sql.unsafe(this.#statements.readMany, [JSON.stringify(wanted)], { prepare: true });
      return (await query.values()) as unknown as [string, string, unknown][];
    });
    const found = new Map<string, Map<string, unknown>>();
    for (const [collection, id, document] of rows) {
      let ids = found.get(collection);
      if (ids === undefined) {
        ids = new Map();
        found.set(collection, ids);
      }
      ids.set(id, document);
    }
    for (const { c, i } of wanted) {
      // A get that ran meanwhile (a handler does not, preload comes first) keeps what it read.
      if (this.#cached(c, i) === undefined) {
        this.#remember({ collection: c, id: i, document: found.get(c)?.get(i), dirty: false });
      }
    }
  }

  async put(collection: string, id: string, document: unknown): Promise<void> {
    if (!this.#open) throw transactionEndedError();
    const cached = this.#cached(collection, id);
    if (cached === undefined) assertStorable(collection, id);
    let copy: unknown;
    if (this.#validated) {
      // JSON data without U+0000 (the wrapper checked it): copied as JSON would copy it.
      copy = jsonRoundTrip(document);
    } else {
      // Anything JSON.stringify takes, as it takes it (a Date becomes its ISO string).
      const text = JSON.stringify(document);
      assertStorableDocument(text);
      copy = JSON.parse(text);
    }
    if (cached === undefined) this.#remember({ collection, id, document: copy, dirty: true });
    else {
      // A document a batch updates event after event: the one entry is updated in place.
      cached.document = copy;
      cached.dirty = true;
    }
  }

  async delete(collection: string, id: string): Promise<void> {
    if (!this.#open) throw transactionEndedError();
    if (this.#cached(collection, id) === undefined) assertStorable(collection, id);
    this.#remember({ collection, id, document: undefined, dirty: true });
  }

  /** @internal Writes the changed documents: called before the transaction commits. */
  async flush(): Promise<void> {
    // Each changed document is serialized here, once per batch however many events changed it.
    // In chunks of at most WRITE_CHUNK_CHARS: each chunk is one jsonb parameter, which PostgreSQL
    // caps at 256 MB (and a message at 1 GB), however small each document is.
    const puts: string[][] = [];
    let chunk: string[] = [];
    let chunkChars = 0;
    const deletes: { c: string; i: string }[] = [];
    for (const ids of this.#documents.values()) {
      for (const cached of ids.values()) {
        if (!cached.dirty) continue;
        if (cached.document === undefined) deletes.push({ c: cached.collection, i: cached.id });
        else {
          const text = JSON.stringify({ c: cached.collection, i: cached.id, d: cached.document });
          assertDocumentSize(text, cached.collection);
          if (chunkChars > 0 && chunkChars + text.length > WRITE_CHUNK_CHARS) {
            puts.push(chunk);
            chunk = [];
            chunkChars = 0;
          }
          chunk.push(text);
          chunkChars += text.length;
        }
        cached.dirty = false;
      }
    }
    if (chunk.length > 0) puts.push(chunk);
    // A key is either deleted or written, never both: the two statements go out together
    // (postgres.js pipelines them on the transaction's connection), one round trip instead of two.
    const writes: Promise<unknown>[] = [];
    if (deletes.length > 0) {
      writes.push(
        guard("deleteReadModels", () =>
          this.#sql.unsafe(this.#statements.removeMany, [JSON.stringify(deletes)], { prepare: true }).execute(),
        ),
      );
    }
    for (const each of puts) {
      writes.push(
        guard("putReadModels", () =>
          this.#sql.unsafe(this.#statements.writeMany, [`[${each.join(",")}]`], { prepare: true }).execute(),
        ),
      );
    }
    await Promise.all(writes);
  }

  #cached(collection: string, id: string): CachedDocument | undefined {
    return this.#documents.get(collection)?.get(id);
  }

  #remember(cached: CachedDocument): CachedDocument {
    let ids = this.#documents.get(cached.collection);
    if (ids === undefined) {
      ids = new Map();
      this.#documents.set(cached.collection, ids);
    }
    ids.set(cached.id, cached);
    return cached;
  }
}

interface CachedDocument {
  readonly collection: string;
  readonly id: string;
  /** As read or written here, JSON data of the transaction's own; undefined: there is none (never was, or deleted). */
  document: unknown;
  dirty: boolean;
}

/**
 * A copy of what the transaction holds, so the handler cannot change it. What it holds is JSON data
 * (parsed, or copied as JSON would), so the copy is JSON's own round trip, without text.
 */
function copyOf<T>(cached: CachedDocument): T | undefined {
  return (cached.document === undefined ? undefined : jsonRoundTrip(cached.document)) as T | undefined;
}

/**
 * The PostgreSQL transaction behind a projection handler's `context.readModels`, to write tables of
 * the application's own in the batch's transaction.
 * @throws {ValidationError} the writer is not a PostgreSQL read-model transaction.
 */
export function postgresSqlOf(readModels: ReadModelWriter): PostgresTransactionSql {
  const sql = (readModels as { sql?: unknown }).sql;
  if (typeof sql !== "function" || !(readModels instanceof PostgresReadModelTransaction)) {
    throw new ValidationError("Not a PostgreSQL read-model transaction", [
      { path: ["readModels"], message: "run the projection with a PostgresReadModelStore to get its transaction" },
    ]);
  }
  return readModels.sql;
}

const statementsOf = new WeakMap<TableNames, DocumentStatements>();

/** @internal A read-model transaction on `sql` (an append's transaction: inline projections). */
export function readModelTransactionOn(sql: PostgresTransactionSql, names: TableNames): PostgresReadModelTransaction {
  let statements = statementsOf.get(names);
  if (statements === undefined) {
    statements = documentStatements(names);
    statementsOf.set(names, statements);
  }
  return new PostgresReadModelTransaction(sql, { schema: names.schema, tablePrefix: names.tablePrefix }, statements);
}

interface DocumentStatements {
  readonly read: string;
  /** The documents of $1, a JSON array of `{ c, i }`, as rows of collection, id, document. */
  readonly readMany: string;
  readonly write: string;
  readonly remove: string;
  readonly list: string;
  /**
   * Upserts the documents of $1, a JSON array of `{ c, i, d }` (collection, id, document). The record
   * set turns a `null` document into SQL NULL: coalesce gives it back as JSON null.
   */
  readonly writeMany: string;
  /** Deletes the documents of $1, a JSON array of `{ c, i }`. */
  readonly removeMany: string;
}

function documentStatements(names: TableNames): DocumentStatements {
  const table = names.readModels;
  return {
    read: `SELECT document FROM ${table} WHERE collection = $1 AND id = $2`,
    readMany: `SELECT t.collection, t.id, t.document FROM ${table} AS t
  JOIN jsonb_to_recordset($1::text::jsonb) AS r(c text, i text) ON t.collection = r.c AND t.id = r.i`,
    write: `INSERT INTO ${table} (collection, id, document) VALUES ($1, $2, $3::text::jsonb)
  ON CONFLICT (collection, id, tenant_id) DO UPDATE SET document = excluded.document, updated_at = now()`,
    remove: `DELETE FROM ${table} WHERE collection = $1 AND id = $2`,
    list: `SELECT id, document FROM ${table} WHERE collection = $1 ORDER BY id`,
    writeMany: `INSERT INTO ${table} (collection, id, document)
  SELECT r.c, r.i, coalesce(r.d, 'null'::jsonb) FROM jsonb_to_recordset($1::text::jsonb) AS r(c text, i text, d jsonb)
  ON CONFLICT (collection, id, tenant_id) DO UPDATE SET document = excluded.document, updated_at = now()`,
    removeMany: `DELETE FROM ${table} AS t USING jsonb_to_recordset($1::text::jsonb) AS r(c text, i text)
  WHERE t.collection = r.c AND t.id = r.i`,
  };
}

function readDocument(sql: PostgresQueryable, s: DocumentStatements, collection: string, id: string) {
  assertStorable(collection, id);
  return guardReconnecting("getReadModel", attemptsOn(sql), async () => {
    const [row] = (await sql.unsafe(s.read, [collection, id], { prepare: true }).values()) as unknown as [unknown][];
    return row === undefined ? undefined : row[0];
  });
}

async function writeDocument(
  sql: PostgresQueryable,
  s: DocumentStatements,
  collection: string,
  id: string,
  document: unknown,
) {
  assertStorable(collection, id);
  const text = JSON.stringify(document);
  assertStorableDocument(text);
  assertDocumentSize(text, collection);
  await guard("putReadModel", () => sql.unsafe(s.write, [collection, id, text], { prepare: true }));
}

async function deleteDocument(sql: PostgresQueryable, s: DocumentStatements, collection: string, id: string) {
  assertStorable(collection, id);
  await guard("deleteReadModel", () => sql.unsafe(s.remove, [collection, id], { prepare: true }));
}

/** Characters of documents one statement of a transaction's flush writes, at most (a larger document goes alone). */
const WRITE_CHUNK_CHARS = 16 * 1024 * 1024;

/**
 * A document's JSON over {@link MAX_BATCH_BYTES} is refused before sending, as an append's events are:
 * jsonb holds at most 256 MB, and over 1 GB the server drops the connection (a retryable-looking error).
 */
function assertDocumentSize(text: string, collection: string): void {
  // At most 3 UTF-8 bytes per UTF-16 unit: most documents need no count.
  if (text.length * 3 <= MAX_BATCH_BYTES) return;
  const size = utf8Length(text);
  if (size > MAX_BATCH_BYTES) {
    throw new PayloadTooLargeError(`A document of read-model collection "${collection}"`, size, MAX_BATCH_BYTES);
  }
}

const UNSTORABLE_ESCAPE = /(?:^|[^\\])(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i;

/** jsonb stores no NUL character and no unpaired surrogate, even escaped. */
function assertStorableDocument(text: string): void {
  // JSON.stringify writes \u escapes only for control characters and lone surrogates: most
  // documents have none, and a substring search is cheaper than the expression.
  if (!text.includes("\\u") || !UNSTORABLE_ESCAPE.test(text)) return;
  throw unstorableDocument();
}

function unstorableDocument(): ValidationError {
  return new ValidationError("Invalid read-model document", [
    { path: ["document"], message: "contains \\u0000 or an unpaired surrogate, which PostgreSQL jsonb cannot store" },
  ]);
}

/** Collection and id as PostgreSQL text: no unpaired surrogate (refused here, before the server would). */
function assertStorable(collection: string, id: string): void {
  const issues = [...textIssues(collection, ["collection"]), ...textIssues(id, ["id"])];
  if (issues.length > 0) throw new ValidationError("Invalid read-model key", issues);
}
