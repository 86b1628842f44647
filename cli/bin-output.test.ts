/**
 * bin/eventflows.js when the reader of its output goes away (`eventflows ... | head -1`): the writes
 * that follow fail with EPIPE, which Node and Bun raise as an unhandled stream error, a stack trace
 * and exit 1. The wrapper is run from a copy of bin/ beside a stand-in dist/cli/main.js (a fake of
 * the command, which writes 256 KB: more than a pipe holds, so a write is still pending when the
 * reader closes, whatever the timing).
 */
import { describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const STAND_IN = `export async function runCli(args, io) {
  const line = "x".repeat(1023);
  for (let i = 0; i < 256; i++) io.stdout(line);
  io.stderr("stand-in: done");
  return Number(args[0] ?? 0);
}
`;

function checkout(): string {
  const dir = mkdtempSync(join(tmpdir(), "eventflows-epipe-"));
  cpSync(join(import.meta.dirname, "..", "bin"), join(dir, "bin"), { recursive: true });
  mkdirSync(join(dir, "dist", "cli"), { recursive: true });
  writeFileSync(join(dir, "dist", "cli", "main.js"), STAND_IN);
  writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
  return dir;
}

/** Runs the wrapper, closes its stdout after the first chunk read, and resolves to its exit code and stderr. */
function runUntilReaderLeaves(runtime: string, bin: string, code: string) {
  return new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn(runtime, [bin, code], { stdio: ["ignore", "pipe", "pipe"] });
    const stderr: string[] = [];
    child.stderr.setEncoding("utf8").on("data", (text: string) => void stderr.push(text));
    child.stdout.once("data", () => child.stdout.destroy());
    child.on("error", reject);
    child.on("close", (exit) => resolve({ code: exit, stderr: stderr.join("") }));
  });
}

describe("output piped to a reader that stops early (stand-in dist/cli/main.js)", () => {
  const bin = join(checkout(), "bin", "eventflows.js");

  for (const [runtime, path] of [
    ["Node", "node"],
    ["Bun", process.execPath],
  ] as const) {
    test(`${runtime}: no EPIPE stack trace; the command ends with its own exit code`, async () => {
      for (const code of ["0", "2"]) {
        const run = await runUntilReaderLeaves(path, bin, code);
        expect(run.stderr).not.toContain("EPIPE");
        expect(run).toEqual({ code: Number(code), stderr: "stand-in: done\n" });
      }
    });
  }
});
