import type { CheckpointStore } from "../checkpoint/checkpoint-store.js";
import { type Issue, ValidationError } from "../errors.js";
import { jsonIssues } from "../internal/json.js";
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
}

export interface ReadModelStoreCapabilities {
  /**
   * `transaction` commits documents and checkpoints atomically. Where it is false, documents are
   * written as the handler goes and the checkpoint after them: a crash in between re-applies the
   * batch (at-least-once), so handlers must then be idempotent (`put`, not increments).
   */
  readonly atomicCheckpoints: boolean;
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
    return this.runTransaction((tx) => work(validating(tx)));
  }

  protected abstract readDocument(collection: string, id: string): Promise<unknown>;
  protected abstract writeDocument(collection: string, id: string, document: unknown): Promise<void>;
  protected abstract deleteDocument(collection: string, id: string): Promise<void>;
  protected abstract listDocuments(collection: string): Promise<ReadModelDocument[]>;
  /** Hands `work` a transaction whose writes commit when it resolves; inputs are validated already. */
  protected abstract runTransaction<T>(work: (tx: ReadModelTransaction) => Promise<T>): Promise<T>;
}

/**
 * Wraps a transaction so that its writes are checked like the store's own. The wrapper inherits
 * from the adapter's transaction, so what an adapter adds to it (PostgreSQL's `sql`) stays reachable.
 */
function validating(tx: ReadModelTransaction): ReadModelTransaction {
  const wrapper: ReadModelTransaction = Object.create(tx);
  return Object.assign(wrapper, {
    get: async <T>(collection: string, id: string) => {
      assertKey(collection, id);
      return tx.get<T>(collection, id);
    },
    put: async (collection: string, id: string, document: unknown) => {
      assertDocument(collection, id, document);
      return tx.put(collection, id, document);
    },
    delete: async (collection: string, id: string) => {
      assertKey(collection, id);
      return tx.delete(collection, id);
    },
  });
}

function keyIssues(collection: unknown, id: unknown): Issue[] {
  return [
    ...nameIssues(collection, "collection", MAX_READ_MODEL_KEY_LENGTH, ["collection"]),
    ...nameIssues(id, "document id", MAX_READ_MODEL_KEY_LENGTH, ["id"]),
  ];
}

function assertKey(collection: unknown, id: unknown): void {
  const issues = keyIssues(collection, id);
  if (issues.length > 0) throw new ValidationError("Invalid read-model key", issues);
}

function assertDocument(collection: unknown, id: unknown, document: unknown): void {
  const issues = keyIssues(collection, id);
  if (document === undefined) issues.push({ path: ["document"], message: "a document is a JSON value, got undefined" });
  else issues.push(...jsonIssues(document, ["document"]));
  if (issues.length > 0) throw new ValidationError("Invalid read-model document", issues);
}
