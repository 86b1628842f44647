#!/usr/bin/env node
// The `eventflows-pg` command (schema migrations for @eventflows/core/postgres). Its logic lives in
// adapters/postgres/cli.ts, free of Node APIs; this wrapper hands it the process's arguments,
// streams and environment. Node runs the built dist/; Bun runs the TypeScript source when present,
// so a checkout needs no build step.
import { existsSync } from "node:fs";

const source = new URL("../adapters/postgres/index.ts", import.meta.url);
const built = new URL("../dist/adapters/postgres/index.js", import.meta.url);
const entry = "Bun" in globalThis && existsSync(source) ? source : built;
const { runPostgresCli } = await import(entry.href);
process.exitCode = await runPostgresCli(process.argv.slice(2), {
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
  env: process.env,
});
