/**
 * The Worker on Cloudflare D1: wrangler.toml's `main`, what `wrangler dev` runs offline and
 * `wrangler deploy --env=""` deploys. Only the D1 store is bundled; the other stores have entries
 * of their own (src/dynamodb.ts, src/postgres.ts), deployed by their wrangler environments.
 */
import { D1IdempotencyStore, openD1Store } from "./stores/d1.js";
import { todoWorkerPerBindings } from "./worker.js";

export default todoWorkerPerBindings(openD1Store, (env) => env.DB && new D1IdempotencyStore(env.DB));
