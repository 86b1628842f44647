/**
 * `bun run demo:tasks`: the Worker in workerd on this machine, without wrangler: bundled as
 * `wrangler deploy` bundles it, run by miniflare with wrangler.toml's compatibility date and its
 * Durable Object (SQLite-backed). Nothing else to start.
 *   PORT               the port (8787; 0 picks a free one)
 *   TASKS_PERSIST_DIR  keep the objects' databases in this folder between runs (by default in memory)
 *   USERS              JSON `{ "<token>": "<userId>" }` (by default the demo users below)
 * Runs on Bun (it reads wrangler.toml with Bun.TOML); the Worker itself is portable.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { bundleWorkerTemplate } from "../../worker-template/test/bundle.ts";

const DEMO_USERS = { "ada-token": "ada", "grace-token": "grace" };

const wrangler = Bun.TOML.parse(readFileSync(join(import.meta.dirname, "wrangler.toml"), "utf8")) as {
  compatibility_date: string;
};
const bundle = await bundleWorkerTemplate(join(import.meta.dirname, "worker.ts"));
const persist = process.env.TASKS_PERSIST_DIR;
const miniflare = new Miniflare({
  modules: [{ type: "ESModule", path: "worker.mjs", contents: bundle.code }],
  compatibilityDate: wrangler.compatibility_date,
  durableObjects: { PROJECTS: { className: "ProjectObject", useSQLite: true } },
  durableObjectsPersist: persist === undefined || persist === "" ? false : persist,
  bindings: { USERS: process.env.USERS ?? JSON.stringify(DEMO_USERS) },
  host: "127.0.0.1",
  port: Number(process.env.PORT ?? 8787),
});
const url = new URL("projects/demo/api", await miniflare.ready);
console.log(`tasks listening on ${url.href} (workerd, one Durable Object per project)`);
if (process.env.USERS === undefined) console.log("demo tokens: ada-token (ada), grace-token (grace)");

async function shutdown() {
  await miniflare.dispose();
  process.exit(0);
}
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
