import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";

/** Bundles a test/live script for the `node` on PATH (Node 20) and runs it. */
async function runOnNode(script: string, args: readonly string[], nodeFlags: readonly string[] = []) {
  const out = join(import.meta.dirname, ".out");
  mkdirSync(out, { recursive: true });
  const bundle = await build({
    entryPoints: [join(import.meta.dirname, script)],
    bundle: true,
    platform: "node",
    format: "esm",
    write: false,
    external: ["ws"],
  });
  const file = join(out, script.replace(/\.ts$/, ".mjs"));
  writeFileSync(file, bundle.outputFiles[0]?.text ?? "");
  const run = spawnSync("node", [...nodeFlags, file, ...args], { encoding: "utf8", timeout: 120_000 });
  console.log(run.stdout.trim());
  if (run.status !== 0) console.error(run.stderr);
  return run;
}

// The live routes and client on Node 20 (the `node` on PATH), through a real node:http server.
test("live streams on Node: 1,000 events to 50 SSE + 50 WebSocket clients, resume at cut points, 401/403", async () => {
  const run = await runOnNode("node-main.ts", ["50", "1000"]);
  expect(run.status).toBe(0);
  expect(run.stdout).toContain("1000 events to 50 SSE + 50 WebSocket clients");
}, 130_000);

// Issue 21: the 500-client bench stalled on Node: clients that left while their socket buffers were
// full kept their live connections (the bridge waited for a `drain` that never comes).
test("live streams on Node: 200 SSE clients leave and none outlives them; a body whose client left with a full buffer is cancelled", async () => {
  const run = await runOnNode("node-disconnect.ts", ["200"], ["--expose-gc"]);
  expect(run.status).toBe(0);
  expect(run.stdout).toContain("200 clients left, none outlived");
}, 130_000);

// Issue 21: a slow client is dropped while others keep up, through the real node:http bridge and
// `ws` (a raw socket that stops reading, not a mock).
test("live streams on Node: a slow SSE or WebSocket client (its socket not read) is dropped with its reason while a fast one keeps up", async () => {
  const run = await runOnNode("node-slow.ts", []);
  expect(run.status).toBe(0);
  expect(run.stdout).toContain("sse: the slow client was dropped (slow-consumer)");
  expect(run.stdout).toContain("websocket: the slow client was dropped (slow-consumer)");
}, 130_000);
