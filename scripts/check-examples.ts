/**
 * The examples step: the shopping-cart demo runs on the in-memory defaults (`bun run demo`), and
 * with `--db` it keeps its events in a SQLite file that a second run finds, on Bun (bun:sqlite) and
 * on Node 22 (node:sqlite, the Node under .cache/node22). On the Node 20 on PATH, `--db` stops with
 * the message naming what is missing, and the in-memory demo still runs.
 *   bun scripts/check-examples.ts
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureNode22 } from "../test/lambda/tools.ts";
import { bundleDemoForNode } from "./demo-node.ts";

const root = join(import.meta.dirname, "..");
const main = join(root, "examples", "shopping-cart", "main.ts");
const failures: string[] = [];

function run(label: string, command: string, args: readonly string[]) {
  const result = spawnSync(command, args, { cwd: root, encoding: "utf8" });
  return { label, status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}

function check(ok: boolean, what: string, output?: { stdout: string; stderr: string }) {
  console.log(`  ${ok ? "✓" : "✗"} ${what}`);
  if (!ok) failures.push(`${what}${output === undefined ? "" : `\n${output.stdout}${output.stderr}`.slice(0, 4000)}`);
}

/** Two runs over one new file: the second holds the first's eight events, then its own. */
function checkPersistence(label: string, command: string, args: (db: string) => readonly string[]) {
  console.log(`examples: ${label}, --db`);
  const dir = mkdtempSync(join(tmpdir(), "eventflows-demo-"));
  try {
    const db = join(dir, "shop.db");
    const first = run(label, command, args(db));
    check(first.status === 0, `${label}: the first run exits 0`, first);
    check(first.stdout.includes("event store") && first.stdout.includes(db), `${label}: it names the file`, first);
    check(
      first.stdout.includes("Events stored, in global order (8)"),
      `${label}: the first run stores 8 events`,
      first,
    );
    check(!first.stdout.includes("from earlier runs"), `${label}: the first run finds none before it`, first);
    const firstCart = /OpenCart \{"customerId":"ada"\} -> \{"cartId":"(\w+)"\}/.exec(first.stdout)?.[1];
    const second = run(label, command, args(db));
    check(second.status === 0, `${label}: the second run exits 0`, second);
    check(
      second.stdout.includes("8 event(s) from earlier runs, replayed into the read model"),
      `${label}: the second run finds the first run's 8 events`,
      second,
    );
    check(second.stdout.includes("Events stored, in global order (16)"), `${label}: and stores 16 in all`, second);
    check(
      firstCart !== undefined && second.stdout.includes(`#1 Cart-${firstCart} v1 CartOpened`),
      `${label}: the first run's first event is #1 of the second run's feed`,
      second,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const inMemory = run("bun", process.execPath, [main]);
console.log("examples: bun run demo (in memory)");
check(inMemory.status === 0, "bun: the in-memory demo exits 0", inMemory);
check(inMemory.stdout.includes("in-memory event store"), "bun: it says the store is in memory", inMemory);

checkPersistence("bun (bun:sqlite)", process.execPath, (db) => [main, "--db", db]);

const bundled = await bundleDemoForNode();
const node22 = await ensureNode22();
checkPersistence("node 22 (node:sqlite)", node22, (db) => [bundled, "--db", db]);

console.log("examples: the node on PATH");
const version = run("node", "node", ["--version"]).stdout.trim();
if (Number(/^v(\d+)/.exec(version)?.[1] ?? 0) < 22) {
  const refused = run("node", "node", [bundled, "--db", join(tmpdir(), "never-written.db")]);
  check(
    refused.status === 1 && refused.stderr.includes("Node 22.13 or later"),
    `node ${version}: --db exits 1 saying node:sqlite needs Node 22.13+`,
    refused,
  );
  const plain = run("node", "node", [bundled]);
  check(plain.status === 0 && plain.stdout.includes("in-memory event store"), `node ${version}: in memory runs`, plain);
} else {
  checkPersistence(`node ${version}`, "node", (db) => [bundled, "--db", db]);
}

if (failures.length > 0) {
  console.error(`examples: ${failures.length} check(s) failed\n${failures.join("\n\n")}`);
  process.exit(1);
}
console.log("examples: all checks passed");
