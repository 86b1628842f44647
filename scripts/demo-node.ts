/**
 * `npm run demo:node [-- --db <file.db>]`: the shopping-cart demo on Node instead of Bun. Node runs
 * no TypeScript with `.js` import specifiers, so the demo is bundled first (esbuild, into
 * .cache/demo-node/) and then run by the `node` on PATH, or by $EVENTFLOWS_DEMO_NODE. On Node 22.13+
 * `--db` keeps the events in a file through node:sqlite; Node 20 has no node:sqlite, and the demo
 * says so and exits 1 (without `--db` it runs in memory there too).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");

/** Bundles examples/shopping-cart/main.ts for Node and returns the file's path. */
export async function bundleDemoForNode(): Promise<string> {
  const result = await build({
    entryPoints: [join(root, "examples", "shopping-cart", "main.ts")],
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // Only reached on Bun; node:sqlite is imported through a variable, at run time.
    external: ["bun:sqlite"],
    write: false,
    logLevel: "silent",
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error("bundling the demo produced no JavaScript");
  const dir = join(root, ".cache", "demo-node");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "main.mjs");
  writeFileSync(file, output.text);
  return file;
}

if (import.meta.main) {
  const file = await bundleDemoForNode();
  const node = process.env.EVENTFLOWS_DEMO_NODE || "node";
  const run = spawnSync(node, [file, ...process.argv.slice(2)], { stdio: "inherit" });
  process.exit(run.status ?? 1);
}
