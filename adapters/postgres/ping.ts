import { ValidationError } from "../../src/index.js";
import { cancelStatement, type PostgresQueryable } from "./client.js";
import { guard } from "./errors.js";

/**
 * The stores' `ping()`: one `select 1`, the cheapest round trip that proves a connection answers.
 * An abort (a health check's timeout) cancels the query, so a hung server does not hold a connection,
 * and one still waiting for a connection is never sent (see cancelStatement).
 */
export function pingPostgres(sql: PostgresQueryable, signal?: AbortSignal): Promise<void> {
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
    const query = sql.unsafe("select 1");
    const cancel = () => cancelStatement(query);
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      await query;
    } finally {
      signal?.removeEventListener("abort", cancel);
    }
  });
}
