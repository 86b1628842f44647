import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkEntry } from "./check-portability.ts";

// Scratch modules in a temp folder prove the check fails where it must, not just that the repo passes.
const dir = mkdtempSync(join(tmpdir(), "eventflows-portability-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function scratch(name: string, code: string): string {
  const path = join(dir, name);
  writeFileSync(path, code);
  return path;
}

const messages = async (entry: string, options = {}) =>
  (await checkEntry(entry, options)).problems.map((problem) => problem.message);

describe("check-portability", () => {
  test("web-standard code passes and is measured", async () => {
    const entry = scratch(
      "clean.js",
      `export const id = () => crypto.randomUUID();
       export const bytes = (text) => new TextEncoder().encode(text);
       export const get = (url) => fetch(new URL(url));
       export function shadow(process) { return process.env; }`,
    );
    const report = await checkEntry(entry);
    expect(report.problems).toEqual([]);
    expect(report.minifiedBytes).toBeGreaterThan(0);
    expect(report.gzippedBytes).toBeGreaterThan(0);
  });

  test("fails on a node: import, naming the module and the importer", async () => {
    const entry = scratch("node-fs.js", `import { readFileSync } from "node:fs"; export const read = readFileSync;`);
    const report = await checkEntry(entry);
    expect(report.problems).toHaveLength(1);
    expect(report.problems[0]?.message).toBe('imports the Node built-in "node:fs"');
    expect(report.problems[0]?.file).toEndWith("node-fs.js");
  });

  test("fails on bare built-in names and subpaths, also reached transitively", async () => {
    scratch(
      "deep.js",
      `import { join } from "path"; import { readFile } from "fs/promises"; export { join, readFile };`,
    );
    scratch("middle.js", `export * from "./deep.js"; export { createHash } from "crypto";`);
    const entry = scratch("top.js", `export * from "./middle.js";`);
    const report = await checkEntry(entry);
    expect(report.problems.map((p) => `${p.file.split("/").pop()}: ${p.message}`).sort()).toEqual([
      'deep.js: imports the Node built-in "fs/promises"',
      'deep.js: imports the Node built-in "path"',
      'middle.js: imports the Node built-in "crypto"',
    ]);
  });

  test("fails on Node globals: Buffer, process, global, require, __dirname, setImmediate", async () => {
    const entry = scratch(
      "globals.js",
      `export const a = Buffer.from("x");
       export const b = process.env.HOME;
       export const c = globalThis.Buffer;
       export const d = __dirname;
       export const e = (f) => setImmediate(f);
       export const g = global.x;
       export const h = () => require("x");`,
    );
    const found = (await messages(entry)).map((message) => /"([^"]+)"/.exec(message)?.[1]);
    expect(found.sort()).toEqual(
      ["Buffer", "process", "globalThis.Buffer", "__dirname", "setImmediate", "global", "require"].sort(),
    );
  });

  test("globalThis.process is allowed in src/env.js only", async () => {
    const code = `export const env = () => globalThis.process?.env ?? {};`;
    const elsewhere = scratch("reads-env.js", code);
    expect(await messages(elsewhere)).toEqual([expect.stringContaining('uses the Node global "globalThis.process"')]);
    const envDir = join(dir, "src");
    rmSync(envDir, { recursive: true, force: true });
    mkdirSync(envDir);
    const sanctioned = scratch("src/env.js", code);
    expect(await messages(sanctioned)).toEqual([]);
  });

  test("fails on a bare import that is not a declared dependency; peers stay external", async () => {
    const entry = scratch("deps.js", `export { Observable } from "rxjs"; export { default as sql } from "postgres";`);
    expect(await messages(entry, { external: ["postgres"], allowedPackages: ["postgres", "valibot"] })).toEqual([
      'imports "rxjs", which is not in dependencies or peerDependencies',
    ]);
  });

  test("an import that does not resolve is a problem, not a crash", async () => {
    const entry = scratch("missing.js", `export * from "./nowhere.js";`);
    expect(await messages(entry)).toEqual([expect.stringContaining("Could not resolve")]);
  });
});
