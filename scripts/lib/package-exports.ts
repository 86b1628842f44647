/**
 * The public entry points, read from package.json "exports": the single list the build, the
 * portability check, the runtime tests and the packaging test all derive from, so adding an adapter
 * means adding one "exports" entry and nothing else.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const repoRoot = join(import.meta.dirname, "..", "..");

export interface PackageEntry {
  /** The subpath users import: "." or "./postgres". */
  readonly subpath: string;
  /** The specifier users write: "@eventflows/core" or "@eventflows/core/postgres". */
  readonly specifier: string;
  /** Built JavaScript, relative to the repository root: "dist/adapters/postgres/index.js". */
  readonly js: string;
  /** Built declarations: "dist/types/adapters/postgres/index.d.ts". */
  readonly types: string;
  /** The TypeScript source the build compiles: "adapters/postgres/index.ts". */
  readonly source: string;
  readonly sourceExists: boolean;
}

export interface PackageJson {
  readonly name: string;
  readonly version: string;
  readonly exports: Readonly<Record<string, string | { readonly types?: string; readonly import?: string }>>;
  readonly bin?: string | Readonly<Record<string, string>>;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly peerDependencies?: Readonly<Record<string, string>>;
  readonly devDependencies?: Readonly<Record<string, string>>;
}

export function readPackageJson(root = repoRoot): PackageJson {
  return JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as PackageJson;
}

const relative = (path: string) => path.replace(/^\.\//, "");

/** Every code entry of "exports" (not "./package.json"), in the order package.json lists them. */
export function packageEntries(root = repoRoot): PackageEntry[] {
  const pkg = readPackageJson(root);
  const entries: PackageEntry[] = [];
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === "string") continue;
    const { import: js, types } = target;
    if (js === undefined || types === undefined) {
      throw new Error(`package.json exports["${subpath}"] needs both "types" and "import"`);
    }
    const match = /^\.\/dist\/(.+)\.js$/.exec(js);
    if (match === null) throw new Error(`package.json exports["${subpath}"].import must point into ./dist: ${js}`);
    const source = `${match[1]}.ts`;
    entries.push({
      subpath,
      specifier: subpath === "." ? pkg.name : `${pkg.name}/${subpath.slice(2)}`,
      js: relative(js),
      types: relative(types),
      source,
      sourceExists: existsSync(join(root, source)),
    });
  }
  return entries;
}

/** Entries whose source is missing, as one readable message (or undefined when none are). */
export function missingEntriesMessage(entries: readonly PackageEntry[]): string | undefined {
  const missing = entries.filter((entry) => !entry.sourceExists);
  if (missing.length === 0) return undefined;
  return missing
    .map((entry) => `package.json exports "${entry.subpath}" points at ${entry.source}, which does not exist`)
    .join("\n");
}
