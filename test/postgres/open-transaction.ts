import type { PostgresSql } from "../../adapters/postgres/index.js";

/**
 * Opens a transaction on `sql` that takes a transaction id and stays open, so that PostgreSQL's feed
 * readers stop below it (events committed after it began stay unread), until the returned function
 * commits it. That function may be called more than once (a test's body and its `finally`).
 */
export async function holdOpenTransaction(sql: PostgresSql): Promise<() => Promise<void>> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let holding!: () => void;
  const held = new Promise<void>((resolve) => {
    holding = resolve;
  });
  const blocker = sql.begin(async (tx) => {
    await tx`SELECT pg_current_xact_id()`;
    holding();
    await released;
  });
  await Promise.race([held, blocker]);
  return async () => {
    release();
    await blocker;
  };
}
