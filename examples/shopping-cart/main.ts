/**
 * `bun run demo`: runs the shopping-cart scenario on the in-memory defaults and prints what happened.
 * `bun run demo -- --db shop.db` keeps the events in that SQLite file instead: run it again and the
 * first run's events are there (and in the read model) before the second run's.
 */
import { formatReport, runDemo } from "./demo.js";
import { CannotOpenError, NoSqliteError, openSqliteFile } from "./sqlite-file.js";

const args = process.argv.slice(2);
// Only `--db <file>` is understood: anything else (`--db=shop.db`, a typo, an empty path, which SQLite
// would take for a temporary database) is refused rather than quietly running without the file.
const given = args[1];
const path =
  args.length === 2 && args[0] === "--db" && given !== undefined && given !== "" && !given.startsWith("--")
    ? given
    : undefined;
if (args.length > 0 && path === undefined) {
  console.error(`unexpected arguments: ${args.join(" ")}`);
  console.error(
    "usage: npm run demo [-- --db <file.db>] (npm run demo:node on Node; bun run demo with a Bun of your own)",
  );
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
    if (!(error instanceof NoSqliteError || error instanceof CannotOpenError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
