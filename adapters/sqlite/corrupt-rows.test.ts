import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { isEventCorruptError, isEventFlowsError } from "../../src/index.js";
import { bunSqliteDriver, SqliteEventStore } from "./index.js";

/** What a read threw, or undefined when it read through. */
async function readError(read: () => AsyncIterable<unknown>): Promise<unknown> {
  try {
    for await (const _ of read()) {
      // drain
    }
  } catch (error) {
    return error;
  }
  return undefined;
}

describe("SQLite rows another tool wrote", () => {
  for (const column of ["data", "metadata"] as const) {
    test(`${column} that is not JSON fails every read with an EventCorruptError naming stream and version, not the text`, async () => {
      const db = new Database(":memory:");
      try {
        const store = new SqliteEventStore({ driver: bunSqliteDriver(db) });
        await store.migrate();
        await store.appendToStream("Order-1", [
          { type: "Placed", data: { n: 1 } },
          { type: "Paid", data: { n: 2 } },
        ]);
        db.run(`UPDATE eventflows_events SET ${column} = '{"card": "4111 1111' WHERE version = 2`);
        for (const read of [() => store.readStream("Order-1"), () => store.readAll()]) {
          const error = (await readError(read)) as Error & Record<string, unknown>;
          expect(isEventCorruptError(error) && isEventFlowsError(error)).toBe(true);
          expect(error).toMatchObject({ code: "EVENT_CORRUPT", streamId: "Order-1", version: 2 });
          expect(error.message).toContain(column);
          expect(`${error.message} ${String(error.cause)}`).not.toContain("4111");
        }
      } finally {
        db.close();
      }
    });
  }
});
