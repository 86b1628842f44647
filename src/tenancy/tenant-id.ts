import { InvalidTenantError } from "./errors.js";

/** A validated tenant id (see {@link tenantId}). */
export type TenantId = string & { readonly __tenantId: unique symbol };

/** Longest tenant id: leaves room for a prefix in a PostgreSQL identifier (63 bytes) or a DynamoDB table name. */
export const MAX_TENANT_ID_LENGTH = 48;

/**
 * Lower case only: tenants become schema names, file names and key prefixes, and PostgreSQL folds
 * unquoted names and some file systems fold case, so "Acme" and "acme" must not be two tenants. No
 * separator a backend uses (`/`, `:`, `.`, `#`, control characters), so an id cannot reach another's
 * keys. No `_` either: SQL names take `_` where the id has `-` ({@link tenantIdentifier}), and two
 * tenants must never map to one name.
 */
const TENANT_ID = /^[a-z0-9][a-z0-9-]*$/;

export function isTenantId(value: unknown): value is TenantId {
  return typeof value === "string" && value.length <= MAX_TENANT_ID_LENGTH && TENANT_ID.test(value);
}

/**
 * Checks a tenant id: 1 to 48 characters among `a-z`, `0-9` and `-`, starting with a letter or digit.
 * @throws {InvalidTenantError} anything else (the message never echoes the value).
 */
export function tenantId(value: unknown): TenantId {
  if (isTenantId(value)) return value;
  if (typeof value !== "string")
    throw new InvalidTenantError(`expected a string, got ${value === null ? "null" : typeof value}`);
  if (value.length === 0 || value.length > MAX_TENANT_ID_LENGTH) {
    throw new InvalidTenantError(`${value.length} characters, expected 1 to ${MAX_TENANT_ID_LENGTH}`);
  }
  throw new InvalidTenantError("use a-z, 0-9 and '-', starting with a letter or digit");
}

/**
 * The tenant as part of an SQL name (a PostgreSQL schema, an SQLite table prefix): `-` becomes `_`.
 * One name per tenant, since tenant ids hold no `_`: so only a tenant id is taken (`a_b`, and `A-b`
 * once PostgreSQL folds it, would be tenant `a-b`'s name).
 * @throws {InvalidTenantError} `tenant` is no tenant id.
 */
export function tenantIdentifier(tenant: TenantId): string {
  return tenantId(tenant).replaceAll("-", "_");
}
