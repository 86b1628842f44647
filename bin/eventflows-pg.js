#!/usr/bin/env node
// The `eventflows-pg` command (schema migrations for @eventflows/core/postgres). Its logic lives in
// adapters/postgres/cli.ts, free of Node APIs; this wrapper hands it the process's arguments,
// streams, environment and file reader. Node runs the built dist/; Bun runs the TypeScript source
// when present, so a checkout needs no build step.
import { existsSync } from "node:fs";

const source = new URL("../adapters/postgres/index.ts", import.meta.url);
const built = new URL("../dist/adapters/postgres/index.js", import.meta.url);
const fromSource = "Bun" in globalThis && existsSync(source);
const entry = fromSource ? source : built;
if (!existsSync(entry)) {
  // A checkout run on Node before its build: say so in one line rather than with Node's module-not-found stack.
  console.error(
    "eventflows-pg: dist/adapters/postgres/index.js is missing: build the package first (npm run build), or run it with Bun",
  );
  process.exit(1);
}

/** Whether loading the adapter failed because the optional peer dependency `postgres` is not installed. */
function postgresMissing(error) {
  const message = String(error?.message ?? "");
  return (
    (error?.code === "ERR_MODULE_NOT_FOUND" ||
      error?.code === "MODULE_NOT_FOUND" ||
      /Cannot find (package|module)/.test(message)) &&
    /['"]postgres['"]/.test(message)
  );
}

let cli;
try {
  cli = await import(entry.href);
} catch (error) {
  if (!postgresMissing(error)) throw error;
  console.error("eventflows-pg needs the postgres package (postgres.js): run `npm install postgres` and try again.");
  process.exit(1);
}
// The `eventflows` command's reader: the first line of the file, never more than 64 KiB of it.
const { readUrlFile } = await import(
  new URL(fromSource ? "../cli/url-file.ts" : "../dist/cli/url-file.js", import.meta.url).href
);
process.exitCode = await cli.runPostgresCli(process.argv.slice(2), {
  stdout: (line) => console.log(line),
  stderr: (line) => console.error(line),
  env: process.env,
  readFile: readUrlFile,
});
