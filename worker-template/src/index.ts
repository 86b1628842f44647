/**
 * The Worker on Cloudflare D1: wrangler.toml's `main`, what `wrangler dev` runs offline and
 * `wrangler deploy --env=""` deploys. Only the D1 store is bundled; the other stores have entries
 * of their own (src/dynamodb.ts, src/postgres.ts), deployed by their wrangler environments.
 */
import type { Env } from "./config.js";
import { D1IdempotencyStore, openD1Store } from "./stores/d1.js";
import { todoWorker } from "./worker.js";

type App = ReturnType<typeof todoWorker>;

/**
 * One app per bindings object, made on its first request: the routes take their idempotency store
 * when they are made, and the D1 binding it needs arrives with the request. workerd hands an
 * isolate's requests the same bindings, so this is one app per isolate, as a module-level app was.
 * Without DB the keys stay in memory and the store's opener reports the missing binding.
 */
const apps = new WeakMap<Env, App>();

export default {
  fetch(request: Request, env: Env, ctx: Parameters<App["fetch"]>[2]) {
    let app = apps.get(env);
    if (app === undefined) {
      app = todoWorker(openD1Store, env.DB && new D1IdempotencyStore(env.DB));
      apps.set(env, app);
    }
    return app.fetch(request, env, ctx);
  },
};
