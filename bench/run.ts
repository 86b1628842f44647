/**
 * `bun run bench [name…]`: runs each `bench/<name>.bench.ts` in its own process (so one
 * benchmark's heap and JIT state do not colour the next), then gathers their tables into
 * `bench/RESULTS.md`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { resultsDir } from "./lib/report.ts";

const benchDir = import.meta.dirname;
const wanted = process.argv.slice(2);
const files = readdirSync(benchDir)
  .filter((file) => file.endsWith(".bench.ts"))
  .filter((file) => wanted.length === 0 || wanted.includes(file.replace(".bench.ts", "")))
  .sort();
if (files.length === 0) {
  console.error(`no benchmarks match ${wanted.join(", ")}`);
  process.exit(1);
}
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
const formatted = spawnSync(join(benchDir, "..", "node_modules", ".bin", "biome"), ["format", "--write", resultsFile], {
  encoding: "utf8",
});
if (formatted.status !== 0) {
  console.error(`could not format bench/RESULTS.md with biome:\n${formatted.stderr}`);
  failed = true;
}
process.exit(failed ? 1 : 0);
