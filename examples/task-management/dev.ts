/**
 * `bun run demo:tasks`: the Worker in workerd on this machine, without wrangler: bundled as
 * `wrangler deploy` bundles it, run by miniflare with wrangler.toml's compatibility date and flags
 * and its Durable Object (SQLite-backed). Nothing else to start.
 *   PORT               the port (8787; 0 picks a free one)
 *   TASKS_PERSIST_DIR  keep the objects' databases in this folder between runs (by default in memory)
 *   USERS              JSON `{ "<token>": "<userId>" }` (by default the demo users below)
 *   EVENTFLOWS_PG_URL  a PostgreSQL URL: the Worker gets it as its Hyperdrive binding and keeps each
 *                      project in a schema of its own there instead of in a Durable Object
 * Runs on Bun (it reads wrangler.toml with Bun.TOML); the Worker itself is portable.
 */
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { bundleWorkerTemplate } from "../../worker-template/test/bundle.ts";

const DEMO_USERS = { "ada-token": "ada", "grace-token": "grace" };

const wrangler = Bun.TOML.parse(readFileSync(join(import.meta.dirname, "wrangler.toml"), "utf8")) as {
  compatibility_date: string;
  compatibility_flags?: string[];
};
const bundle = await bundleWorkerTemplate(join(import.meta.dirname, "worker.ts"));
const persist = process.env.TASKS_PERSIST_DIR;
const pgUrl = process.env.EVENTFLOWS_PG_URL;
// Checked before anything starts: miniflare's Hyperdrive emulation fails on a server it cannot reach with an
// error thrown out of this process (the first request got no answer, and the demo exited), not the Worker's 503.
if (!hyperdriveOff()) await assertReachable(pgUrl as string);
const miniflare = new Miniflare({
  modules: [{ type: "ESModule", path: "worker.mjs", contents: bundle.code }],
  compatibilityDate: wrangler.compatibility_date,
  compatibilityFlags: wrangler.compatibility_flags ?? [],
  durableObjects: { PROJECTS: { className: "ProjectObject", useSQLite: true } },
  durableObjectsPersist: persist === undefined || persist === "" ? false : persist,
  bindings: { USERS: process.env.USERS ?? JSON.stringify(DEMO_USERS) },
  hyperdrives: hyperdriveOff() ? {} : { HYPERDRIVE: withPassword(pgUrl as string) },
  host: "127.0.0.1",
  port: Number(process.env.PORT ?? 8787),
});
const url = new URL("projects/demo/api", await miniflare.ready);
const storage = hyperdriveOff()
  ? "one Durable Object per project"
  : "PostgreSQL through Hyperdrive, one schema per project";
console.log(`tasks listening on ${url.href} (workerd, ${storage})`);
if (process.env.USERS === undefined) console.log("demo tokens: ada-token (ada), grace-token (grace)");

function hyperdriveOff(): boolean {
  return pgUrl === undefined || pgUrl === "";
}

/** Exits with one line naming the host and port (never the URL: it may hold a password) when nothing listens there. */
async function assertReachable(url: string): Promise<void> {
  const { hostname, port } = new URL(url);
  const where = `${hostname}:${port || 5432}`;
  const reached = await new Promise<boolean>((resolve) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ""), port: Number(port || 5432) });
    const settle = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(5_000);
    socket.once("connect", () => settle(true));
    socket.once("timeout", () => settle(false));
    socket.once("error", () => settle(false));
  }).catch(() => false);
  if (!reached) {
    console.error(`demo:tasks: no PostgreSQL answers at ${where} (EVENTFLOWS_PG_URL): start it, or unset the variable`);
    process.exit(1);
  }
}

/** Miniflare insists on a password in a Hyperdrive URL; a local server that asks for none ignores it. */
function withPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password === "") parsed.password = "unused";
  return parsed.toString();
}

async function shutdown() {
  await miniflare.dispose();
  process.exit(0);
}
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
