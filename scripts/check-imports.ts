/**
 * The layering check (docs/architecture.md, "The house"): an adapter imports the core only through its public
 * entries (src/index.ts, src/testing/index.ts, src/client/index.ts), the shared layers (adapters/aws, adapters/http) and
 * its own folder; never another adapter, never a core file behind the entries. The shared layers import each other
 * only for http's use of aws's synchronous SHA-256. Tests may also use
 * the harness under test/. Also fails on any import cycle among the files of src/ and adapters/,
 * type-only imports included, since a cycle there means two files that cannot be read apart.
 *   bun scripts/check-imports.ts
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { repoRoot } from "./lib/package-exports.ts";

/** Folders under adapters/ every adapter may import: layers shared by several adapters. */
export const SHARED_LAYERS = ["aws", "http"] as const;

/**
 * The one import between the shared layers (docs/architecture.md): http hashes idempotency fingerprints with
 * aws's synchronous SHA-256. Anything more would make either layer load the other's code for its users.
 */
export const SHARED_LAYER_IMPORT = { from: "http", target: "adapters/aws/signing-sha256.ts" } as const;

/** Core files an adapter may import: the public entries, as users import them. */
export const CORE_ENTRIES = ["src/index.ts", "src/testing/index.ts", "src/client/index.ts"] as const;

/** A reviewed exception: one test file that proves two adapters work together. */
export interface AllowedImport {
  readonly file: string;
  readonly target: string;
  readonly why: string;
}

export const DEFAULT_ALLOWED: readonly AllowedImport[] = [
  {
    file: "adapters/lambda/sqs-handler.test.ts",
    target: "adapters/eventbridge/index.ts",
    why: "the Lambda SQS handler is tested with the EventBridge consumer it is built to host",
  },
];

export interface ImportProblem {
  readonly file: string;
  readonly message: string;
}

/** Every relative specifier a TypeScript file imports or re-exports, type-only included. */
export function relativeImports(code: string): string[] {
  const specifiers: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)["'](\.{1,2}\/[^"']+)["']/gm;
  for (const match of code.matchAll(pattern)) specifiers.push(match[1] as string);
  return specifiers;
}

/** The repository path a specifier of `file` points at, with `.js` read as the `.ts` source. */
export function resolveImport(file: string, specifier: string): string {
  return normalize(join(dirname(file), specifier))
    .replace(/\.js$/, ".ts")
    .replace(/\\/g, "/");
}

const isTest = (file: string) => /\.test\.ts$/.test(file);
const adapterOf = (file: string) => /^adapters\/([^/]+)\//.exec(file)?.[1];

/** `files`: repository path -> source, for every file of src/ and adapters/. */
export function checkImports(
  files: ReadonlyMap<string, string>,
  allowed: readonly AllowedImport[] = DEFAULT_ALLOWED,
): ImportProblem[] {
  const problems: ImportProblem[] = [];
  const graph = new Map<string, string[]>();
  for (const [file, code] of files) {
    const targets = relativeImports(code).map((specifier) => ({ specifier, target: resolveImport(file, specifier) }));
    graph.set(
      file,
      targets.map((t) => t.target).filter((target) => files.has(target)),
    );
    const adapter = adapterOf(file);
    if (adapter === undefined) {
      for (const { specifier, target } of targets) {
        if (!target.startsWith("src/") && !(target.startsWith("test/") && isTest(file))) {
          problems.push({ file, message: `imports ${specifier}: the core imports only itself` });
        }
      }
      continue;
    }
    for (const { specifier, target } of targets) {
      const problem = adapterImportProblem(file, adapter, target);
      if (problem === undefined) continue;
      if (allowed.some((a) => a.file === file && a.target === target)) continue;
      problems.push({ file, message: `imports ${specifier}: ${problem}` });
    }
  }
  for (const cycle of importCycles(graph)) {
    problems.push({ file: cycle[0] as string, message: `import cycle: ${[...cycle, cycle[0]].join(" -> ")}` });
  }
  return problems;
}

function adapterImportProblem(file: string, adapter: string, target: string): string | undefined {
  const targetAdapter = adapterOf(target);
  if (targetAdapter === adapter) return undefined;
  if (targetAdapter !== undefined) {
    if (!isSharedLayer(targetAdapter)) {
      return `another adapter (${targetAdapter}); move what both need into the core (src/, contracts in src/testing/)`;
    }
    return isSharedLayer(adapter) ? sharedLayerImportProblem(adapter, target, targetAdapter) : undefined;
  }
  if ((CORE_ENTRIES as readonly string[]).includes(target)) return undefined;
  if (target.startsWith("src/")) return "a core file behind the public entries; import ../../src/index.js";
  if (target.startsWith("test/") && isTest(file)) return undefined;
  return "outside the adapter's allowed imports (the core entries, aws/, http/, its own folder)";
}

const isSharedLayer = (name: string) => (SHARED_LAYERS as readonly string[]).includes(name);

function sharedLayerImportProblem(adapter: string, target: string, targetAdapter: string): string | undefined {
  if (adapter === SHARED_LAYER_IMPORT.from && target === SHARED_LAYER_IMPORT.target) return undefined;
  return `another shared layer (${targetAdapter}); between them only ${SHARED_LAYER_IMPORT.from}'s import of ${SHARED_LAYER_IMPORT.target}`;
}

/** Strongly connected components of more than one file (Tarjan), each listed from its first file. */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const indices = new Map<string, number>();
  const lowest = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string) => {
    indices.set(node, index);
    lowest.set(node, index);
    index++;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indices.has(next)) {
        visit(next);
        lowest.set(node, Math.min(lowest.get(node) as number, lowest.get(next) as number));
      } else if (onStack.has(next)) {
        lowest.set(node, Math.min(lowest.get(node) as number, indices.get(next) as number));
      }
    }
    if (lowest.get(node) !== indices.get(node)) return;
    const component: string[] = [];
    for (let member = stack.pop(); member !== undefined; member = stack.pop()) {
      onStack.delete(member);
      component.push(member);
      if (member === node) break;
    }
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) cycles.push(component.sort());
  };
  for (const node of [...graph.keys()].sort()) if (!indices.has(node)) visit(node);
  return cycles;
}

function sourceFiles(root: string, folder: string): string[] {
  return readdirSync(join(root, folder), { recursive: true, withFileTypes: false })
    .map((path) => join(folder, String(path)).replace(/\\/g, "/"))
    .filter((path) => path.endsWith(".ts") && !path.includes("node_modules/"));
}

export function readSources(root = repoRoot): Map<string, string> {
  const files = new Map<string, string>();
  for (const path of [...sourceFiles(root, "src"), ...sourceFiles(root, "adapters")]) {
    files.set(path, readFileSync(join(root, path), "utf8"));
  }
  return files;
}

if (import.meta.main) {
  const files = readSources();
  const problems = checkImports(files);
  for (const problem of problems) console.error(`✗ ${problem.file} ${problem.message}`);
  if (problems.length > 0) {
    console.error(`imports: ${problems.length} problem(s) in ${files.size} files`);
    process.exit(1);
  }
  console.log(`imports: ${files.size} files of src/ and adapters/, no adapter-to-adapter import, no cycle`);
}
