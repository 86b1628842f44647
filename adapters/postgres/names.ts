import { assertKnownOptions, type Issue, ValidationError } from "../../src/index.js";

/** Where the store's tables live. */
export interface PostgresNameOptions {
  /** The schema holding the tables; created by the migrations. Defaults to `"eventflows"`. */
  readonly schema?: string;
  /** Prepended to every table name, e.g. `"app_"` gives `app_events`. Defaults to none. */
  readonly tablePrefix?: string;
}

/** Quoted, schema-qualified identifiers, ready to splice into SQL text. */
export interface TableNames {
  readonly schema: string;
  readonly tablePrefix: string;
  readonly quotedSchema: string;
  readonly events: string;
  readonly checkpoints: string;
  readonly snapshots: string;
  readonly dedup: string;
  readonly idempotencyKeys: string;
  readonly readModels: string;
  readonly sagas: string;
  readonly sagaHandled: string;
  readonly sagaOutbox: string;
  readonly sagaTimeouts: string;
  readonly sagaFailures: string;
  readonly subjectKeys: string;
  readonly streamDeletions: string;
  readonly migrations: string;
  /** Unquoted constraint names, to tell one unique violation from another. */
  readonly constraints: { readonly streamVersion: string; readonly eventId: string; readonly position: string };
  /** Seeds the advisory-lock keys of this schema and prefix, so two stores in one database do not collide. */
  readonly lockNamespace: string;
}

export const DEFAULT_SCHEMA = "eventflows";

/**
 * The keys of {@link PostgresNameOptions}, for the key lists of the options that extend them: typed as a
 * record so that a name option added to the interface and not here fails to compile.
 */
export const NAME_OPTIONS = { schema: true, tablePrefix: true } as const satisfies Record<
  keyof PostgresNameOptions,
  true
>;
const NAME_KEYS = Object.keys(NAME_OPTIONS);

// Lower case only: such names need no quoting in hand-written SQL, and PostgreSQL folds unquoted
// names to lower case. A schema name is PostgreSQL's longest identifier (63 bytes; a longer one is
// cut silently), since no other name derives from it: room for a prefix and a 48-character tenant
// id (tenantSchemaName). The table prefix is shorter, so that every derived index name stays under 63.
const SCHEMA_PATTERN = /^[a-z_][a-z0-9_]{0,62}$/;
const PREFIX_PATTERN = /^(?:[a-z_][a-z0-9_]{0,29})?$/;

export function nameIssues(options: PostgresNameOptions): Issue[] {
  const issues: Issue[] = [];
  const schema = options.schema ?? DEFAULT_SCHEMA;
  if (typeof schema !== "string" || !SCHEMA_PATTERN.test(schema) || schema.startsWith("pg_")) {
    issues.push({
      path: ["schema"],
      message:
        "a schema name is 1-63 characters of a-z, 0-9 and _, starting with a letter or _ (and not pg_, which PostgreSQL reserves)",
    });
  }
  const prefix = options.tablePrefix ?? "";
  if (typeof prefix !== "string" || !PREFIX_PATTERN.test(prefix)) {
    issues.push({
      path: ["tablePrefix"],
      message: "a table prefix is 0-30 characters of a-z, 0-9 and _, starting with a letter or _",
    });
  }
  return issues;
}

/**
 * Names already derived, by schema and prefix: stores made per transaction (a projection batch's
 * checkpoint store) would otherwise validate and derive them, and render their statements, every time.
 * Bounded: a schema per tenant makes one entry per tenant.
 */
const derived = new Map<string, TableNames>();
const MAX_DERIVED = 1024;

/**
 * Validates the names and derives every identifier the SQL uses (the same object for the same names).
 * A key outside `keys` is refused: a misspelt `schmea` derived the default schema's names without a
 * word. The stores pass their own options, with their own keys (already checked by them).
 */
export function tableNames(options: PostgresNameOptions = {}, keys: readonly string[] = NAME_KEYS): TableNames {
  assertKnownOptions(options, keys, "PostgreSQL names");
  const { schema, tablePrefix } = options;
  const cacheable =
    (schema === undefined || typeof schema === "string") &&
    (tablePrefix === undefined || typeof tablePrefix === "string");
  // A NUL cannot be in a valid name, so the key is unambiguous; an invalid one is never cached.
  const key = cacheable ? `${schema ?? DEFAULT_SCHEMA}\u0000${tablePrefix ?? ""}` : undefined;
  const known = key === undefined ? undefined : derived.get(key);
  if (known !== undefined) return known;
  const names = deriveNames(options);
  if (key !== undefined) {
    if (derived.size >= MAX_DERIVED) derived.clear();
    derived.set(key, names);
  }
  return names;
}

function deriveNames(options: PostgresNameOptions): TableNames {
  const issues = nameIssues(options);
  if (issues.length > 0) throw new ValidationError("Invalid PostgreSQL names", issues);
  const schema = options.schema ?? DEFAULT_SCHEMA;
  const tablePrefix = options.tablePrefix ?? "";
  const quotedSchema = quote(schema);
  const table = (name: string) => `${quotedSchema}.${quote(`${tablePrefix}${name}`)}`;
  return Object.freeze({
    schema,
    tablePrefix,
    quotedSchema,
    events: table("events"),
    checkpoints: table("checkpoints"),
    snapshots: table("snapshots"),
    dedup: table("dedup"),
    idempotencyKeys: table("idempotency_keys"),
    readModels: table("read_models"),
    sagas: table("sagas"),
    sagaHandled: table("saga_handled"),
    sagaOutbox: table("saga_outbox"),
    sagaTimeouts: table("saga_timeouts"),
    sagaFailures: table("saga_failures"),
    subjectKeys: table("subject_keys"),
    streamDeletions: table("stream_deletions"),
    migrations: table("migrations"),
    constraints: {
      streamVersion: `${tablePrefix}events_stream_version`,
      eventId: `${tablePrefix}events_event_id`,
      position: `${tablePrefix}events_pkey`,
    },
    lockNamespace: `eventflows:${schema}.${tablePrefix}`,
  });
}

/** Quotes an identifier that already passed validation (so it has no quote to escape). */
function quote(identifier: string): string {
  return `"${identifier}"`;
}
