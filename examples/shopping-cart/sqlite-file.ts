/**
 * `--db <path>`: the demo's events in a SQLite file, so a second run finds the first run's events.
 * Bun has `bun:sqlite`; Node has `node:sqlite` from 22.13 (22.5 behind --experimental-sqlite). Node
 * 20 has neither: the demo says so and stops, rather than quietly keeping nothing (a driver such
 * as better-sqlite3 works there, see docs/adapters/sqlite.md).
 */

import { bunSqliteDriver, nodeSqliteDriver, type SqliteDriver, SqliteEventStore } from "../../adapters/sqlite/index.js";
import type { EventPublisher } from "../../src/index.js";

export interface SqliteFile {
  /** Makes the store over the file, publishing to the shop's bus. */
  readonly store: (bus: EventPublisher) => SqliteEventStore;
  /** "SQLite (bun:sqlite, path)", for the report. */
  readonly name: string;
  readonly migrate: () => Promise<unknown>;
  readonly close: () => void;
}

/** Thrown when this runtime has no SQLite module; the message says what to do instead. */
export class NoSqliteError extends Error {
  override readonly name = "NoSqliteError";
}

/** Thrown when SQLite cannot open the file (a folder, a folder that does not exist, no permission). */
export class CannotOpenError extends Error {
  override readonly name = "CannotOpenError";
  constructor(path: string, cause: unknown) {
    super(`--db ${path}: SQLite cannot open it (${cause instanceof Error ? cause.message : String(cause)})`, { cause });
  }
}

function opened<T>(path: string, open: () => T): T {
  try {
    return open();
  } catch (error) {
    throw new CannotOpenError(path, error);
  }
}

export async function openSqliteFile(path: string): Promise<SqliteFile> {
  let driver: SqliteDriver;
  let close: () => void;
  let module: string;
  if (typeof (globalThis as { Bun?: unknown }).Bun !== "undefined") {
    const { Database } = await import("bun:sqlite");
    const db = opened(path, () => new Database(path, { create: true }));
    driver = bunSqliteDriver(db);
    close = () => db.close();
    module = "bun:sqlite";
  } else {
    // A variable, so bundlers leave the import to the runtime: Node 20 fails it here, not at load.
    const name = "node:sqlite";
    let sqlite: { DatabaseSync: new (path: string) => Parameters<typeof nodeSqliteDriver>[0] & { close(): void } };
    try {
      sqlite = await import(name);
    } catch {
      throw new NoSqliteError(
        `--db needs node:sqlite, which Node ${process.versions.node} lacks (Node 22.13 or later has it): ` +
          "run the demo with Bun or Node 22, or without --db to keep the events in memory",
      );
    }
    const db = opened(path, () => new sqlite.DatabaseSync(path));
    driver = nodeSqliteDriver(db);
    close = () => db.close();
    module = "node:sqlite";
  }
  const migrated = new SqliteEventStore({ driver });
  return {
    store: (bus) => new SqliteEventStore({ driver, bus }),
    name: `SQLite (${module}, ${path})`,
    migrate: () => migrated.migrate(),
    close,
  };
}
