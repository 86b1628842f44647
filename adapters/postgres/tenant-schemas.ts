import {
  assertKnownOptions,
  isTenantId,
  type TenantId,
  tenantId,
  tenantIdentifier,
  ValidationError,
} from "../../src/index.js";
import type { PostgresSql } from "./client.js";
import { guard } from "./errors.js";
import { type MigrateResult, migrate } from "./migrate.js";
import { tableNames } from "./names.js";
import { beginUnlessGone } from "./transaction-scope.js";

/** How tenants' schemas are named: `<schemaPrefix><tenant with _ for ->`, each with the same table prefix. */
export interface TenantSchemaOptions {
  /** Starts every tenant's schema name. Defaults to `"tenant_"`. */
  readonly schemaPrefix?: string;
  /** The table prefix inside each tenant's schema. Defaults to none. */
  readonly tablePrefix?: string;
}

/** A tenant's schema as {@link listTenantSchemas} finds it. */
export interface TenantSchema {
  readonly tenant: TenantId;
  readonly schema: string;
}

export const DEFAULT_TENANT_SCHEMA_PREFIX = "tenant_";

// What starts a schema name and leaves room for at least one character of a tenant id. An empty
// prefix would make every schema whose whole name reads as a tenant id a tenant's (the store's own
// `eventflows` among them); one with capitals or other characters matches no schema the stores make.
const SCHEMA_PREFIX_PATTERN = /^[a-z_][a-z0-9_]{0,61}$/;

/** The prefix given, or the default, once checked: the same check for naming, listing and migrating. */
function schemaPrefixOf(options: TenantSchemaOptions): string {
  const prefix = options?.schemaPrefix ?? DEFAULT_TENANT_SCHEMA_PREFIX;
  if (typeof prefix !== "string" || !SCHEMA_PREFIX_PATTERN.test(prefix) || prefix.startsWith("pg_")) {
    throw new ValidationError("Invalid tenant schema options", [
      {
        path: ["schemaPrefix"],
        message:
          "a tenant schema prefix is 1-62 characters of a-z, 0-9 and _, starting with a letter or _ (and not pg_, which PostgreSQL reserves)",
      },
    ]);
  }
  return prefix;
}

const OPTIONS = Object.keys({ schemaPrefix: true, tablePrefix: true } satisfies Record<
  keyof TenantSchemaOptions,
  true
>);

/**
 * Options of null are none, as for the stores' calls (not a TypeError). A key they do not take is
 * refused: a misspelt `schemaPrefx` named, listed, migrated or dropped the default prefix's schemas.
 */
function given(options: TenantSchemaOptions | null | undefined): TenantSchemaOptions {
  assertKnownOptions(options, OPTIONS, "tenant schema options");
  return options ?? {};
}

/** Refuses what is not a postgres.js client before anything runs (not a TypeError, nor a cache keyed by it). */
function assertClient(sql: unknown): void {
  if (typeof sql !== "function") {
    throw new ValidationError("Invalid tenant schema options", [
      { path: ["sql"], message: "sql must be a postgres.js client (postgres(...))" },
    ]);
  }
}

/**
 * The schema holding a tenant's tables: `<schemaPrefix><tenantIdentifier(tenant)>`, e.g. `tenant_acme`
 * or `tenant_acme_eu` for `acme-eu`: the core's tenant ids, with `-` as `_` so that the name needs no
 * quoting in psql. One schema per tenant, since tenant ids hold no `_`. Pass it as `schema` to every
 * store of that tenant, all on one shared client (the pool).
 * @throws {InvalidTenantError} a value that is not a tenant id (see `tenantId` of `@eventflows/core`).
 * @throws {ValidationError} an empty or malformed prefix, or one that makes no valid schema name
 * (over 63 characters, `pg_…`).
 */
export function tenantSchemaName(tenant: string, optionsGiven: TenantSchemaOptions = {}): string {
  const options = given(optionsGiven);
  const prefix = schemaPrefixOf(options);
  const schema = `${prefix}${tenantIdentifier(tenantId(tenant))}`;
  // The schema rules (length, characters, no pg_) are the stores' own.
  tableNames({ schema, tablePrefix: options.tablePrefix });
  return schema;
}

// Per client, the tenants whose schema this process already brought up to date: a store per
// request then costs no migration round trips after the tenant's first.
const ensured = new WeakMap<object, Map<string, Promise<MigrateResult>>>();

/**
 * Creates and migrates a tenant's schema on first use, once per client and process: later calls
 * for the same schema return the first call's promise. Safe across processes too: {@link migrate}
 * runs under an advisory lock per schema, so instances racing for a new tenant apply each
 * migration once. A failed call is forgotten, so the next one tries again.
 * @returns the schema name, to pass as `schema` to the tenant's stores.
 */
export async function ensureTenantSchema(
  sql: PostgresSql,
  tenant: string,
  optionsGiven: TenantSchemaOptions = {},
): Promise<string> {
  const options = given(optionsGiven);
  assertClient(sql);
  const schema = tenantSchemaName(tenant, options);
  const key = `${schema}.${options.tablePrefix ?? ""}`;
  let forClient = ensured.get(sql);
  if (forClient === undefined) {
    forClient = new Map();
    ensured.set(sql, forClient);
  }
  let run = forClient.get(key);
  if (run === undefined) {
    run = migrate(sql, { schema, tablePrefix: options.tablePrefix });
    forClient.set(key, run);
    const client = forClient;
    run.catch(() => client.delete(key));
  }
  await run;
  return schema;
}

/**
 * The tenants that have a migrated schema (one holding the migrations table), by tenant id.
 * @throws {ValidationError} an empty or malformed prefix, before anything is read.
 */
export async function listTenantSchemas(
  sql: PostgresSql,
  optionsGiven: TenantSchemaOptions = {},
): Promise<TenantSchema[]> {
  const options = given(optionsGiven);
  assertClient(sql);
  const prefix = schemaPrefixOf(options);
  const migrationsTable = `${options.tablePrefix ?? ""}migrations`;
  return guard("listTenantSchemas", async () => {
    // The catalog, not to_regclass: to_regclass fails the whole listing on a schema with the prefix
    // that this role may not use (another application's tenant_settings, say). Tables only: to_regclass
    // also matched a view, sequence or index of that name.
    const rows = await sql.unsafe(
      `SELECT n.nspname FROM pg_namespace AS n
        WHERE starts_with(n.nspname, $1) AND length(n.nspname) > length($1)
          AND EXISTS (SELECT 1 FROM pg_class AS c
                       WHERE c.relnamespace = n.oid AND c.relname = $2 AND c.relkind IN ('r', 'p'))
        ORDER BY n.nspname`,
      [prefix, migrationsTable],
    );
    const tenants: TenantSchema[] = [];
    for (const row of rows) {
      const schema = String(row.nspname);
      // tenantSchemaName backwards: a schema no tenant id maps to is not a tenant's. A quoted name
      // with `-` in it (`tenant_acme-eu`) reads back as a tenant id too, but is not that tenant's
      // schema (`tenant_acme_eu` is): it would be listed, and migrated, as a second schema of it.
      const suffix = schema.slice(prefix.length);
      const tenant = suffix.replaceAll("_", "-");
      if (isTenantId(tenant) && tenantIdentifier(tenant) === suffix) tenants.push({ tenant, schema });
    }
    return tenants;
  });
}

/** What {@link migrateTenantSchemas} did to one tenant's schema. */
export interface TenantMigrateResult extends MigrateResult {
  readonly tenant: TenantId;
  readonly schema: string;
}

/**
 * Brings every tenant's schema to the latest version, one schema after another (each in its own
 * transaction, so a failure leaves the schemas before it migrated and stops there).
 * @throws {ValidationError} an empty or malformed prefix, before anything is read or migrated.
 */
export async function migrateTenantSchemas(
  sql: PostgresSql,
  optionsGiven: TenantSchemaOptions = {},
): Promise<TenantMigrateResult[]> {
  const options = given(optionsGiven);
  const results: TenantMigrateResult[] = [];
  for (const { tenant, schema } of await listTenantSchemas(sql, options)) {
    const result = await migrate(sql, { schema, tablePrefix: options.tablePrefix });
    results.push({ tenant, schema, ...result });
  }
  return results;
}

/**
 * Drops a tenant's schema with every table in it (its events, snapshots, read models, sagas and
 * keys): irreversible. Waits for a migration of that schema in flight. Dropping an absent schema
 * does nothing. This process forgets that it had ensured the schema.
 */
export async function dropTenantSchema(
  sql: PostgresSql,
  tenant: string,
  optionsGiven: TenantSchemaOptions = {},
): Promise<void> {
  const options = given(optionsGiven);
  assertClient(sql);
  const schema = tenantSchemaName(tenant, options);
  const names = tableNames({ schema, tablePrefix: options.tablePrefix });
  await guard("dropTenantSchema", () =>
    beginUnlessGone(sql, undefined, async (tx) => {
      await tx.unsafe("SET LOCAL client_min_messages = warning");
      // The lock migrate takes for this schema.
      await tx.unsafe("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`eventflows:${schema}:migrations`]);
      await tx.unsafe(`DROP SCHEMA IF EXISTS ${names.quotedSchema} CASCADE`);
    }),
  );
  ensured.get(sql)?.delete(`${schema}.${options.tablePrefix ?? ""}`);
}
