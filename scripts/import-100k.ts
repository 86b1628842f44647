/**
 * The importers at the size issue 16 names: 100,000 events written with Emmett into PostgreSQL and
 * with Castore into DynamoDB Local, imported, and checked (counts, versions, every event compared,
 * a re-run, an interrupted run). The test command runs the same tests at 10,000 events, since 100,000
 * take minutes per store on a two-core machine.
 *   bun scripts/import-100k.ts
 */
import { spawnSync } from "node:child_process";

const files = ["adapters/postgres/emmett-import.int.test.ts", "adapters/dynamodb/castore-import.int.test.ts"];
const result = spawnSync(process.execPath, ["test", ...files], {
  stdio: "inherit",
  env: { ...process.env, EVENTFLOWS_IMPORT_EVENTS: "100000" },
});
process.exit(result.status ?? 1);
