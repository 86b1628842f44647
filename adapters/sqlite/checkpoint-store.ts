import { CheckpointStore, checkpointConflict, ServiceError, ValidationError } from "../../src/index.js";
import { driverIssues, type SqliteDriver } from "./driver.js";
import { storedInteger, textIssues } from "./encode.js";
import { guard, SERVICE } from "./errors.js";
import { NAME_OPTIONS, nameIssues, type SqliteNameOptions, tableNames } from "./names.js";
import { pingSqlite } from "./ping.js";

export interface SqliteCheckpointStoreOptions extends SqliteNameOptions {
  /** The database (the event store's `driver`, say). */
  readonly driver: SqliteDriver;
}

const OPTIONS = Object.keys({ ...NAME_OPTIONS, driver: true } satisfies Record<
  keyof SqliteCheckpointStoreOptions,
  true
>);

/**
 * Checkpoints in the event store's database (the `checkpoints` table of migration 2). A
 * compare-and-set is one statement whose condition is checked under SQLite's write lock: of two
 * writers from one position, the second finds the position moved and fails with a ConcurrencyError.
 */
export class SqliteCheckpointStore extends CheckpointStore {
  readonly #driver: SqliteDriver;
  readonly #table: string;

  constructor(options: SqliteCheckpointStoreOptions) {
    super();
    const issues =
      typeof options === "object" && options !== null
        ? [...driverIssues(options.driver), ...nameIssues(options, OPTIONS)]
        : [{ path: [], message: "options are required" }];
    if (issues.length > 0) throw new ValidationError("Invalid checkpoint store options", issues);
    this.#driver = options.driver;
    this.#table = tableNames(options, OPTIONS).checkpoints;
  }

  /** A select of no row from the store's table through the driver (see pingSqlite): for health checks. */
  override ping(): Promise<void> {
    return pingSqlite(this.#driver, this.#table);
  }

  protected readCheckpoint(id: string): Promise<number | undefined> {
    assertStorable(id);
    return guard("loadCheckpoint", this.#driver.name, async () => {
      const [row] = await this.#driver.all(`SELECT position FROM ${this.#table} WHERE id = ?`, [id]);
      return row === undefined ? undefined : storedPosition(row.position);
    });
  }

  protected async writeCheckpoint(id: string, position: number, expected: number | undefined): Promise<void> {
    assertStorable(id);
    const now = new Date().toISOString();
    const upsert = `INSERT INTO ${this.#table} (id, position, updated_at) VALUES (?, ?, ?)
ON CONFLICT (id) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`;
    const written = await guard("storeCheckpoint", this.#driver.name, async () => {
      if (expected === undefined) {
        await this.#driver.all(upsert, [id, position, now]);
        return true;
      }
      // None saved counts as 0: expecting 0 inserts, or updates a checkpoint saved at 0.
      const rows =
        expected === 0
          ? await this.#driver.all(`${upsert} WHERE position = 0 RETURNING 1 AS done`, [id, position, now])
          : await this.#driver.all(
              `UPDATE ${this.#table} SET position = ?, updated_at = ? WHERE id = ? AND position = ? RETURNING 1 AS done`,
              [position, now, id, expected],
            );
      return rows.length > 0;
    });
    if (!written) throw checkpointConflict(id, expected ?? 0, await this.readCheckpoint(id));
  }

  protected async deleteCheckpoint(id: string): Promise<void> {
    assertStorable(id);
    await guard("deleteCheckpoint", this.#driver.name, () =>
      this.#driver.all(`DELETE FROM ${this.#table} WHERE id = ?`, [id]),
    );
  }
}

function assertStorable(id: string): void {
  const issues = textIssues(id, []);
  if (issues.length > 0) throw new ValidationError("Invalid checkpoint id", issues);
}

/**
 * SQLite's INTEGER column keeps text it cannot read as a number, a REAL and a BLOB as they are
 * (another tool wrote the row): a ServiceError saying so, rather than NaN or 2.5 for a runner to resume from.
 */
function storedPosition(value: unknown): number {
  const position = storedInteger(value);
  if (Number.isSafeInteger(position) && position >= 0) return position;
  throw new ServiceError(
    SERVICE,
    "loadCheckpoint",
    "CHECKPOINT_CORRUPT",
    false,
    "a stored checkpoint is not a position (a row another tool wrote): repair or delete it",
  );
}
