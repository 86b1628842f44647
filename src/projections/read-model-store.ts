import {
  type CheckpointStore,
  MAX_CHECKPOINT_ID_LENGTH,
  type StoreCheckpointOptions,
} from "../checkpoint/checkpoint-store.js";
import { type Issue, RebuildNotSupportedError, ValidationError } from "../errors.js";
import { isFlatJson, jsonIssues } from "../internal/json.js";
import { nameIssues } from "../internal/validate.js";

/** Longest collection name and document id accepted, in characters. */
export const MAX_READ_MODEL_KEY_LENGTH = 256;

/** A stored read-model document with its id. */
export interface ReadModelDocument<T = unknown> {
  readonly id: string;
  readonly document: T;
}

/** Reads and writes documents by collection and id: what a projection handler writes through. */
export interface ReadModelWriter {
  /** The document, or undefined when there is none. */
  get<T = unknown>(collection: string, id: string): Promise<T | undefined>;
  /** Creates or replaces a document (a JSON value). */
  put(collection: string, id: string, document: unknown): Promise<void>;
  /** Removes a document; removing one that does not exist does nothing. */
  delete(collection: string, id: string): Promise<void>;
}

/** A read-model transaction: documents and checkpoints written here commit together or not at all. */
export interface ReadModelTransaction extends ReadModelWriter {
  /** Checkpoints inside the transaction: a compare-and-set conflict here rolls the documents back too. */
  readonly checkpoints: CheckpointStore;
  /**
   * Loads these documents ahead (a projection's `prefetch`), so later `get`s of them make no round
   * trip; documents the transaction already read or wrote are left as they are. Optional: a store
   * without a bulk read leaves it out, and the handler's `get`s read as usual.
   */
  preload?(keys: readonly ReadModelKey[]): Promise<void>;
}

export interface ReadModelStoreCapabilities {
  /**
   * `transaction` commits documents and checkpoints atomically. Where it is false, documents are
   * written as the handler goes and the checkpoint after them: a crash in between re-applies the
   * batch (at-least-once), so handlers must then be idempotent (`put`, not increments).
   */
  readonly atomicCheckpoints: boolean;
  /**
   * `swap` and `drop` work: the store can take a shadow generation in atomically, so projections
   * can be rebuilt blue/green (`rebuildProjection`). Absent or false: both throw
   * `RebuildNotSupportedError` and rebuilds are refused before anything is written.
   */
  readonly rebuilds?: boolean;
  /**
   * How many events a `ProjectionRunner` takes per batch (one transaction) when its `batchSize` is not
   * given: what this store commits well in one transaction. Absent: 100. PostgreSQL says 1,000: a
   * batch costs a transaction and a commit however few events it holds, so 100-event batches caught up
   * 2-4 times slower there (a one-off measurement, 2026-12-03).
   */
  readonly defaultBatchSize?: number;
  /**
   * How large a `ProjectionRunner`'s catch-up batches are when it is given neither `batchSize` nor
   * `maxBatchSize` (1 to 10,000; absent, or not above its default `batchSize`: every batch that
   * size): what this store commits well in one transaction when a projection is far behind.
   */
  readonly maxBatchSize?: number;
}

/** One document's place. */
export interface ReadModelKey {
  readonly collection: string;
  readonly id: string;
}

/** What `swap` moves, in one atomic step. */
export interface ReadModelSwap {
  /** Whole collections: `to` loses every document it has, then takes every document of `from`, which ends empty. */
  readonly collections: readonly { readonly from: string; readonly to: string }[];
  /** Single documents: `to` takes `from`'s document (or is removed when `from` has none); `from` is removed. */
  readonly documents: readonly { readonly from: ReadModelKey; readonly to: ReadModelKey }[];
  /** Checkpoints: `to` takes `from`'s position (or is removed when `from` has none); `from` is removed. */
  readonly checkpoints: readonly { readonly from: string; readonly to: string }[];
}

/** What `drop` removes, in one step: whole collections, single documents, checkpoints. */
export interface ReadModelDrop {
  readonly collections: readonly string[];
  readonly documents: readonly ReadModelKey[];
  readonly checkpoints: readonly string[];
}

/**
 * The read-model store port: JSON documents by collection and id, and the checkpoints of the
 * projections that write them. Subclasses implement storage; this base validates every input, so
 * each adapter answers the same mistakes with the same errors.
 */
export abstract class ReadModelStore implements ReadModelWriter {
  abstract readonly capabilities: ReadModelStoreCapabilities;
  /** The checkpoints that commit with this store's documents (outside a transaction: plain ones). */
  abstract readonly checkpoints: CheckpointStore;

  async get<T = unknown>(collection: string, id: string): Promise<T | undefined> {
    assertKey(collection, id);
    return (await this.readDocument(collection, id)) as T | undefined;
  }

  async put(collection: string, id: string, document: unknown): Promise<void> {
    assertDocument(collection, id, document);
    return this.writeDocument(collection, id, document);
  }

  async delete(collection: string, id: string): Promise<void> {
    assertKey(collection, id);
    return this.deleteDocument(collection, id);
  }

  /**
   * Throws what a `put` of this document would be refused with, and writes nothing: the port's checks
   * and this store's own limits (DynamoDB's 400 KB item, SQLite's `maxValueBytes`). A replay's dry run
   * checks each write with it, so that it fails where the run that writes would.
   */
  async checkPut(collection: string, id: string, document: unknown): Promise<void> {
    assertDocument(collection, id, document);
    return this.checkDocument(collection, id, document);
  }

  /** Every document of a collection, ordered by id (for tests, tools and small collections). */
  async list<T = unknown>(collection: string): Promise<ReadModelDocument<T>[]> {
    assertKey(collection, "-");
    return (await this.listDocuments(collection)) as ReadModelDocument<T>[];
  }

  /**
   * Runs `work` in a transaction: what it writes through the transaction (documents, checkpoints)
   * commits when it resolves and is discarded when it throws, which `transaction` then rethrows.
   */
  async transaction<T>(work: (tx: ReadModelTransaction) => Promise<T>): Promise<T> {
    return this.runTransaction(async (tx) => {
      const scope = validating(tx);
      try {
        return await work(scope.tx);
      } finally {
        // A transaction kept past its work wrote nothing (its writes were staged for a commit that had
        // happened already) or, on PostgreSQL, wrote on a pooled connection: refused from here on.
        scope.end();
      }
    });
  }

  /**
   * Takes a generation in: moves collections, documents and checkpoints as `swap` says, all at once
   * (readers see the state before or after, never between). Rebuilds swap their shadow in with it.
   * @throws {RebuildNotSupportedError} the store has no `rebuilds` capability.
   */
  async swap(swap: ReadModelSwap): Promise<void> {
    this.#assertRebuilds();
    assertMoves(swap);
    assertNoMoveOntoItself(swap);
    return this.swapGeneration(swap);
  }

  /**
   * Removes whole collections, single documents and checkpoints (a shadow generation given up).
   * @throws {RebuildNotSupportedError} the store has no `rebuilds` capability.
   */
  async drop(drop: ReadModelDrop): Promise<void> {
    this.#assertRebuilds();
    // Checked as a swap of each entry onto itself; what is no object or no list is passed on as it
    // is, for the check to name (a null drop was a TypeError here).
    const onto = (list: unknown) => (Array.isArray(list) ? list.map((x) => ({ from: x, to: x })) : list);
    const given = drop as { [K in keyof ReadModelDrop]?: unknown } | null;
    const moves =
      typeof given === "object" && given !== null
        ? {
            collections: onto(given.collections),
            documents: onto(given.documents),
            checkpoints: onto(given.checkpoints),
          }
        : given;
    assertMoves(moves as ReadModelSwap, "drop");
    return this.dropGeneration(drop);
  }

  /** Implements `swap` atomically (inputs checked). Stores with the `rebuilds` capability override it. */
  protected swapGeneration(_swap: ReadModelSwap): Promise<void> {
    return Promise.reject(new RebuildNotSupportedError(this.constructor.name));
  }

  /** Implements `drop` (inputs checked). Stores with the `rebuilds` capability override it. */
  protected dropGeneration(_drop: ReadModelDrop): Promise<void> {
    return Promise.reject(new RebuildNotSupportedError(this.constructor.name));
  }

  #assertRebuilds(): void {
    if (this.capabilities.rebuilds !== true) throw new RebuildNotSupportedError(this.constructor.name);
  }

  /** A store's own limits on one document, past the port's checks (inputs checked): none by default. */
  protected checkDocument(_collection: string, _id: string, _document: unknown): Promise<void> {
    return Promise.resolve();
  }

  protected abstract readDocument(collection: string, id: string): Promise<unknown>;
  protected abstract writeDocument(collection: string, id: string, document: unknown): Promise<void>;
  protected abstract deleteDocument(collection: string, id: string): Promise<void>;
  protected abstract listDocuments(collection: string): Promise<ReadModelDocument[]>;
  /** Hands `work` a transaction whose writes commit when it resolves; inputs are validated already. */
  protected abstract runTransaction<T>(work: (tx: ReadModelTransaction) => Promise<T>): Promise<T>;
}

/**
 * What a transaction's methods throw once it has ended: a read-model transaction's, once its work has settled,
 * and a store's own (PostgreSQL's `withTransaction` tx and its `sql`). One message for every store.
 */
export function transactionEndedError(): ValidationError {
  return new ValidationError("This transaction has ended: use the store, or start a new transaction");
}

/**
 * Wraps a transaction so that its writes are checked like the store's own, and refused once `end`
 * was called. The wrapper inherits from the adapter's transaction, so what an adapter adds to it
 * (PostgreSQL's `sql`) stays reachable.
 */
function validating(tx: ReadModelTransaction): { readonly tx: ReadModelTransaction; end(): void } {
  const wrapper: ReadModelTransaction = Object.create(tx);
  let open = true;
  // Keys already checked in this transaction, by collection: a batch meets the same few documents
  // again and again, and a key's check does not change.
  const checked = new Map<string, Set<string>>();
  const known = (collection: string, id: string) => checked.get(collection)?.has(id) === true;
  const remember = (collection: string, id: string) => {
    let ids = checked.get(collection);
    if (ids === undefined) {
      ids = new Set();
      checked.set(collection, ids);
    }
    ids.add(id);
  };
  const checkOpen = () => {
    if (!open) throw transactionEndedError();
  };
  const checkKey = (collection: string, id: string) => {
    checkOpen();
    if (known(collection, id)) return;
    assertKey(collection, id);
    remember(collection, id);
  };
  // Not async: the adapter's own promise is handed back as it is, so a handler's get or put waits
  // on one promise, not on a wrapper's too (a check that fails still rejects, never throws).
  Object.assign(wrapper, {
    get: <T>(collection: string, id: string): Promise<T | undefined> => {
      try {
        checkKey(collection, id);
      } catch (error) {
        return Promise.reject(error);
      }
      return tx.get<T>(collection, id);
    },
    put: (collection: string, id: string, document: unknown): Promise<void> => {
      try {
        checkOpen();
        if (known(collection, id)) assertJsonDocument(document);
        else {
          // A new key is checked with the document, so that one error names every problem.
          assertDocument(collection, id, document);
          remember(collection, id);
        }
      } catch (error) {
        return Promise.reject(error);
      }
      return tx.put(collection, id, document);
    },
    delete: (collection: string, id: string): Promise<void> => {
      try {
        checkKey(collection, id);
      } catch (error) {
        return Promise.reject(error);
      }
      return tx.delete(collection, id);
    },
    preload: async (keys: readonly ReadModelKey[]) => {
      checkOpen();
      for (const { collection, id } of keys) checkKey(collection, id);
      // A store without a bulk read: nothing to do ahead, the handler's gets read one by one.
      await tx.preload?.(keys);
    },
    checkpoints: untilEnded(tx.checkpoints, checkOpen),
  });
  return {
    tx: wrapper,
    end: () => {
      open = false;
    },
  };
}

/** The transaction's checkpoints, refused once it has ended as its documents are. */
function untilEnded(checkpoints: CheckpointStore, checkOpen: () => void): CheckpointStore {
  const wrapper: CheckpointStore = Object.create(checkpoints);
  const whileOpen = <R>(run: () => Promise<R>): Promise<R> => {
    try {
      checkOpen();
    } catch (error) {
      return Promise.reject(error);
    }
    return run();
  };
  return Object.assign(wrapper, {
    load: (id: string) => whileOpen(() => checkpoints.load(id)),
    store: (id: string, position: number, options?: StoreCheckpointOptions) =>
      whileOpen(() => checkpoints.store(id, position, options)),
    delete: (id: string) => whileOpen(() => checkpoints.delete(id)),
  });
}

function keyIssues(collection: unknown, id: unknown): Issue[] {
  return [
    ...nameIssues(collection, "collection", MAX_READ_MODEL_KEY_LENGTH, ["collection"]),
    ...nameIssues(id, "document id", MAX_READ_MODEL_KEY_LENGTH, ["id"]),
  ];
}

function assertMoves(swap: ReadModelSwap, what = "swap"): void {
  const issues: Issue[] = [];
  if (typeof swap !== "object" || swap === null)
    throw new ValidationError(`Invalid read-model ${what}`, [{ path: [], message: "an object is required" }]);
  for (const key of ["collections", "documents", "checkpoints"] as const) {
    if (!Array.isArray(swap[key])) issues.push({ path: [key], message: `${key} must be an array` });
  }
  if (issues.length === 0) {
    swap.collections.forEach(({ from, to }, i) => {
      issues.push(...nameIssues(from, "collection", MAX_READ_MODEL_KEY_LENGTH, ["collections", i, "from"]));
      issues.push(...nameIssues(to, "collection", MAX_READ_MODEL_KEY_LENGTH, ["collections", i, "to"]));
    });
    swap.documents.forEach(({ from, to }, i) => {
      for (const [side, key] of [
        ["from", from],
        ["to", to],
      ] as const) {
        issues.push(
          ...keyIssues(key?.collection, key?.id).map((issue) => ({
            ...issue,
            path: ["documents", i, side, ...issue.path],
          })),
        );
      }
    });
    swap.checkpoints.forEach(({ from, to }, i) => {
      issues.push(...nameIssues(from, "checkpoint id", MAX_CHECKPOINT_ID_LENGTH, ["checkpoints", i, "from"]));
      issues.push(...nameIssues(to, "checkpoint id", MAX_CHECKPOINT_ID_LENGTH, ["checkpoints", i, "to"]));
    });
  }
  if (issues.length > 0) throw new ValidationError(`Invalid read-model ${what}`, issues);
}

/**
 * A move onto itself is refused: "`to` loses what it has, then takes `from`'s" would empty a
 * collection on the stores that carry it out in that order (and DynamoDB refuses it), where the
 * in-memory store kept it; there is nothing a caller can mean by it.
 */
function assertNoMoveOntoItself(swap: ReadModelSwap): void {
  const issues: Issue[] = [];
  const onto = (kind: string, at: string, pairs: readonly { from: unknown; to: unknown }[]) => {
    for (const [i, { from, to }] of pairs.entries()) {
      if (from === to) issues.push({ path: [at, i], message: `a ${kind} moved onto itself` });
    }
  };
  onto("collection", "collections", swap.collections);
  const key = (k: ReadModelKey) => JSON.stringify([k.collection, k.id]);
  onto(
    "document",
    "documents",
    swap.documents.map(({ from, to }) => ({ from: key(from), to: key(to) })),
  );
  onto("checkpoint", "checkpoints", swap.checkpoints);
  if (issues.length > 0) throw new ValidationError("Invalid read-model swap", issues);
}

/** @internal Refuses a collection or document id the store would refuse (a `ValidationError` naming each problem). */
export function assertKey(collection: unknown, id: unknown): void {
  const issues = keyIssues(collection, id);
  if (issues.length > 0) throw new ValidationError("Invalid read-model key", issues);
}

/** @internal Refuses a key or document the store would refuse (a `ValidationError` naming each problem). */
export function assertDocument(collection: unknown, id: unknown, document: unknown): void {
  const issues = [...keyIssues(collection, id), ...documentIssues(document)];
  if (issues.length > 0) throw new ValidationError("Invalid read-model document", issues);
}

/** `assertDocument` for a key already checked. */
function assertJsonDocument(document: unknown): void {
  const issues = documentIssues(document);
  if (issues.length > 0) throw new ValidationError("Invalid read-model document", issues);
}

/**
 * What a document without issues has: shared, so that a handler's put allocates no list. Marked pure
 * because a bundler keeps an unannotated call: the PostgreSQL Worker reaches this module (for
 * transactionEndedError) but checks no document, and carried these three.
 */
const NO_ISSUES: readonly Issue[] = /* @__PURE__ */ Object.freeze([]);
const DOCUMENT_PATH: readonly string[] = /* @__PURE__ */ Object.freeze(["document"]);
const REFUSE_NUL = /* @__PURE__ */ Object.freeze({ refuseNul: true });

function documentIssues(document: unknown): readonly Issue[] {
  if (document === undefined) return [{ path: ["document"], message: "a document is a JSON value, got undefined" }];
  // A flat document (the usual handler's put, event after event) is checked without allocating
  // anything; a getter that throws while it is read is left to jsonIssues to report.
  if (isFlatJson(document, true)) return NO_ISSUES;
  // U+0000 as for events: PostgreSQL's jsonb cannot hold it, so no store takes it (one rule everywhere).
  return jsonIssues(document, DOCUMENT_PATH, REFUSE_NUL);
}
