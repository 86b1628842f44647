import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

// The live routes and client on Node 20 (the `node` on PATH), through a real node:http server.
test("live streams on Node: 1,000 events to 50 SSE + 50 WebSocket clients, resume at cut points, 401/403", async () => {
  const out = join(import.meta.dirname, ".out");
  mkdirSync(out, { recursive: true });
  const bundle = await build({
    entryPoints: [join(import.meta.dirname, "node-main.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    write: false,
    external: ["ws"],
  });
  const file = join(out, "node-main.mjs");
  writeFileSync(file, bundle.outputFiles[0]?.text ?? "");
  const run = spawnSync("node", [file, "50", "1000"], { encoding: "utf8", timeout: 120_000 });
  console.log(run.stdout.trim());
  if (run.status !== 0) console.error(run.stderr);
  expect(run.status).toBe(0);
  expect(run.stdout).toContain("1000 events to 50 SSE + 50 WebSocket clients");
}, 130_000);
