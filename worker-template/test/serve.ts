/**
 * `bun worker-template/test/serve.ts`: the template's D1 entry (wrangler.toml's top level) in workerd on
 * this machine, without wrangler: bundled as `wrangler deploy` bundles it, run by miniflare with
 * wrangler.toml's compatibility date, flags and vars, over miniflare's local D1 kept in memory. What the
 * OpenAPI contract check (scripts/check-openapi-contract.ts) serves schemathesis.
 *   PORT       the port (8787; 0 picks a free one)
 *   API_TOKEN  the bearer token (by default .dev.vars.example's, dev-token-change-me)
 * Test-only code: Node APIs are fine here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { bundleWorkerTemplate, templateDeployments, templateDir } from "./bundle.ts";

const wrangler = Bun.TOML.parse(readFileSync(join(templateDir, "wrangler.toml"), "utf8")) as {
  compatibility_date: string;
  d1_databases: readonly { binding: string }[];
};
const deployment = templateDeployments().find((candidate) => candidate.env === "");
if (deployment === undefined) throw new Error("wrangler.toml has no top level");
const bundle = await bundleWorkerTemplate(join(templateDir, deployment.main));
const miniflare = new Miniflare({
  modules: [{ type: "ESModule", path: "worker.mjs", contents: bundle.code }],
  compatibilityDate: wrangler.compatibility_date,
  compatibilityFlags: [...deployment.compatibilityFlags],
  bindings: { ...deployment.vars, API_TOKEN: process.env.API_TOKEN || "dev-token-change-me" },
  d1Databases: wrangler.d1_databases.map((database) => database.binding),
  d1Persist: false,
  host: "127.0.0.1",
  port: Number(process.env.PORT ?? 8787),
});
console.log(`worker template (D1, in memory) listening on ${(await miniflare.ready).href}`);

async function shutdown() {
  await miniflare.dispose();
  process.exit(0);
}
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
