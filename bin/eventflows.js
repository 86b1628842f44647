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

const { runCli } = await import(entry.href);
process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(`${text}\n`),
  stderr: (text) => process.stderr.write(`${text}\n`),
  stderrRaw: (text) => process.stderr.write(text),
  stderrIsTty: process.stderr.isTTY === true,
  env: process.env,
  cwd: process.cwd(),
});
