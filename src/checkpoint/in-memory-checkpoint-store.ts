import { CheckpointStore, checkpointConflict } from "./checkpoint-store.js";

/** The reference checkpoint store, in memory: for tests and single-process apps. */
export class InMemoryCheckpointStore extends CheckpointStore {
  readonly #positions = new Map<string, number>();

  protected async readCheckpoint(id: string): Promise<number | undefined> {
    return this.#positions.get(id);
  }

  protected async writeCheckpoint(id: string, position: number, expected: number | undefined): Promise<void> {
    const current = this.#positions.get(id);
    if (expected !== undefined && (current ?? 0) !== expected) throw checkpointConflict(id, expected, current);
    this.#positions.set(id, position);
  }

  protected async deleteCheckpoint(id: string): Promise<void> {
    this.#positions.delete(id);
  }
}
