import { type Issue, unknownKeyIssues, ValidationError } from "../../src/index.js";

export interface SqliteNameOptions {
  /**
   * Prepended to every table name, so several stores (or applications) share one database:
   * 1–30 of `a-z 0-9 _`, not starting with a digit or `sqlite_`. Defaults to `"eventflows_"`.
   */
  readonly tablePrefix?: string;
}

export const DEFAULT_TABLE_PREFIX = "eventflows_";

/**
 * The keys of {@link SqliteNameOptions}, for the key lists of the options that extend them: typed as a
 * record so that a name option added to the interface and not here fails to compile.
 */
export const NAME_OPTIONS = { tablePrefix: true } as const satisfies Record<keyof SqliteNameOptions, true>;
const NAME_KEYS = Object.keys(NAME_OPTIONS);

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
  readonly idempotencyKeys: string;
  readonly subjectKeys: string;
  readonly dedup: string;
}

const PREFIX = /^[a-z_][a-z0-9_]{0,29}$/;

/**
 * What is wrong with the names, and any key outside `keys` (the options' own, which the stores pass): a
 * misspelt `tablePrefx` used the default tables without a word.
 */
export function nameIssues(
  options: SqliteNameOptions | null | undefined,
  keys: readonly string[] = NAME_KEYS,
): Issue[] {
  const unknown = unknownKeyIssues(options, keys);
  const prefix = options?.tablePrefix;
  if (prefix === undefined) return unknown;
  if (typeof prefix !== "string" || !PREFIX.test(prefix) || prefix.startsWith("sqlite_")) {
    return [
      ...unknown,
      {
        path: ["tablePrefix"],
        // The rule alone, as PostgreSQL's names.ts words it: the issue's path names the field, and the
        // CLI puts its option (--prefix) in the field's place, which a message naming tablePrefix defeated.
        message: "a table prefix is 1-30 characters of a-z, 0-9 and _, starting with a letter or _, not sqlite_",
      },
    ];
  }
  return unknown;
}

/** The quoted table names for a prefix (validated: only `a-z 0-9 _` reach the SQL). */
export function tableNames(options?: SqliteNameOptions | null, keys: readonly string[] = NAME_KEYS): SqliteTableNames {
  const issues = nameIssues(options, keys);
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
    idempotencyKeys: quoted("idempotency_keys"),
    subjectKeys: quoted("subject_keys"),
    dedup: quoted("dedup"),
  };
}
