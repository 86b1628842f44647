import {
  assertKnownOptions,
  CheckpointStore,
  checkpointConflict,
  ServiceError,
  ValidationError,
} from "../../src/index.js";
import { attemptsOn, type PostgresQueryable } from "./client.js";
import { textIssues } from "./encode.js";
import { guard, guardReconnecting, SERVICE } from "./errors.js";
import { NAME_OPTIONS, type PostgresNameOptions, tableNames } from "./names.js";
import { pingPostgres } from "./ping.js";
import { type Statements, statements } from "./statements.js";

export interface PostgresCheckpointStoreOptions extends PostgresNameOptions {
  /**
   * What runs the statements: a client, or a transaction (`tx.sql` in `withTransaction`, the
   * projection context's `sql`) to save a checkpoint atomically with a read-model change.
   */
  readonly sql: PostgresQueryable;
}

const OPTIONS = Object.keys({ ...NAME_OPTIONS, sql: true } satisfies Record<
  keyof PostgresCheckpointStoreOptions,
  true
>);

/**
 * Checkpoints in the event store's database (the `checkpoints` table of migration 2). Compare-and-set
 * rides on row locks: of two writers from one position, the second waits for the first to commit,
 * then finds the position moved and fails with a ConcurrencyError.
 */
export class PostgresCheckpointStore extends CheckpointStore {
  readonly #sql: PostgresQueryable;
  /** The store's own table, which `ping` selects from. */
  readonly #table: string;
  readonly #statements: Statements["checkpoint"];

  constructor(options: PostgresCheckpointStoreOptions) {
    super();
    // A misspelt `schmea` read and wrote the default schema's checkpoints.
    assertKnownOptions(options, OPTIONS, "checkpoint store options");
    if (typeof options?.sql !== "function") {
      throw new ValidationError("Invalid checkpoint store options", [
        { path: ["sql"], message: "sql must be a postgres.js client or transaction" },
      ]);
    }
    this.#sql = options.sql;
    const names = tableNames(options, OPTIONS);
    this.#statements = statements(names).checkpoint;
    this.#table = names.checkpoints;
  }

  /** A select of no row from the checkpoints table (see pingPostgres): for health checks. */
  override ping(signal?: AbortSignal): Promise<void> {
    return pingPostgres(this.#sql, this.#table, signal);
  }

  protected readCheckpoint(id: string): Promise<number | undefined> {
    assertStorable(id);
    return guardReconnecting("loadCheckpoint", attemptsOn(this.#sql), async () => {
      const [row] = (await this.#sql.unsafe(this.#statements.read, [id], { prepare: true }).values()) as unknown as [
        string,
      ][];
      return row === undefined ? undefined : storedPosition(row[0]);
    });
  }

  protected async writeCheckpoint(id: string, position: number, expected: number | undefined): Promise<void> {
    assertStorable(id);
    const written = await guard("storeCheckpoint", async () => {
      if (expected === undefined) {
        await this.#sql.unsafe(this.#statements.write, [id, String(position)], { prepare: true });
        return true;
      }
      const rows =
        expected === 0
          ? await this.#sql.unsafe(this.#statements.writeIfNone, [id, String(position)], { prepare: true })
          : await this.#sql.unsafe(this.#statements.writeIfAt, [id, String(position), String(expected)], {
              prepare: true,
            });
      return rows.length > 0;
    });
    if (!written) throw checkpointConflict(id, expected ?? 0, await this.readCheckpoint(id));
  }

  protected async deleteCheckpoint(id: string): Promise<void> {
    assertStorable(id);
    await guard("deleteCheckpoint", () => this.#sql.unsafe(this.#statements.remove, [id], { prepare: true }));
  }
}

function assertStorable(id: string): void {
  const issues = textIssues(id, []);
  if (issues.length > 0) throw new ValidationError("Invalid checkpoint id", issues);
}

/**
 * The bigint column holds positions a number cannot (another tool wrote the row): a ServiceError
 * saying so, rather than the nearest number, a position no event has, for a runner to resume from.
 */
function storedPosition(text: string): number {
  const position = Number(text);
  if (Number.isSafeInteger(position)) return position;
  throw new ServiceError(
    SERVICE,
    "loadCheckpoint",
    "CHECKPOINT_CORRUPT",
    false,
    "a stored checkpoint is past 2^53 - 1 (a row another tool wrote): repair or delete it",
  );
}
