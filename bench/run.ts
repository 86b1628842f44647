/**
 * `bun run bench [--runtime bun|node|both] [name…]`: runs each `bench/<name>.bench.ts` in its own
 * process (so one benchmark's heap and JIT state do not colour the next) on Bun and on Node (its
 * TypeScript through `lib/node-ts.mjs`), then gathers both runtimes' results side by side into
 * `bench/RESULTS.md`. `--runtime` defaults to both. A name is a file name without `.bench.ts` (or
 * `pg` for postgres, `ddb` for dynamodb); an unknown name stops the run before anything runs,
 * naming the benchmarks there are. A file that uses node:sqlite runs on the Node 22 under
 * .cache/node22 (installed from npm on first use, as the runtime tests do): Node 20 has none.
 * `bun run bench --render-only` (or `npm run bench -- --render-only`; npm's own `npm run bench
 * --render-only` too) runs nothing and rewrites `bench/RESULTS.md` from the saved results.
 * Either way the docs' benchmark page (`docs/benchmarks.md`, charts in `docs/benchmark-charts/`) is
 * rendered again from the same results.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureNode22 } from "../test/lambda/tools.ts";
import { writeBenchmarksPage } from "./lib/benchmarks-page.ts";
import { RUNTIMES, type Runtime, readReports, resultsDir, sideBySide } from "./lib/report.ts";

const benchDir = import.meta.dirname;
const ALIASES: Readonly<Record<string, string>> = { pg: "postgres", ddb: "dynamodb" };

/**
 * The benchmark names to run, in file order: all of them for no arguments.
 * @throws {Error} naming every argument that is no benchmark, and the benchmarks there are.
 */
export function selectBenchmarks(args: readonly string[], available: readonly string[]): string[] {
  const wanted = args.map((name) => ALIASES[name] ?? name);
  const unknown = wanted.filter((name) => !available.includes(name));
  if (unknown.length > 0) {
    throw new Error(
      `no benchmark named ${unknown.join(", ")}; there are: ${available.join(", ")} (pg and ddb also work)`,
    );
  }
  return available.filter((name) => wanted.length === 0 || wanted.includes(name));
}

/** `--runtime bun|node|both` (or `--runtime=…`) and the names around it. */
export function parseArgs(args: readonly string[]): { runtimes: readonly Runtime[]; names: string[] } {
  let runtimes: readonly Runtime[] = RUNTIMES;
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    const value = arg.startsWith("--runtime=")
      ? arg.slice("--runtime=".length)
      : arg === "--runtime"
        ? args[++i]
        : null;
    if (value === null) names.push(arg);
    else if (value === "both") runtimes = RUNTIMES;
    else if (value === "bun" || value === "node") runtimes = [value];
    else throw new Error(`--runtime takes bun, node or both, not ${value ?? "nothing"}`);
  }
  return { runtimes, names };
}

/**
 * Whether to run nothing and only render: `--render-only`, or npm's form of it. `npm run bench
 * --render-only` (no `--` before the flag) gives the flag to npm, which passes no argument on and sets
 * `npm_config_render_only` instead: read as the same request, since no argument means every benchmark.
 */
export function renderOnlyRequested(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): boolean {
  return args.includes("--render-only") || env.npm_config_render_only === "true";
}

async function main(): Promise<never> {
  const available = readdirSync(benchDir)
    .filter((file) => file.endsWith(".bench.ts"))
    .map((file) => file.replace(".bench.ts", ""))
    .sort();
  let runtimes: readonly Runtime[];
  let files: string[];
  const args = process.argv.slice(2);
  if (renderOnlyRequested(args)) return run([], []);
  try {
    const parsed = parseArgs(args);
    runtimes = parsed.runtimes;
    files = selectBenchmarks(parsed.names, available).map((name) => `${name}.bench.ts`);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  return run(runtimes, files);
}

/** How to start a bench file on each runtime. */
const commands: Record<Runtime, (file: string) => Promise<[string, string[]]>> = {
  bun: async (file) => [
    "Bun" in globalThis ? process.execPath : join(benchDir, "..", "node_modules", ".bin", "bun"),
    [file],
  ],
  node: async (file) => [
    needsNode22(file) ? await ensureNode22() : "node",
    ["--import", join(benchDir, "lib", "node-ts.mjs"), file],
  ],
};

/** Files that open SQLite through lib/sqlite-connection.ts need node:sqlite, which Node 20 lacks. */
function needsNode22(file: string): boolean {
  return /lib\/sqlite-connection\.js/.test(readFileSync(file, "utf8"));
}

/** Why a file cannot run on a runtime: a Bun built-in module (`bun:sqlite`, …) exists only on Bun. */
function cannotRun(file: string, rt: Runtime): string | undefined {
  if (rt !== "node") return undefined;
  const builtin = /from\s+["'](bun:[a-z]+)["']/.exec(readFileSync(join(benchDir, file), "utf8"))?.[1];
  return builtin === undefined ? undefined : `imports ${builtin}, which only Bun has`;
}

async function run(runtimes: readonly Runtime[], files: readonly string[]): Promise<never> {
  let failed = false;
  for (const file of files) {
    for (const rt of runtimes) {
      const reason = cannotRun(file, rt);
      if (reason !== undefined) {
        console.log(`\n=== ${file} not run on ${rt}: it ${reason}`);
        continue;
      }
      console.log(`\n=== ${file} on ${rt} (${uptime()})`);
      const [command, commandArgs] = await commands[rt](join(benchDir, file));
      const result = spawnSync(command, commandArgs, { stdio: "inherit" });
      if (result.status !== 0) {
        console.error(`${file} failed on ${rt} with exit code ${result.status ?? result.signal}`);
        failed = true;
      }
    }
  }

  // Every file's section: both runtimes' latest figures; a file not yet run by this runner keeps its
  // older Bun-only section, marked as such.
  const sections = readdirSync(benchDir)
    .filter((file) => file.endsWith(".bench.ts"))
    .sort()
    .map((file) => {
      const name = file.replace(".bench.ts", "");
      const reports = readReports(name);
      const notRun = Object.fromEntries(
        RUNTIMES.map((rt) => [rt, cannotRun(file, rt)]).filter(([, reason]) => reason !== undefined),
      );
      if (reports.some((r) => r !== undefined)) return sideBySide(reports, notRun);
      const legacy = join(resultsDir, `${name}.md`);
      if (!existsSync(legacy)) return "";
      const text = readFileSync(legacy, "utf8");
      const firstBreak = text.indexOf("\n");
      return `${text.slice(0, firstBreak)}\n\n> Bun only: measured before \`bun run bench\` ran every file on Node too, and not re-run on both since. Re-run with \`bun run bench ${name}\`.\n${text.slice(firstBreak)}`;
    })
    .filter((section) => section !== "");
  const resultsFile = join(benchDir, "RESULTS.md");
  writeFileSync(
    resultsFile,
    `# Benchmark results\n\nWritten by \`bun run bench\`; each section by its \`bench/<name>.bench.ts\`, run on Bun and on Node 20 (Node 22 for node:sqlite; one process per file and runtime), with each run's date and machine load (1-minute load average; the machine has 2 cores). Shared machines are noisy: compare rows of one run, not runs; where both runtimes are shown, the less favourable one is the figure to quote.\n\n${sections.join("\n")}`,
  );
  // RESULTS.md is committed, so it gets the project's formatting (aligned tables) and stays lint-clean.
  const formatted = spawnSync(
    join(benchDir, "..", "node_modules", ".bin", "biome"),
    ["format", "--write", resultsFile],
    {
      encoding: "utf8",
    },
  );
  if (formatted.status !== 0) {
    console.error(`could not format bench/RESULTS.md with biome:\n${formatted.stderr}`);
    failed = true;
  }
  // The published page (docs/benchmarks.md) and its SVG charts, from the same saved results.
  writeBenchmarksPage();
  process.exit(failed ? 1 : 0);
}

function uptime(): string {
  const result = spawnSync("uptime", { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : "uptime unavailable";
}

// Last: main() uses the declarations above.
if (import.meta.main) await main();
