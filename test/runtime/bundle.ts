/**
 * Bundles a runtime test so that it exercises the built package: every import of a public entry
 * point's source (src/index.ts, src/testing/index.ts, adapters/<name>/index.ts) is redirected to
 * that entry of the package, and importing any other source file fails the bundle, since users
 * can only reach what "exports" lists.
 */
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { type BuildOptions, build, type Plugin } from "esbuild";
import { type PackageEntry, packageEntries, repoRoot } from "../../scripts/lib/package-exports.ts";

export type EntryMode =
  /** Leave `@eventflows/core/…` imports to the runtime's own resolution (Node's package self-reference). */
  | "external"
  /** Bundle the built dist/ files in (for workerd, which has no module resolution of its own). */
  | "bundled";

function publicEntriesPlugin(entries: readonly PackageEntry[], mode: EntryMode): Plugin {
  const bySource = new Map(entries.map((entry) => [resolve(repoRoot, entry.source), entry]));
  const ownSource = (file: string) => {
    const path = relative(repoRoot, file);
    return path.startsWith("src/") || path.startsWith("adapters/");
  };
  return {
    name: "eventflows-public-entries",
    setup(builder) {
      builder.onResolve({ filter: /^\./ }, (args) => {
        const fromTest = relative(repoRoot, args.importer).startsWith("test/");
        if (!fromTest) return undefined;
        const target = resolve(dirname(args.importer), args.path).replace(/\.js$/, ".ts");
        const entry = bySource.get(target);
        if (entry !== undefined) {
          return mode === "external" ? { path: entry.specifier, external: true } : { path: join(repoRoot, entry.js) };
        }
        if (ownSource(target)) {
          return {
            errors: [{ text: `${args.path} is not a public entry point: import it through package.json "exports"` }],
          };
        }
        return undefined;
      });
    },
  };
}

/** Bundles `entry` (a file, or generated code whose imports are absolute paths) to one ESM string. */
export async function bundleRuntimeTest(
  entry: string | { readonly contents: string },
  mode: EntryMode,
  options: Pick<BuildOptions, "platform" | "conditions" | "mainFields" | "external"> = {},
): Promise<string> {
  const result = await build({
    ...(typeof entry === "string"
      ? { entryPoints: [entry] }
      : { stdin: { contents: entry.contents, resolveDir: repoRoot, loader: "ts", sourcefile: "generated-entry.ts" } }),
    absWorkingDir: repoRoot,
    bundle: true,
    write: false,
    format: "esm",
    target: "es2022",
    sourcemap: "inline",
    logLevel: "silent",
    ...options,
    plugins: [publicEntriesPlugin(packageEntries(), mode)],
  });
  // One file: no outfile and an inline source map.
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error("bundling produced no JavaScript");
  return output.text;
}

/** Fails with a clear message when an entry whose source exists has not been built. */
export function assertBuilt(): void {
  const unbuilt = packageEntries().filter((entry) => entry.sourceExists && !existsSync(join(repoRoot, entry.js)));
  if (unbuilt.length > 0) {
    throw new Error(`${unbuilt.map((entry) => entry.js).join(", ")} missing: run \`bun run build\` first`);
  }
}
