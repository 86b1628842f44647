import { ValidationError } from "../errors.js";
import { CheckpointStore, checkpointConflict } from "./checkpoint-store.js";

/** What a transaction means to write for one checkpoint: the new position, and the one it expects committed. */
export interface StagedCheckpoint {
  readonly position: number;
  readonly expected: number | undefined;
}

/**
 * The checkpoints of a read-model transaction in a store without interactive transactions
 * (DynamoDB, SQLite batches): reads see what the transaction staged, else what is committed; writes
 * are staged in `staged` for the store to apply, conditionally, with the documents at commit.
 * Deleting is refused: a delete cannot join such a commit.
 */
export class StagedCheckpointStore extends CheckpointStore {
  constructor(
    readonly committed: CheckpointStore,
    readonly staged: Map<string, StagedCheckpoint>,
    /** Names the backend in the refusal to delete. */
    readonly backend: string,
  ) {
    super();
  }

  protected async readCheckpoint(id: string): Promise<number | undefined> {
    return this.staged.get(id)?.position ?? this.committed.load(id);
  }

  protected async writeCheckpoint(id: string, position: number, expected: number | undefined): Promise<void> {
    const before = this.staged.get(id);
    if (before !== undefined && expected !== undefined && before.position !== expected) {
      throw checkpointConflict(id, expected, before.position);
    }
    // The commit's condition is against what was committed when the transaction began.
    this.staged.set(id, { position, expected: before === undefined ? expected : before.expected });
  }

  protected async deleteCheckpoint(): Promise<void> {
    throw new ValidationError(`Checkpoints cannot be deleted inside a ${this.backend} read-model transaction`);
  }
}
