/**
 * A child process for the crash tests (bun-sqlite reliability tests): appends to a file database
 * and prints after each step, so the parent can kill it (SIGKILL) at a known point.
 *   bun crash-writer.fixture.test.ts <file> loop <stream>   appends batches of 500 until killed
 *   bun crash-writer.fixture.test.ts <file> open <stream>   appends inside a transaction left open
 * Named .test.ts so the library's type check leaves it to the tests' one; it does nothing unless
 * the parent set EVENTFLOWS_CRASH_WRITER (so `bun test` loading it runs no writer). No tests here.
 */
import { Database } from "bun:sqlite";
import { bunSqliteDriver, SqliteEventStore } from "./index.js";

if (process.env.EVENTFLOWS_CRASH_WRITER === "1") await write(...(process.argv.slice(2) as [string, string, string]));

async function write(file: string, mode: string, stream: string): Promise<void> {
  const db = new Database(file);
  const store = new SqliteEventStore({ driver: bunSqliteDriver(db) });
  const batch = () => Array.from({ length: 500 }, (_, i) => ({ type: "Filled", data: { i, pad: "x".repeat(200) } }));
  if (mode === "open") {
    // The store's statements run on this connection, so the append joins the open transaction.
    db.exec("BEGIN IMMEDIATE");
    await store.appendToStream(stream, batch());
    console.log("appended, not committed");
    // Stays alive, the transaction open, until killed (a bare pending promise would let Bun exit).
    setInterval(() => undefined, 60_000);
    await new Promise(() => undefined);
  } else {
    for (;;) {
      await store.appendToStream(stream, batch());
      console.log("committed");
    }
  }
}
