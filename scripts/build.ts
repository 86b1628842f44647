/**
 * `bun run build`: compiles every entry point of package.json "exports" whose source exists into
 * dist/ (ESM JavaScript mirroring the source tree, with source maps) and dist/types/ (declarations
 * with declaration maps), so the "exports" map resolves as published.
 *   bun scripts/build.ts
 * tsc does the whole job so that the shipped JavaScript and declarations come from one compiler;
 * it follows imports from the entries, so files nothing exports are not shipped.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { packageEntries, repoRoot } from "./lib/package-exports.ts";

export function build(): void {
  const entries = packageEntries();
  const present = entries.filter((entry) => entry.sourceExists);
  for (const entry of entries) {
    if (!entry.sourceExists) console.log(`build: not building "${entry.subpath}": ${entry.source} does not exist yet`);
  }
  if (present.length === 0) throw new Error("build: no entry of package.json exports has a source file");

  rmSync(join(repoRoot, "dist"), { recursive: true, force: true });
  // The entry list changes with package.json, so the project file naming it is generated per build.
  const configDir = join(repoRoot, ".cache", "build");
  mkdirSync(configDir, { recursive: true });
  const config = join(configDir, "tsconfig.json");
  writeFileSync(
    config,
    JSON.stringify(
      {
        extends: "../../tsconfig.build.json",
        include: [],
        files: present.map((entry) => join(repoRoot, entry.source)),
      },
      null,
      2,
    ),
  );
  const tsc = spawnSync(join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", config], {
    cwd: repoRoot,
    stdio: "inherit",
  });
  if (tsc.status !== 0) throw new Error(`build: tsc failed (exit ${tsc.status ?? tsc.signal})`);

  buildCli(configDir);

  const notEmitted = present.flatMap((entry) =>
    [entry.js, entry.types].filter((file) => !existsSync(join(repoRoot, file))),
  );
  if (notEmitted.length > 0) throw new Error(`build: tsc did not emit ${notEmitted.join(", ")}`);
  console.log(`build: ${present.map((entry) => entry.subpath).join(", ")} and the CLI → dist/ and dist/types/`);
}

/** Where the `eventflows` command's source is, and what the build emits for bin/eventflows.js to run. */
export const CLI_SOURCE = "cli/main.ts";
export const CLI_BUILT = "dist/cli/main.js";

/**
 * The `eventflows` command (cli/) is Node-only, so it is compiled on its own with Node's types; the
 * core and adapters it imports are emitted again, identically.
 */
function buildCli(configDir: string): void {
  const config = join(configDir, "tsconfig.cli.json");
  writeFileSync(
    config,
    JSON.stringify(
      {
        extends: "../../tsconfig.build.json",
        compilerOptions: { types: ["node"] },
        include: [],
        files: [join(repoRoot, CLI_SOURCE)],
      },
      null,
      2,
    ),
  );
  const tsc = spawnSync(join(repoRoot, "node_modules", ".bin", "tsc"), ["-p", config], {
    cwd: repoRoot,
    stdio: "inherit",
  });
  if (tsc.status !== 0) throw new Error(`build: tsc failed on the CLI (exit ${tsc.status ?? tsc.signal})`);
  if (!existsSync(join(repoRoot, CLI_BUILT))) throw new Error(`build: tsc did not emit ${CLI_BUILT}`);
}

if (import.meta.main) {
  try {
    build();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  }
}
