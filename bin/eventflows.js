#!/usr/bin/env node
// The `eventflows` command (generate, migrate, stats, rebuild, replay). Its logic lives in cli/, which may use Node
// APIs (files, util.parseArgs) because it is never part of a bundle for Workers; this wrapper hands
// it the process's arguments, streams, environment and working directory. Node runs the built
// dist/; Bun runs the TypeScript source when present, so a checkout needs no build step.
import { existsSync } from "node:fs";

const source = new URL("../cli/main.ts", import.meta.url);
const built = new URL("../dist/cli/main.js", import.meta.url);
const entry = "Bun" in globalThis && existsSync(source) ? source : built;
if (!existsSync(entry)) {
  // A checkout run on Node before its build: say so in one line rather than with Node's module-not-found stack.
  console.error("eventflows: dist/cli/main.js is missing: build the package first (npm run build), or run it with Bun");
  process.exit(1);
}

/**
 * Writes to a stream until its reader goes away. `eventflows ... | head -1` closes the pipe early: Node
 * (and Bun) then raise EPIPE as an unhandled stream error, a stack trace and exit 1, for output nobody
 * reads any more. What is left is dropped instead; the command finishes and exits with its own code.
 */
function writer(stream) {
  let gone = false;
  const leaves = (error) => {
    if (error?.code !== "EPIPE") throw error;
    gone = true;
  };
  stream.on("error", leaves);
  return (text) => {
    if (gone) return;
    try {
      stream.write(text);
    } catch (error) {
      leaves(error);
    }
  };
}

const out = writer(process.stdout);
const err = writer(process.stderr);
const { runCli } = await import(entry.href);
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => out(`${text}\n`),
  stderr: (text) => err(`${text}\n`),
  stderrRaw: (text) => err(text),
  stderrIsTty: process.stderr.isTTY === true,
  env: process.env,
  cwd: process.cwd(),
});
