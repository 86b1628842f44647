/**
 * `bun run bench [name…]`: runs each `bench/<name>.bench.ts` in its own process (so one
 * benchmark's heap and JIT state do not colour the next), then gathers their tables into
 * `bench/RESULTS.md`. A name is a file name without `.bench.ts` (or `pg` for postgres, `ddb` for
 * dynamodb); an unknown name stops the run before anything runs, naming the benchmarks there are.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resultsDir } from "./lib/report.ts";

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

if (import.meta.main) main();

function main(): never {
  const available = readdirSync(benchDir)
    .filter((file) => file.endsWith(".bench.ts"))
    .map((file) => file.replace(".bench.ts", ""))
    .sort();
  let names: string[];
  try {
    names = selectBenchmarks(process.argv.slice(2), available);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(1);
  }
  const files = names.map((name) => `${name}.bench.ts`);
  let failed = false;
  for (const file of files) {
    console.log(`\n=== ${file}`);
    const result = spawnSync(process.execPath, [join(benchDir, file)], { stdio: "inherit" });
    if (result.status !== 0) {
      console.error(`${file} failed with exit code ${result.status}`);
      failed = true;
    }
  }
  const sections = readdirSync(benchDir)
    .filter((file) => file.endsWith(".bench.ts"))
    .sort()
    .map((file) => join(resultsDir, file.replace(".bench.ts", ".md")))
    .filter((path) => existsSync(path))
    .map((path) => readFileSync(path, "utf8"));
  const resultsFile = join(benchDir, "RESULTS.md");
  writeFileSync(
    resultsFile,
    `# Benchmark results\n\nWritten by \`bun run bench\`; each section by its \`bench/<name>.bench.ts\`. Shared machines are noisy: compare rows of one run, not runs.\n\n${sections.join("\n")}`,
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
  process.exit(failed ? 1 : 0);
}
