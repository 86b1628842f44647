/**
 * The Worker on PostgreSQL (through Hyperdrive): the `main` of wrangler.toml's `[env.postgres]`.
 * Only the PostgreSQL store and postgres.js are bundled.
 */
import { openPostgresStore } from "./stores/postgres.js";
import { todoWorker } from "./worker.js";

export default todoWorker(openPostgresStore);
