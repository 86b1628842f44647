import { ValidationError } from "../../src/index.js";
import type { PostgresSql } from "./client.js";
import { guard } from "./errors.js";
import { type MigrateResult, migrate } from "./migrate.js";
import { tableNames } from "./names.js";

/** How tenants' schemas are named: `<schemaPrefix><tenant>`, each with the same table prefix. */
export interface TenantSchemaOptions {
  /** Starts every tenant's schema name. Defaults to `"tenant_"`. */
  readonly schemaPrefix?: string;
  /** The table prefix inside each tenant's schema. Defaults to none. */
  readonly tablePrefix?: string;
}

/** A tenant's schema as {@link listTenantSchemas} finds it. */
export interface TenantSchema {
  readonly tenant: string;
  readonly schema: string;
}

export const DEFAULT_TENANT_SCHEMA_PREFIX = "tenant_";

// A tenant id becomes part of an identifier: the characters PostgreSQL needs no quoting for, lower
// case (an unquoted name folds to it), so an operator can type the schema name in psql.
const TENANT_PATTERN = /^[a-z0-9_]+$/;

/**
 * The schema holding a tenant's tables: `<schemaPrefix><tenant>`, e.g. `tenant_acme`. Pass it as
 * `schema` to every store of that tenant, all on one shared client (the pool).
 * @throws {ValidationError} a tenant id other than a-z, 0-9 and _, or one whose schema name would pass 40 characters.
 */
export function tenantSchemaName(tenant: string, options: TenantSchemaOptions = {}): string {
  const prefix = options.schemaPrefix ?? DEFAULT_TENANT_SCHEMA_PREFIX;
  if (typeof tenant !== "string" || !TENANT_PATTERN.test(tenant)) {
    throw new ValidationError("Invalid tenant id", [
      { path: ["tenant"], message: "a tenant id for schema-per-tenant isolation is a-z, 0-9 and _ only" },
    ]);
  }
  const schema = `${prefix}${tenant}`;
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
  options: TenantSchemaOptions = {},
): Promise<string> {
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

/** The tenants that have a migrated schema (one holding the migrations table), by tenant id. */
export async function listTenantSchemas(sql: PostgresSql, options: TenantSchemaOptions = {}): Promise<TenantSchema[]> {
  const prefix = options.schemaPrefix ?? DEFAULT_TENANT_SCHEMA_PREFIX;
  const migrationsTable = `${options.tablePrefix ?? ""}migrations`;
  return guard("listTenantSchemas", async () => {
    const rows = await sql.unsafe(
      `SELECT nspname FROM pg_namespace
        WHERE starts_with(nspname, $1) AND length(nspname) > length($1)
          AND to_regclass(quote_ident(nspname) || '.' || quote_ident($2)) IS NOT NULL
        ORDER BY nspname`,
      [prefix, migrationsTable],
    );
    return rows
      .map((row) => String(row.nspname))
      .filter((schema) => TENANT_PATTERN.test(schema.slice(prefix.length)))
      .map((schema) => ({ tenant: schema.slice(prefix.length), schema }));
  });
}

/** What {@link migrateTenantSchemas} did to one tenant's schema. */
export interface TenantMigrateResult extends MigrateResult {
  readonly tenant: string;
  readonly schema: string;
}

/**
 * Brings every tenant's schema to the latest version, one schema after another (each in its own
 * transaction, so a failure leaves the schemas before it migrated and stops there).
 */
export async function migrateTenantSchemas(
  sql: PostgresSql,
  options: TenantSchemaOptions = {},
): Promise<TenantMigrateResult[]> {
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
  options: TenantSchemaOptions = {},
): Promise<void> {
  const schema = tenantSchemaName(tenant, options);
  const names = tableNames({ schema, tablePrefix: options.tablePrefix });
  await guard("dropTenantSchema", () =>
    sql.begin(async (tx) => {
      await tx.unsafe("SET LOCAL client_min_messages = warning");
      // The lock migrate takes for this schema.
      await tx.unsafe("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [`eventflows:${schema}:migrations`]);
      await tx.unsafe(`DROP SCHEMA IF EXISTS ${names.quotedSchema} CASCADE`);
    }),
  );
  ensured.get(sql)?.delete(`${schema}.${options.tablePrefix ?? ""}`);
}
