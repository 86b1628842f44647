/**
 * `bun run demo`: runs the shopping-cart scenario on the in-memory defaults and prints what happened.
 * `bun run demo -- --db shop.db` keeps the events in that SQLite file instead: run it again and the
 * first run's events are there (and in the read model) before the second run's.
 */
import { formatReport, runDemo } from "./demo.js";
import { NoSqliteError, openSqliteFile } from "./sqlite-file.js";

const args = process.argv.slice(2);
const at = args.indexOf("--db");
const path = at === -1 ? undefined : args[at + 1];
if (at !== -1 && (path === undefined || path.startsWith("--"))) {
  console.error("usage: bun run demo [-- --db <file.db>]");
  process.exit(2);
}

if (path === undefined) {
  console.log(formatReport(await runDemo()).join("\n"));
} else {
  try {
    const file = await openSqliteFile(path);
    try {
      await file.migrate();
      console.log(formatReport(await runDemo({ store: file.store, storeName: file.name })).join("\n"));
    } finally {
      file.close();
    }
  } catch (error) {
    if (!(error instanceof NoSqliteError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
