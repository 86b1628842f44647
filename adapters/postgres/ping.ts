import { ValidationError } from "../../src/index.js";
import { cancelStatement, type PostgresQueryable } from "./client.js";
import { guard } from "./errors.js";

/**
 * The stores' `ping()`: a select of no row from the store's own table (`LIMIT 0`), one round trip
 * that proves the connection answers and the schema is migrated: a `select 1` passed on a schema
 * without the table, and readiness said ready while every command failed (DynamoDB's ping fails on a
 * missing table). An abort (a health check's timeout) cancels the query, so a hung server does not
 * hold a connection, and one still waiting for a connection is never sent (see cancelStatement).
 */
export function pingPostgres(sql: PostgresQueryable, table: string, signal?: AbortSignal): Promise<void> {
  // A Proxy whose getPrototypeOf trap throws is no signal either: refused, not its trap's error.
  let signalled: boolean;
  try {
    signalled = signal == null || signal instanceof AbortSignal;
  } catch {
    signalled = false;
  }
  if (!signalled) {
    return Promise.reject(
      new ValidationError("Invalid ping", [
        { path: ["signal"], message: `must be an AbortSignal, got ${typeof signal}` },
      ]),
    );
  }
  return guard("ping", async () => {
    const query = sql.unsafe(`SELECT 1 FROM ${table} LIMIT 0`);
    const cancel = () => cancelStatement(query);
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      await query;
    } finally {
      signal?.removeEventListener("abort", cancel);
    }
  });
}
