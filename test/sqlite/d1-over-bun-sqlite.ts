import type { Database } from "bun:sqlite";
import type { D1DatabaseLike, D1StatementLike } from "../../adapters/sqlite/index.js";

/**
 * A D1 binding over a bun:sqlite database, for tests without workerd: prepare/bind/all and batch as D1
 * has them, each batch one transaction. `onBatch` is told how many statements each batch sent.
 */
export function d1OverBunSqlite(db: Database, onBatch?: (statements: number) => void): D1DatabaseLike {
  type Bound = D1StatementLike & { sql: string; values: unknown[] };
  const statement = (sql: string, values: unknown[] = []): Bound => ({
    sql,
    values,
    bind: (...bound: unknown[]) => statement(sql, bound),
    all: async () => ({ results: db.query(sql).all(...(values as never[])) }),
  });
  return {
    prepare: (sql) => statement(sql),
    batch: async (statements) => {
      onBatch?.(statements.length);
      return db.transaction(() =>
        (statements as Bound[]).map((s) => ({ results: db.query(s.sql).all(...(s.values as never[])) })),
      )();
    },
  };
}
