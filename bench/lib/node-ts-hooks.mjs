/**
 * Node module hooks that let Node 20 run the benches' TypeScript as Bun does, file by file (so
 * `import.meta.dirname` and relative paths stay those of the sources): `.ts` files are transpiled
 * with esbuild (types stripped, nothing bundled), and a relative `./x.js` import from a `.ts` file
 * resolves to `./x.ts` when that is what exists, as TypeScript's bundler resolution reads it.
 * Registered by `node-ts.mjs`.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { transform } from "esbuild";

export async function resolve(specifier, context, next) {
  if (/^\.{1,2}\//.test(specifier) && specifier.endsWith(".js") && context.parentURL?.endsWith(".ts")) {
    const ts = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
    if (existsSync(fileURLToPath(ts))) return next(ts.href, context);
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return next(url, context);
  const path = fileURLToPath(url);
  const { code } = await transform(await readFile(path, "utf8"), {
    loader: "ts",
    format: "esm",
    target: "node20",
    sourcefile: path,
    sourcemap: "inline",
  });
  return { format: "module", source: code, shortCircuit: true };
}
