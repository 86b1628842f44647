/**
 * Type-checks every TypeScript sample in the docs and the README against the sources, so a sample
 * that stops compiling fails the test command instead of misleading a reader.
 *
 *   bun scripts/check-docs.ts           the samples
 *   bun scripts/check-docs.ts --build   the samples, then the site (`vitepress build docs`): the test
 *                                       command's "docs" step
 *
 * Each ```ts block is its own module, importing "@eventflows/core" (and its subpaths) as a user
 * would; a tsconfig maps those names onto src/ and adapters/. Fence info words:
 *   ```ts no-check   not checked (for fragments that cannot stand alone; use sparingly)
 *   ```ts peer       another library's code (Emmett, Castore, @nestjs/cqrs), shown beside ours for
 *                    comparison: not checked, since the peers are not the library's dependencies; the page
 *                    must say whose code it is
 *   ```ts from=examples/shopping-cart/cart.ts
 *                    a copy of that file (shown on GitHub too, where VitePress's `<<<` includes show
 *                    nothing): it must equal the file, which the test command type-checks and tests
 *   ```ts run        also executed with Bun after the check (with `bun test` when it imports
 *                    "bun:test"); it must exit 0, and what it prints must match the comments that
 *                    state it (below)
 * A block whose first line is a comment naming a file (`// cart.ts`) is written under that name,
 * so later blocks of the same page can `import { Cart } from "./cart.js"`.
 * Samples are checked with the library's compiler options and no ambient Node or Bun types, as
 * portable code; only blocks that import "bun:test" (test samples) get Bun's types.
 *
 * Printed output: in a `run` block, a line with a `console.log(…)` call and a trailing comment
 * (`console.log(x); // 2`) states what that line prints, and is compared with what it printed, as
 * Bun prints it, whitespace collapsed (`{ a: 1 }`). The comment may go on after the output with
 * an explanation (`// 2: two events`, `// 2 (two events)`), end in `…` or `...` to state only the
 * start, and list what a line run several times prints in order (`// 10, 9, 8`, `// 1, then 2`).
 * A stated line that prints nothing fails too.
 */
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { outputMismatches, tagStatedLogs } from "./lib/doc-output.ts";

const root = join(import.meta.dirname, "..");
// One folder per checkout: .cache may be shared between checkouts (git worktrees), which must neither
// clear each other's samples nor resolve them against each other's sources.
const outDir = join(root, ".cache", "check-docs", createHash("sha256").update(root).digest("hex").slice(0, 12));

interface Block {
  /** Markdown file, relative to the root. */
  readonly source: string;
  /** Line in the markdown file of the block's first code line (1-based). */
  readonly firstLine: number;
  readonly code: string;
  readonly flags: ReadonlySet<string>;
  /** The file the block is written to, relative to outDir. */
  file: string;
}

function markdownFiles(): string[] {
  const files = existsSync(join(root, "README.md")) ? ["README.md"] : [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".md")) files.push(path);
    }
  };
  walk("docs");
  return files.sort();
}

const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;
const FILE_COMMENT = /^\/\/ ([\w-]+\.ts)\s*$/;

function extractBlocks(source: string, text: string): Block[] {
  const lines = text.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] as string);
    if (open === null) continue;
    const [, indent = "", fence = "", info = ""] = open;
    const words = info.trim().split(/\s+/);
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j] as string;
      const close = FENCE.exec(line);
      if (close !== null && close[2]?.[0] === fence[0] && (close[2]?.length ?? 0) >= fence.length && !close[3]?.trim())
        break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    if (j === lines.length) throw new Error(`${source}:${i + 1}: a code fence is never closed`);
    const lang = words[0]?.toLowerCase();
    if (lang === "ts" || lang === "typescript") {
      blocks.push({ source, firstLine: i + 2, code: body.join("\n"), flags: new Set(words.slice(1)), file: "" });
    }
    i = j;
  }
  return blocks;
}

function writeBlocks(blocks: Block[]): void {
  const names = new Map<string, Block>();
  const counters = new Map<string, number>();
  for (const block of blocks) {
    const dir = block.source.replace(/\.md$/, "").split(sep).join("/");
    const named = FILE_COMMENT.exec(block.code.split("\n")[0] ?? "")?.[1];
    const n = (counters.get(dir) ?? 0) + 1;
    counters.set(dir, n);
    block.file = `${dir}/${named ?? `block-${String(n).padStart(2, "0")}.ts`}`;
    const clash = names.get(block.file);
    if (clash !== undefined) {
      throw new Error(
        `${block.source}:${block.firstLine}: a second block named ${named} (first at line ${clash.firstLine})`,
      );
    }
    names.set(block.file, block);
    mkdirSync(join(outDir, dirname(block.file)), { recursive: true });
    writeFileSync(join(outDir, block.file), `${block.code}\n`);
  }
}

const TEST_IMPORT = /from\s+["']bun:test["']/;

interface Project {
  readonly config: string;
  readonly types: readonly string[];
  readonly blocks: readonly Block[];
}

function writeTsconfig(project: Project): void {
  // Absolute: Bun resolves a tsconfig's relative paths from its real location, which a symlinked .cache moves.
  const up = root.split(sep).join("/");
  const config = {
    extends: `${up}/tsconfig.json`,
    compilerOptions: {
      noEmit: true,
      types: project.types,
      // Every block is a module, even one without imports, so blocks never share globals.
      moduleDetection: "force",
      allowImportingTsExtensions: false,
      paths: {
        "@eventflows/core": [`${up}/src/index.ts`],
        "@eventflows/core/testing": [`${up}/src/testing/index.ts`],
        "@eventflows/core/client": [`${up}/src/client/index.ts`],
        "@eventflows/core/*": [`${up}/adapters/*/index.ts`],
      },
    },
    files: project.blocks.map((block) => block.file),
    // Not the base config's src/ and adapters/: only the samples and what they import.
    include: [],
  };
  writeFileSync(join(outDir, project.config), `${JSON.stringify(config, null, 2)}\n`);
}

/** The repository file a block copies (`from=<path>` in its fence), if any. */
function copiedFile(block: Block): string | undefined {
  for (const flag of block.flags) if (flag.startsWith("from=")) return flag.slice("from=".length);
  return undefined;
}

function copyIsCurrent(block: Block): boolean {
  const path = join(root, copiedFile(block) ?? "");
  return existsSync(path) && readFileSync(path, "utf8").trimEnd() === block.code.trimEnd();
}

/** Rewrites `file.ts(line,col): error …` into `docs/page.md:line:col: error …`. */
function mapDiagnostics(output: string, blocks: readonly Block[]): string {
  const byFile = new Map(blocks.map((block) => [join(outDir, block.file), block]));
  return output
    .split("\n")
    .map((line) => {
      const match = /^(.+?)\((\d+),(\d+)\): (.*)$/.exec(line);
      if (match === null) return line;
      const [, file = "", row = "0", col = "0", message = ""] = match;
      const block = byFile.get(join(outDir, file)) ?? byFile.get(file);
      if (block === undefined) return `${relative(root, join(outDir, file))}(${row},${col}): ${message}`;
      return `${block.source}:${block.firstLine + Number(row) - 1}:${col}: ${message}`;
    })
    .join("\n");
}

function main(): number {
  const files = markdownFiles();
  const all = files.flatMap((file) => extractBlocks(file, readFileSync(join(root, file), "utf8")));
  const copies = all.filter((block) => copiedFile(block) !== undefined);
  const stale = copies.filter((block) => !copyIsCurrent(block));
  for (const block of stale) {
    console.error(`${block.source}:${block.firstLine}: differs from ${copiedFile(block)}: copy the file again`);
  }
  if (stale.length > 0) return 1;
  const checked = all.filter(
    (block) => !block.flags.has("no-check") && !block.flags.has("peer") && copiedFile(block) === undefined,
  );
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  writeBlocks(checked);
  const projects: Project[] = [
    { config: "tsconfig.json", types: [], blocks: checked.filter((b) => !TEST_IMPORT.test(b.code)) },
    { config: "tsconfig.tests.json", types: ["bun"], blocks: checked.filter((b) => TEST_IMPORT.test(b.code)) },
  ];
  console.log(
    `check-docs: ${checked.length} TypeScript block(s) from ${files.length} markdown file(s)` +
      ` (${all.filter((b) => b.flags.has("no-check")).length} marked no-check, ${all.filter((b) => b.flags.has("peer")).length} peer code, ${copies.length} current copies of files)`,
  );

  for (const project of projects.filter((p) => p.blocks.length > 0)) {
    writeTsconfig(project);
    const tsc = spawnSync(join(root, "node_modules", ".bin", "tsc"), ["-p", project.config, "--pretty", "false"], {
      cwd: outDir,
      encoding: "utf8",
    });
    if (tsc.status !== 0) {
      console.error(mapDiagnostics(`${tsc.stdout}${tsc.stderr}`.trim(), checked));
      console.error("check-docs: samples do not compile");
      return 1;
    }
  }

  const runnable = checked.filter((b) => b.flags.has("run"));
  // Type-checked as written; run with the stated lines' console.log calls tagged (same line numbers).
  for (const block of checked) writeFileSync(join(outDir, block.file), `${tagStatedLogs(block.code, block.file)}\n`);
  const preload = join(root, "scripts", "lib", "record-console.ts");
  const record = join(outDir, "printed.json");
  let compared = 0;
  let wrong = 0;
  for (const block of runnable) {
    const args = TEST_IMPORT.test(block.code)
      ? ["test", "--preload", preload, `./${block.file}`]
      : ["--preload", preload, block.file];
    rmSync(record, { force: true });
    const run = spawnSync(process.execPath, args, {
      cwd: outDir,
      encoding: "utf8",
      env: { ...process.env, CHECK_DOCS_RECORD: record },
    });
    if (run.status !== 0) {
      console.error(`${block.source}:${block.firstLine}: the sample exited with ${run.status ?? run.signal}`);
      console.error(`${run.stdout}${run.stderr}`.trim());
      return 1;
    }
    const printed = existsSync(record) ? (JSON.parse(readFileSync(record, "utf8")) as Record<string, string[]>) : {};
    const { checked: stated, mismatches } = outputMismatches(block.code, block.file, printed);
    compared += stated;
    for (const m of mismatches) {
      wrong++;
      const where = `${block.source}:${block.firstLine + m.line - 1}`;
      console.error(`${where}: the comment says "${m.stated}", the line printed "${m.printed}"`);
    }
  }
  if (wrong > 0) {
    console.error(`check-docs: ${wrong} line(s) print something other than their comments state`);
    return 1;
  }
  console.log(
    `check-docs: all samples compile, and the ${runnable.length} marked "run" ran cleanly,` +
      ` printing what their comments state on ${compared} line(s)`,
  );
  if (process.argv.includes("--build")) return buildSite();
  return 0;
}

/** The VitePress build, which also fails on a link to a page that does not exist. */
function buildSite(): number {
  const build = spawnSync(join(root, "node_modules", ".bin", "vitepress"), ["build", "docs"], {
    cwd: root,
    stdio: "inherit",
  });
  if (build.status !== 0) {
    console.error(`check-docs: the site does not build (exit ${build.status ?? build.signal})`);
    return 1;
  }
  return 0;
}

process.exit(main());
