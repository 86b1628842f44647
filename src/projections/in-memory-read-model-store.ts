import { CheckpointStore, checkpointConflict } from "../checkpoint/checkpoint-store.js";
import { jsonRoundTrip } from "../internal/json.js";
import { compareCodePoints } from "../internal/unicode.js";
import {
  type ReadModelDocument,
  type ReadModelDrop,
  ReadModelStore,
  type ReadModelStoreCapabilities,
  type ReadModelSwap,
  type ReadModelTransaction,
} from "./read-model-store.js";

/** Marks a document deleted inside a transaction that has not committed yet. */
const DELETED = Symbol("deleted");

/**
 * The reference read-model store, in memory: documents in maps, checkpoints beside them, and
 * transactions that stage every write and apply them all at once (or none) when they commit.
 * Documents are copied on the way in and out, so callers never share them with the store, and copied
 * as a JSON round trip copies them (`-0` as `0`, properties holding `undefined` left out), so a
 * projection reads here what it reads from every store that keeps JSON text.
 */
export class InMemoryReadModelStore extends ReadModelStore {
  readonly capabilities: ReadModelStoreCapabilities = { atomicCheckpoints: true, rebuilds: true };
  readonly #documents = new Map<string, Map<string, unknown>>();
  readonly #positions = new Map<string, number>();
  readonly checkpoints: CheckpointStore = new MapCheckpointStore(this.#positions);

  protected async readDocument(collection: string, id: string): Promise<unknown> {
    const found = this.#documents.get(collection)?.get(id);
    return found === undefined ? undefined : jsonRoundTrip(found);
  }

  protected async writeDocument(collection: string, id: string, document: unknown): Promise<void> {
    this.#set(collection, id, jsonRoundTrip(document));
  }

  protected async deleteDocument(collection: string, id: string): Promise<void> {
    this.#documents.get(collection)?.delete(id);
  }

  protected async listDocuments(collection: string): Promise<ReadModelDocument[]> {
    const documents = [...(this.#documents.get(collection) ?? new Map<string, unknown>()).entries()];
    // By code point, as every other store orders ids (UTF-8 bytes), not by UTF-16 code unit.
    documents.sort(([a], [b]) => compareCodePoints(a, b));
    return documents.map(([id, document]) => ({ id, document: jsonRoundTrip(document) }));
  }

  protected async runTransaction<T>(work: (tx: ReadModelTransaction) => Promise<T>): Promise<T> {
    const staged = new Map<string, unknown>();
    const positions = new Map<string, { position: number | typeof DELETED; expected: number | undefined }>();
    const key = (collection: string, id: string) => JSON.stringify([collection, id]);
    const store = this;
    const tx: ReadModelTransaction = {
      checkpoints: new StagedCheckpointStore(this.#positions, positions),
      async get<D>(collection: string, id: string) {
        const k = key(collection, id);
        if (!staged.has(k)) return store.readDocument(collection, id) as Promise<D | undefined>;
        const found = staged.get(k);
        return (found === DELETED ? undefined : jsonRoundTrip(found)) as D | undefined;
      },
      async put(collection, id, document) {
        staged.set(key(collection, id), jsonRoundTrip(document));
      },
      async delete(collection, id) {
        staged.set(key(collection, id), DELETED);
      },
    };
    const result = await work(tx);
    // Commit: check every compare-and-set first, then apply everything in one synchronous step, so
    // no other transaction can interleave and no reader sees half of it.
    for (const [id, { expected }] of positions) {
      const current = this.#positions.get(id);
      if (expected !== undefined && (current ?? 0) !== expected) throw checkpointConflict(id, expected, current);
    }
    for (const [k, document] of staged) {
      const [collection, id] = JSON.parse(k) as [string, string];
      if (document === DELETED) this.#documents.get(collection)?.delete(id);
      else this.#set(collection, id, document);
    }
    for (const [id, { position }] of positions) {
      if (position === DELETED) this.#positions.delete(id);
      else this.#positions.set(id, position);
    }
    return result;
  }

  // One synchronous step: no reader or transaction sees half a swap.
  protected override async swapGeneration(swap: ReadModelSwap): Promise<void> {
    for (const { from, to } of swap.collections) {
      const moved = this.#documents.get(from);
      this.#documents.delete(from);
      if (moved === undefined) this.#documents.delete(to);
      else this.#documents.set(to, moved);
    }
    for (const { from, to } of swap.documents) {
      const moved = this.#documents.get(from.collection)?.get(from.id);
      this.#documents.get(from.collection)?.delete(from.id);
      if (moved === undefined) this.#documents.get(to.collection)?.delete(to.id);
      else this.#set(to.collection, to.id, moved);
    }
    for (const { from, to } of swap.checkpoints) {
      const moved = this.#positions.get(from);
      this.#positions.delete(from);
      if (moved === undefined) this.#positions.delete(to);
      else this.#positions.set(to, moved);
    }
  }

  protected override async dropGeneration(drop: ReadModelDrop): Promise<void> {
    for (const collection of drop.collections) this.#documents.delete(collection);
    for (const { collection, id } of drop.documents) this.#documents.get(collection)?.delete(id);
    for (const id of drop.checkpoints) this.#positions.delete(id);
  }

  #set(collection: string, id: string, document: unknown): void {
    let documents = this.#documents.get(collection);
    if (documents === undefined) {
      documents = new Map();
      this.#documents.set(collection, documents);
    }
    documents.set(id, document);
  }
}

/** The store's own checkpoints, outside transactions. */
class MapCheckpointStore extends CheckpointStore {
  constructor(readonly positions: Map<string, number>) {
    super();
  }

  protected async readCheckpoint(id: string): Promise<number | undefined> {
    return this.positions.get(id);
  }

  protected async writeCheckpoint(id: string, position: number, expected: number | undefined): Promise<void> {
    const current = this.positions.get(id);
    if (expected !== undefined && (current ?? 0) !== expected) throw checkpointConflict(id, expected, current);
    this.positions.set(id, position);
  }

  protected async deleteCheckpoint(id: string): Promise<void> {
    this.positions.delete(id);
  }
}

/** Checkpoints staged in a transaction; their compare-and-set is checked again when it commits. */
class StagedCheckpointStore extends CheckpointStore {
  constructor(
    readonly committed: Map<string, number>,
    readonly staged: Map<string, { position: number | typeof DELETED; expected: number | undefined }>,
  ) {
    super();
  }

  protected async readCheckpoint(id: string): Promise<number | undefined> {
    const staged = this.staged.get(id);
    if (staged === undefined) return this.committed.get(id);
    return staged.position === DELETED ? undefined : staged.position;
  }

  protected async writeCheckpoint(id: string, position: number, expected: number | undefined): Promise<void> {
    const current = await this.readCheckpoint(id);
    if (expected !== undefined && (current ?? 0) !== expected) throw checkpointConflict(id, expected, current);
    // What the commit compares against is the committed position this transaction started from.
    const before = this.staged.get(id);
    this.staged.set(id, { position, expected: before === undefined ? (expected ?? undefined) : before.expected });
  }

  protected async deleteCheckpoint(id: string): Promise<void> {
    const before = this.staged.get(id);
    this.staged.set(id, { position: DELETED, expected: before?.expected });
  }
}
