/**
 * The Worker on Cloudflare D1: wrangler.toml's `main`, what `wrangler dev` runs offline and
 * `wrangler deploy --env=""` deploys. Only the D1 store is bundled; the other stores have entries
 * of their own (src/dynamodb.ts, src/postgres.ts), deployed by their wrangler environments.
 */
import { openD1Store } from "./stores/d1.js";
import { todoWorker } from "./worker.js";

export default todoWorker(openD1Store);
