import { type Issue, ValidationError } from "../../src/index.js";

export interface SqliteNameOptions {
  /**
   * Prepended to every table name, so several stores (or applications) share one database:
   * 1–30 of `a-z 0-9 _`, not starting with a digit or `sqlite_`. Defaults to `"eventflows_"`.
   */
  readonly tablePrefix?: string;
}

export const DEFAULT_TABLE_PREFIX = "eventflows_";

export interface SqliteTableNames {
  readonly prefix: string;
  readonly events: string;
  readonly snapshots: string;
  readonly checkpoints: string;
  readonly readModels: string;
  readonly streamDeletions: string;
  readonly migrations: string;
  readonly sagas: string;
  readonly sagaHandled: string;
  readonly sagaOutbox: string;
  readonly sagaTimeouts: string;
  readonly sagaFailures: string;
}

const PREFIX = /^[a-z_][a-z0-9_]{0,29}$/;

export function nameIssues(options: SqliteNameOptions | null | undefined): Issue[] {
  const prefix = options?.tablePrefix;
  if (prefix === undefined) return [];
  if (typeof prefix !== "string" || !PREFIX.test(prefix) || prefix.startsWith("sqlite_")) {
    return [
      {
        path: ["tablePrefix"],
        // The rule alone, as PostgreSQL's names.ts words it: the issue's path names the field, and the
        // CLI puts its option (--prefix) in the field's place, which a message naming tablePrefix defeated.
        message: "a table prefix is 1-30 characters of a-z, 0-9 and _, starting with a letter or _, not sqlite_",
      },
    ];
  }
  return [];
}

/** The quoted table names for a prefix (validated: only `a-z 0-9 _` reach the SQL). */
export function tableNames(options?: SqliteNameOptions | null): SqliteTableNames {
  const issues = nameIssues(options);
  if (issues.length > 0) throw new ValidationError("Invalid SQLite names", issues);
  const prefix = options?.tablePrefix ?? DEFAULT_TABLE_PREFIX;
  const quoted = (name: string) => `"${prefix}${name}"`;
  return {
    prefix,
    events: quoted("events"),
    snapshots: quoted("snapshots"),
    checkpoints: quoted("checkpoints"),
    readModels: quoted("read_models"),
    streamDeletions: quoted("stream_deletions"),
    migrations: quoted("migrations"),
    sagas: quoted("sagas"),
    sagaHandled: quoted("saga_handled"),
    sagaOutbox: quoted("saga_outbox"),
    sagaTimeouts: quoted("saga_timeouts"),
    sagaFailures: quoted("saga_failures"),
  };
}
