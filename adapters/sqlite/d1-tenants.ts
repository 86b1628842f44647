import {
  type Issue,
  isTenantId,
  type TenantId,
  tenantId,
  UnknownTenantError,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import { D1_MAX_BATCH_STATEMENTS, type D1DatabaseLike, d1Driver } from "./d1-driver.js";
import type { SqliteDriver } from "./driver.js";

/** Each tenant's D1 binding name: a plain object, or a function that answers `undefined` for a tenant not served. */
export type D1TenantBindings = Readonly<Record<string, string>> | ((tenant: TenantId) => string | undefined);

export interface D1TenantDatabasesOptions {
  /** The Worker's bindings (its `env`), where each tenant's `[[d1_databases]]` binding is found. */
  readonly env: object;
  /**
   * Which binding is which tenant's database: `{ acme: "DB_ACME", globex: "DB_GLOBEX" }`, or a
   * function. A map naming one binding for two tenants is refused (they would share a database); a
   * function must give each tenant its own.
   */
  readonly bindings: D1TenantBindings;
  /**
   * Each tenant's driver's `maxBatchStatements` (see `d1Driver`): 1,000 by default (Workers Paid's
   * queries per invocation); pass 50 on the Free plan.
   */
  readonly maxBatchStatements?: number;
}

/** The tenant -> D1 database mapping `d1TenantDatabases()` makes, for `tenancy({ knows, stores })`. */
export interface D1TenantDatabases {
  /** Whether the tenant has a binding and the Worker holds it: `tenancy({ knows })`. */
  knows(tenant: string): boolean;
  /**
   * A driver over the tenant's own database. There is no default database: a tenant without a
   * binding, or whose binding the Worker does not hold, is refused.
   * @throws {InvalidTenantError} not a tenant id (the message does not echo it).
   * @throws {UnknownTenantError} no database for this tenant here.
   */
  driver(tenant: string): SqliteDriver;
}

/**
 * A database per tenant on Cloudflare D1: one `[[d1_databases]]` binding per tenant in the Worker's
 * wrangler config, found by tenant through `bindings`. Use it in `tenancy()`'s `stores` to give each
 * tenant stores over its own database (see docs/guide/multi-tenancy.md).
 */
export function d1TenantDatabases(options: D1TenantDatabasesOptions): D1TenantDatabases {
  const issues = optionIssues(options);
  if (issues.length > 0) throw new ValidationError("Invalid D1 tenant databases options", issues);
  const { env, bindings } = options;
  const driverOptions = { maxBatchStatements: options.maxBatchStatements ?? D1_MAX_BATCH_STATEMENTS };
  const nameOf = (tenant: string): string | undefined => {
    if (!isTenantId(tenant)) return undefined;
    // Own keys only: a tenant named "constructor" must not find Object.prototype's.
    if (typeof bindings !== "function") return Object.hasOwn(bindings, tenant) ? bindings[tenant] : undefined;
    const name = bindings(tenant);
    return typeof name === "string" && name !== "" ? name : undefined;
  };
  const databaseOf = (tenant: string): D1DatabaseLike | undefined => {
    const name = nameOf(tenant);
    // A binding is env's own property: one inherited through its prototype is not the Worker's binding.
    const db = name === undefined || !Object.hasOwn(env, name) ? undefined : (env as Record<string, unknown>)[name];
    const like = db as Partial<D1DatabaseLike> | undefined;
    return typeof like?.prepare === "function" && typeof like.batch === "function" ? (db as D1DatabaseLike) : undefined;
  };
  return {
    knows: (tenant) => databaseOf(tenant) !== undefined,
    driver: (tenant) => {
      const id = tenantId(tenant);
      const db = databaseOf(id);
      if (db === undefined) throw new UnknownTenantError(id);
      return d1Driver(db, driverOptions);
    },
  };
}

function optionIssues(options: D1TenantDatabasesOptions): Issue[] {
  if (typeof options !== "object" || options === null) return [{ path: [], message: "options must be an object" }];
  const issues: Issue[] = unknownKeyIssues(options, ["env", "bindings", "maxBatchStatements"]);
  const { maxBatchStatements } = options;
  if (maxBatchStatements !== undefined && (!Number.isSafeInteger(maxBatchStatements) || maxBatchStatements < 1)) {
    issues.push({ path: ["maxBatchStatements"], message: "maxBatchStatements must be a positive integer" });
  }
  if (typeof options.env !== "object" || options.env === null) {
    issues.push({ path: ["env"], message: "env must be the Worker's bindings object" });
  }
  const { bindings } = options;
  if (typeof bindings === "function") return issues;
  // A Map or an array would pass as an object of no (or numbered) tenants: only a plain object is a map here.
  const prototype = typeof bindings === "object" && bindings !== null ? Object.getPrototypeOf(bindings) : undefined;
  if (prototype !== Object.prototype && prototype !== null) {
    return [
      ...issues,
      { path: ["bindings"], message: "bindings must be a plain object of tenant to binding name, or a function" },
    ];
  }
  const owners = new Map<string, string>();
  for (const [tenant, name] of Object.entries(bindings)) {
    if (!isTenantId(tenant)) issues.push({ path: ["bindings", tenant], message: "not a tenant id" });
    if (typeof name !== "string" || name === "") {
      issues.push({ path: ["bindings", tenant], message: "the binding name must be a non-empty string" });
      continue;
    }
    const owner = owners.get(name);
    if (owner !== undefined) {
      issues.push({ path: ["bindings", tenant], message: `binding ${name} is already tenant ${owner}'s database` });
    }
    owners.set(name, tenant);
  }
  return issues;
}
