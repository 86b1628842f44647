import { CheckpointStore } from "../checkpoint/checkpoint-store.js";
import { ValidationError } from "../errors.js";
import { PROJECTION_STATE_COLLECTION, projectionCheckpointId } from "./projection-runner.js";
import {
  type ReadModelDocument,
  type ReadModelDrop,
  ReadModelStore,
  type ReadModelStoreCapabilities,
  type ReadModelSwap,
  type ReadModelTransaction,
} from "./read-model-store.js";

/**
 * Where a rebuild of `projection` keeps `collection` until it is swapped in. A `/` or `%` in the
 * projection's name is written `%2F` or `%25`, so the name ends at the first `/` and two projections'
 * shadows never meet (`p` keeping `a/x` and `p/a` keeping `x` were both `~rebuild/p/a/x`).
 */
export function shadowCollection(projection: string, collection: string): string {
  return `~rebuild/${escapeName(projection)}/${collection}`;
}

/**
 * The checkpoint a rebuild of `projection` resumes from (the live one is `projectionCheckpointId`),
 * its name escaped as in `shadowCollection`: a shadow kept under the unescaped name by an older
 * version is not resumed into the escaped one, where its documents are not.
 */
export function rebuildCheckpointId(projection: string): string {
  return `rebuild:${escapeName(projection)}`;
}

function escapeName(projection: string): string {
  return projection.replace(/[%/]/g, (c) => (c === "%" ? "%25" : "%2F"));
}

/**
 * A projection's shadow generation inside a read-model store: the same store seen through names of
 * its own, so a `ProjectionRunner` given this view rebuilds into the shadow exactly as it runs live.
 * Its collections are the declared ones (anything else is refused: the swap must replace all the
 * projection writes), the projection's state, and its checkpoint under `rebuildCheckpointId`.
 */
export class ShadowReadModels extends ReadModelStore {
  readonly capabilities: ReadModelStoreCapabilities;
  readonly checkpoints: CheckpointStore;
  readonly #live: ReadModelStore;
  readonly #projection: string;
  readonly #collections: ReadonlySet<string>;
  readonly #beforeBatch: () => void;

  /** `beforeBatch` runs before each transaction (a rebuild's abort check). */
  constructor(live: ReadModelStore, projection: string, collections: readonly string[], beforeBatch = () => {}) {
    super();
    this.#live = live;
    this.#projection = projection;
    this.#collections = new Set(collections);
    this.#beforeBatch = beforeBatch;
    // The live store's batch sizes: the shadow's transactions are the live store's.
    const { atomicCheckpoints, defaultBatchSize, maxBatchSize } = live.capabilities;
    this.capabilities = {
      atomicCheckpoints,
      ...(defaultBatchSize === undefined ? {} : { defaultBatchSize }),
      ...(maxBatchSize === undefined ? {} : { maxBatchSize }),
    };
    this.checkpoints = new ShadowCheckpoints(live.checkpoints, projection);
  }

  /** What swapping this shadow in moves: its collections, the projection's state and its checkpoint. */
  get swapPlan(): ReadModelSwap {
    const name = this.#projection;
    return {
      collections: [...this.#collections].map((c) => ({ from: shadowCollection(name, c), to: c })),
      documents: [
        {
          from: { collection: shadowCollection(name, PROJECTION_STATE_COLLECTION), id: name },
          to: { collection: PROJECTION_STATE_COLLECTION, id: name },
        },
      ],
      checkpoints: [{ from: rebuildCheckpointId(name), to: projectionCheckpointId(name) }],
    };
  }

  /** What dropping this shadow removes. */
  get dropPlan(): ReadModelDrop {
    const plan = this.swapPlan;
    return {
      collections: plan.collections.map((c) => c.from),
      documents: plan.documents.map((d) => d.from),
      checkpoints: plan.checkpoints.map((c) => c.from),
    };
  }

  protected readDocument(collection: string, id: string): Promise<unknown> {
    return this.#live.get(this.#map(collection), id);
  }

  protected writeDocument(collection: string, id: string, document: unknown): Promise<void> {
    return this.#live.put(this.#map(collection), id, document);
  }

  protected override checkDocument(collection: string, id: string, document: unknown): Promise<void> {
    return this.#live.checkPut(this.#map(collection), id, document);
  }

  protected deleteDocument(collection: string, id: string): Promise<void> {
    return this.#live.delete(this.#map(collection), id);
  }

  protected listDocuments(collection: string): Promise<ReadModelDocument[]> {
    return this.#live.list(this.#map(collection));
  }

  protected runTransaction<T>(work: (tx: ReadModelTransaction) => Promise<T>): Promise<T> {
    this.#beforeBatch();
    return this.#live.transaction((tx) => {
      const map = (collection: string) => this.#map(collection);
      // Not the adapter's transaction: a handler asking for its SQL (postgresSqlOf) is refused, as
      // its own tables are not part of the shadow.
      const shadow: ReadModelTransaction = {
        checkpoints: new ShadowCheckpoints(tx.checkpoints, this.#projection),
        get: (collection, id) => tx.get(map(collection), id),
        put: (collection, id, document) => tx.put(map(collection), id, document),
        delete: (collection, id) => tx.delete(map(collection), id),
        preload: (keys) =>
          tx.preload?.(keys.map((k) => ({ collection: map(k.collection), id: k.id }))) ?? Promise.resolve(),
      };
      return work(shadow);
    });
  }

  #map(collection: string): string {
    if (collection !== PROJECTION_STATE_COLLECTION && !this.#collections.has(collection)) {
      throw new ValidationError("Read or write outside the rebuild's collections", [
        {
          path: ["collection"],
          message: `"${collection}" is not among the collections declared for the rebuild of "${this.#projection}"`,
        },
      ]);
    }
    return shadowCollection(this.#projection, collection);
  }
}

/** The shadow's checkpoint: the projection's live checkpoint id, kept under the rebuild's own. */
class ShadowCheckpoints extends CheckpointStore {
  constructor(
    readonly live: CheckpointStore,
    readonly projection: string,
  ) {
    super();
  }

  protected readCheckpoint(id: string): Promise<number | undefined> {
    return this.live.load(this.#map(id));
  }

  protected writeCheckpoint(id: string, position: number, expected: number | undefined): Promise<void> {
    return this.live.store(this.#map(id), position, expected === undefined ? {} : { expected });
  }

  protected deleteCheckpoint(id: string): Promise<void> {
    return this.live.delete(this.#map(id));
  }

  #map(id: string): string {
    if (id !== projectionCheckpointId(this.projection)) {
      throw new ValidationError("Checkpoint outside the rebuild", [
        { path: ["id"], message: `a rebuild of "${this.projection}" keeps only its own checkpoint` },
      ]);
    }
    return rebuildCheckpointId(this.projection);
  }
}
