/**
 * Bundles the worker template the way `wrangler deploy --minify` does (esbuild with wrangler's
 * options: one ESM file, the `workerd`/`worker`/`browser` conditions, es2022, `keepNames`, minified;
 * Node built-ins and cloudflare:* left to workerd, as nodejs_compat does) and measures it as wrangler
 * reports it (the gzip of the uploaded module, zlib's default level). What this does not reproduce:
 * under nodejs_compat wrangler also injects unenv's polyfills for `process` (with its tty streams)
 * and `performance` (@cloudflare/unenv-preset, not installed here), about 3 KB gzipped more. Inside this repository `@eventflows/core` and its subpaths resolve to the
 * package's public entry points (package.json "exports", their sources), so the bundle holds what
 * a user's would, from this checkout, without a build step.
 * Each wrangler.toml environment deploys its own entry (`main`), which bundles one store: every
 * entry is measured.
 *   bun worker-template/test/bundle.ts           prints each entry's size, by package and folder
 *   bun worker-template/test/bundle.ts --files   by input file
 * Test-only code: Node APIs are fine here.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type BuildOptions, build, type Plugin } from "esbuild";
import { packageEntries, repoRoot } from "../../scripts/lib/package-exports.ts";

export const templateDir = join(repoRoot, "worker-template");

/** One deployment of the template: a wrangler.toml environment ("" is the top level) and its entry. */
export interface TemplateDeployment {
  /** `wrangler deploy --env <env>`; "" for the top level (D1). */
  readonly env: string;
  /** The store, as the environment's `EVENT_STORE` names it. */
  readonly store: string;
  /** The entry's path from the template's folder (wrangler.toml `main`). */
  readonly main: string;
  readonly compatibilityFlags: readonly string[];
  readonly vars: Readonly<Record<string, string>>;
}

interface WranglerEnvironment {
  readonly main?: string;
  readonly compatibility_flags?: readonly string[];
  readonly vars?: Readonly<Record<string, string>>;
}

/** The deployments wrangler.toml defines, the top level first, with what each inherits resolved. */
export function templateDeployments(): TemplateDeployment[] {
  const toml = Bun.TOML.parse(readFileSync(join(templateDir, "wrangler.toml"), "utf8")) as WranglerEnvironment & {
    readonly env?: Readonly<Record<string, WranglerEnvironment>>;
  };
  const environments: [string, WranglerEnvironment][] = [["", toml], ...Object.entries(toml.env ?? {})];
  return environments.map(([env, config]) => {
    // `main` and the flags are inherited by an environment; vars are not.
    const main = config.main ?? toml.main;
    const store = config.vars?.EVENT_STORE;
    if (main === undefined || store === undefined)
      throw new Error(`wrangler.toml env "${env}": no main or EVENT_STORE`);
    const compatibilityFlags = config.compatibility_flags ?? toml.compatibility_flags ?? [];
    return { env, store, main, compatibilityFlags, vars: config.vars ?? {} };
  });
}

/** The target of issue 7: far under Cloudflare's limits (3 MB gzipped on the free plan). */
export const GZIP_LIMIT_BYTES = 100 * 1024;

/** How far the measurement may drift from the sizes the docs state before they must be updated. */
export const DOCUMENTED_SIZE_TOLERANCE_KB = { minified: 4, gzipped: 1.5 } as const;

export interface WorkerBundle {
  readonly code: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** Minified bytes per package or source folder, largest first: what to look at when it grows. */
  readonly breakdown: readonly (readonly [string, number])[];
  /** Minified bytes per input file, largest first: which module of a folder to look at. */
  readonly files: readonly (readonly [string, number])[];
}

/** Resolves `@eventflows/core[/subpath]` to that entry's source; an unexported subpath fails, as on npm. */
function localPackagePlugin(): Plugin {
  const bySpecifier = new Map(packageEntries().map((entry) => [entry.specifier, join(repoRoot, entry.source)]));
  return {
    name: "eventflows-local-package",
    setup(builder) {
      builder.onResolve({ filter: /^@eventflows\/core(\/.*)?$/ }, (args) => {
        const path = bySpecifier.get(args.path);
        return path === undefined
          ? { errors: [{ text: `${args.path} is not exported by @eventflows/core (package.json "exports")` }] }
          : { path };
      });
    },
  };
}

/**
 * wrangler's esbuild options for a modules Worker (its deployment-bundle/bundle.ts), minified as
 * `wrangler deploy --minify` does: esbuild's default `browser` platform (its main fields), the
 * conditions, es2022, `keepNames` (wrangler turns it on: function and class names survive
 * minification, at a cost of about 4.5 KB gzipped here) and JSX in .js files.
 */
export const WRANGLER_LIKE: BuildOptions = {
  bundle: true,
  format: "esm",
  target: "es2022",
  platform: "browser",
  conditions: ["workerd", "worker", "browser"],
  keepNames: true,
  loader: { ".js": "jsx", ".mjs": "jsx", ".cjs": "jsx" },
  // workerd provides these: cloudflare:sockets always, node:* under nodejs_compat.
  external: ["cloudflare:*", "node:*"],
  minify: true,
};

/** Bundles one entry of the template (by default `src/index.ts`, the D1 Worker) or any Worker module. */
export async function bundleWorkerTemplate(entry = join(templateDir, "src", "index.ts")): Promise<WorkerBundle> {
  const result = await build({
    ...WRANGLER_LIKE,
    entryPoints: [entry],
    absWorkingDir: templateDir,
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins: [localPackagePlugin()],
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error("bundling the worker template produced no JavaScript");
  const sizes = new Map<string, number>();
  const files = new Map<string, number>();
  for (const meta of Object.values(result.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(meta.inputs)) {
      const group = groupOf(input);
      sizes.set(group, (sizes.get(group) ?? 0) + bytesInOutput);
      const file = fileOf(input);
      files.set(file, (files.get(file) ?? 0) + bytesInOutput);
    }
  }
  return {
    code: output.text,
    bytes: output.contents.byteLength,
    gzipBytes: gzipSync(output.contents).byteLength,
    breakdown: largestFirst(sizes),
    files: largestFirst(files),
  };
}

/** Bundles a Node script of the template (scripts/*.mjs) with the same package resolution. */
export async function bundleTemplateScript(entry: string): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    absWorkingDir: templateDir,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    logLevel: "silent",
    plugins: [localPackagePlugin()],
  });
  const output = result.outputFiles[0];
  if (output === undefined) throw new Error(`bundling ${entry} produced no JavaScript`);
  return output.text;
}

function largestFirst(sizes: Map<string, number>): (readonly [string, number])[] {
  return [...sizes].filter(([, bytes]) => bytes > 0).sort((a, b) => b[1] - a[1]);
}

/** An input's path from the package root (or from node_modules/), wherever the checkout's node_modules lives. */
function fileOf(input: string): string {
  const inModules = input.lastIndexOf("node_modules/");
  if (inModules !== -1) return input.slice(inModules + "node_modules/".length);
  return input.startsWith("../") ? input.slice(3) : `worker-template/${input}`;
}

function groupOf(input: string): string {
  const inModules = input.lastIndexOf("node_modules/");
  if (inModules !== -1) {
    const parts = input.slice(inModules + "node_modules/".length).split("/");
    return (parts[0] as string).startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] as string);
  }
  // Inputs are relative to the template: the package's own code is up one level, by folder.
  if (!input.startsWith("../")) return "worker-template";
  return `@eventflows/core ${input.slice(3).split("/").slice(0, 2).join("/")}`;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

/** The breakdown by package and folder, or with `--files` by input file (what to cut next). */
export function printBreakdown(bundle: WorkerBundle, args: readonly string[]): void {
  const rows = args.includes("--files") ? bundle.files : bundle.breakdown;
  for (const [name, bytes] of rows) console.log(`  ${kb(bytes).padStart(9)}  ${name}`);
}

if (import.meta.main) {
  console.log(`limit: ${kb(GZIP_LIMIT_BYTES)} gzipped per entry`);
  for (const deployment of templateDeployments()) {
    const bundle = await bundleWorkerTemplate(join(templateDir, deployment.main));
    const target = deployment.env === "" ? `--env=""` : `--env ${deployment.env}`;
    console.log(
      `${deployment.store} (${deployment.main}, ${target}): ${kb(bundle.bytes)} minified, ${kb(bundle.gzipBytes)} gzipped`,
    );
    printBreakdown(bundle, process.argv.slice(2));
  }
}
