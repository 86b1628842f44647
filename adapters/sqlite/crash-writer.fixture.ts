/**
 * A child process for the crash tests (bun-sqlite reliability tests): appends to a file database
 * and prints after each step, so the parent can kill it (SIGKILL) at a known point.
 *   bun crash-writer.fixture.ts <file> loop <stream>   appends batches of 500 until killed
 *   bun crash-writer.fixture.ts <file> open <stream>   appends inside a transaction left open
 */
import { Database } from "bun:sqlite";
import { bunSqliteDriver, SqliteEventStore } from "./index.js";

const [file, mode, stream] = process.argv.slice(2) as [string, string, string];
const db = new Database(file);
const store = new SqliteEventStore({ driver: bunSqliteDriver(db) });
const batch = () => Array.from({ length: 500 }, (_, i) => ({ type: "Filled", data: { i, pad: "x".repeat(200) } }));
if (mode === "open") {
  // The store's statements run on this connection, so the append joins the open transaction.
  db.exec("BEGIN IMMEDIATE");
  await store.appendToStream(stream, batch());
  console.log("appended, not committed");
  await new Promise(() => undefined);
} else {
  for (;;) {
    await store.appendToStream(stream, batch());
    console.log("committed");
  }
}
