import { transactionEndedError } from "../../src/index.js";
import type { PostgresTransactionSql } from "./client.js";

/** The methods of a postgres.js transaction that send statements (besides calling it as a tag). */
const RUNS_STATEMENTS: ReadonlySet<PropertyKey> = new Set(["unsafe", "file", "savepoint", "prepare"]);

/**
 * A transaction's sql for the application, refused once `isOpen` says the transaction has ended:
 * postgres.js hands an ended transaction's statements to the connection it ran on, which is back
 * in the pool, so a kept sql wrote outside any transaction, or inside another caller's (and was
 * rolled back with it). Fragments and helpers (`sql(name)`, `sql(object)`) are statements only
 * when a tag runs them, so calling the sql is refused, and the methods that send statements are.
 */
export function untilEnded(sql: PostgresTransactionSql, isOpen: () => boolean): PostgresTransactionSql {
  const open = () => {
    if (!isOpen()) throw transactionEndedError();
  };
  return new Proxy(sql, {
    apply(target, self, args: unknown[]) {
      open();
      return Reflect.apply(target, self, args);
    },
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || !RUNS_STATEMENTS.has(property)) return value;
      return (...args: unknown[]) => {
        open();
        return Reflect.apply(value, target, args);
      };
    },
  });
}
