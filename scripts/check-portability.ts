/**
 * The no-Node-built-ins check: bundles every entry point of package.json "exports" (the built
 * dist/ files, as published) for esbuild's neutral platform, picking our dependencies' worker and
 * browser builds, and fails on any Node built-in: an import (node:fs, fs, path, crypto, buffer, …)
 * or a Node global (process, Buffer, global, require, __dirname, setImmediate, …). Also fails on a
 * bare import that is neither a dependency nor a peer dependency, since users would not get it.
 * Prints each entry's minified and gzipped size.
 *   bun scripts/check-portability.ts                  after `bun run build`
 *   bun scripts/check-portability.ts --allow-missing  tolerate exports whose source is not written yet
 */
import { existsSync } from "node:fs";
import { builtinModules } from "node:module";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { type BuildOptions, build, type Plugin } from "esbuild";
import { missingEntriesMessage, packageEntries, readPackageJson, repoRoot } from "./lib/package-exports.ts";

/** Globals that exist on Node (and Bun) but not on Workers or browsers. */
export const NODE_GLOBALS = [
  "process",
  "Buffer",
  "global",
  "require",
  "__dirname",
  "__filename",
  "setImmediate",
  "clearImmediate",
] as const;

/**
 * Reviewed uses that cannot fail on Workers:
 * - src/env.ts reads `globalThis.process?.env` where it exists, so that all environment access
 *   goes through readEnv/ambientEnv and falls back to bindings on Workers;
 * - ulidx's browser build looks for its crypto root behind `typeof global !== "undefined"`;
 * - `@opentelemetry/api` finds its global registry on `globalThis` first, and reaches `global` only
 *   behind `typeof global === "object"` where there is no `globalThis` (never on Workers).
 */
export const DEFAULT_ALLOWED: readonly AllowedGlobal[] = [
  { file: /(^|\/)src\/env\.(js|ts)$/, use: "globalThis.process" },
  { file: /node_modules\/ulidx\/dist\/browser\/index\.js$/, use: "global" },
  { file: /node_modules\/@opentelemetry\/api\/dist\/internal\/global-utils\.mjs$/, use: "global" },
];

export interface AllowedGlobal {
  readonly file: RegExp;
  readonly use: string;
}

export interface Problem {
  /** The file (relative to the repository root) whose code has the problem. */
  readonly file: string;
  readonly message: string;
}

export interface EntryReport {
  readonly entry: string;
  readonly problems: readonly Problem[];
  readonly minifiedBytes: number;
  readonly gzippedBytes: number;
}

export interface CheckOptions {
  /** Bare imports left to the user (peer dependencies): the package and its subpaths stay external. */
  readonly external?: readonly string[];
  /** Packages our own files may import; anything else bare is a problem. Undefined: no such check. */
  readonly allowedPackages?: readonly string[];
  readonly allowed?: readonly AllowedGlobal[];
}

const builtins = new Set(builtinModules.flatMap((name) => [name, `node:${name}`]));
const MARKER = "__EVENTFLOWS_NODE_GLOBAL__";
const markerFor = (use: string) => `${MARKER}${use.replace(/\./g, "_DOT_")}__`;
const markerPattern = new RegExp(`${MARKER}([A-Za-z_$][\\w$]*?)__`, "g");

const packageName = (specifier: string) =>
  specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : (specifier.split("/")[0] ?? specifier);
const isBare = (specifier: string) => !/^(\.|\/|[a-zA-Z]:[\\/])/.test(specifier) && !specifier.includes(":");
const shown = (path: string) => relative(repoRoot, path) || path;

function guardPlugin(problems: Problem[], options: CheckOptions): Plugin {
  const ownFile = (importer: string) => !importer.includes("/node_modules/");
  return {
    name: "eventflows-node-builtins",
    setup(builder) {
      builder.onResolve({ filter: /.*/ }, (args) => {
        const base = args.path.split("/").slice(0, args.path.startsWith("node:") ? 1 : 2);
        const isBuiltin =
          builtins.has(args.path) ||
          builtins.has(base[0] ?? "") ||
          builtins.has(base.join("/")) ||
          args.path.startsWith("node:");
        if (isBuiltin) {
          problems.push({ file: shown(args.importer), message: `imports the Node built-in "${args.path}"` });
          return { path: args.path, external: true };
        }
        if (options.allowedPackages !== undefined && isBare(args.path) && ownFile(args.importer)) {
          const name = packageName(args.path);
          if (!options.allowedPackages.includes(name)) {
            problems.push({
              file: shown(args.importer),
              message: `imports "${args.path}", which is not in dependencies or peerDependencies`,
            });
            return { path: args.path, external: true };
          }
        }
        return undefined;
      });
    },
  };
}

function sharedBuildOptions(entry: string, options: CheckOptions): BuildOptions & { write: false } {
  return {
    entryPoints: [entry],
    absWorkingDir: repoRoot,
    bundle: true,
    write: false,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    // Workers resolve packages like this: worker/browser builds first, ESM before CommonJS.
    conditions: ["workerd", "worker", "browser", "module"],
    mainFields: ["browser", "module", "main"],
    external: (options.external ?? []).flatMap((name) => [name, `${name}/*`]),
    logLevel: "silent",
  };
}

/** Bundles one entry point and reports its Node dependencies and its size. */
export async function checkEntry(entry: string, options: CheckOptions = {}): Promise<EntryReport> {
  const problems: Problem[] = [];
  const allowed = options.allowed ?? DEFAULT_ALLOWED;
  const define: Record<string, string> = {};
  for (const name of NODE_GLOBALS) {
    define[name] = markerFor(name);
    define[`globalThis.${name}`] = markerFor(`globalThis.${name}`);
  }

  // Unminified with the globals swapped for markers: esbuild only replaces free (global)
  // references, and its `// path` comments tell which module each marker came from.
  let readable: string;
  try {
    const result = await build({
      ...sharedBuildOptions(entry, options),
      define,
      plugins: [guardPlugin(problems, options)],
    });
    readable = result.outputFiles[0]?.text ?? "";
  } catch (error) {
    const messages = (error as { errors?: { text: string; location?: { file: string } | null }[] }).errors;
    if (messages === undefined) throw error;
    for (const message of messages)
      problems.push({ file: message.location?.file ?? shown(entry), message: message.text });
    return { entry: shown(entry), problems, minifiedBytes: 0, gzippedBytes: 0 };
  }
  let module = shown(entry);
  for (const line of readable.split("\n")) {
    const header = /^\/\/ (\S+\.(?:m?js|ts|cjs))$/.exec(line);
    if (header?.[1] !== undefined) {
      module = header[1];
      continue;
    }
    for (const match of line.matchAll(markerPattern)) {
      const use = (match[1] ?? "").replace(/_DOT_/g, ".");
      if (allowed.some((rule) => rule.use === use && rule.file.test(module))) continue;
      problems.push({ file: module, message: `uses the Node global "${use}": ${line.trim().slice(0, 120)}` });
    }
  }

  // Problems were collected above; here the plugin only keeps offending imports external.
  const minified = await build({
    ...sharedBuildOptions(entry, options),
    minify: true,
    plugins: [guardPlugin([], options)],
  }).catch(() => undefined);
  const bytes = minified?.outputFiles[0]?.contents ?? new Uint8Array();
  return { entry: shown(entry), problems, minifiedBytes: bytes.length, gzippedBytes: gzipSync(bytes).length };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

async function main(): Promise<number> {
  const allowMissing = process.argv.includes("--allow-missing");
  const pkg = readPackageJson();
  const entries = packageEntries();
  const missing = missingEntriesMessage(entries);
  if (missing !== undefined) {
    if (!allowMissing) {
      console.error(`portability: ${missing}\n(write the adapter or drop its export; --allow-missing skips it)`);
      return 1;
    }
    console.log(`portability: not checked (--allow-missing):\n${missing}`);
  }
  const present = entries.filter((entry) => entry.sourceExists);
  const unbuilt = present.filter((entry) => !existsSync(join(repoRoot, entry.js)));
  if (unbuilt.length > 0) {
    console.error(`portability: ${unbuilt.map((e) => e.js).join(", ")} missing: run \`bun run build\` first`);
    return 1;
  }

  const external = Object.keys(pkg.peerDependencies ?? {});
  const allowedPackages = [...Object.keys(pkg.dependencies ?? {}), ...external, pkg.name];
  let failed = false;
  const rows: string[] = [];
  for (const entry of present) {
    const report = await checkEntry(join(repoRoot, entry.js), { external, allowedPackages });
    rows.push(`| ${entry.specifier} | ${kb(report.minifiedBytes)} | ${kb(report.gzippedBytes)} |`);
    for (const problem of report.problems) {
      failed = true;
      console.error(`✗ ${entry.specifier}: ${problem.file} ${problem.message}`);
    }
  }
  console.log(
    `\nBundled for the neutral platform (worker/browser conditions; peers ${external.join(", ")} external), esbuild --minify, gzip:`,
  );
  console.log(["| entry | minified | gzipped |", "| --- | --- | --- |", ...rows].join("\n"));
  if (failed) {
    console.error(
      "\nportability: Node built-ins found (see ✗ above); src/ and adapters/ must use web-standard APIs only",
    );
    return 1;
  }
  console.log(`\nportability: ${present.length} entries free of Node built-ins`);
  return 0;
}

if (import.meta.main) process.exit(await main());
