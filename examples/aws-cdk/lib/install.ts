/**
 * The example is a package of its own (examples/aws-cdk/package.json), so that `npm install` of the
 * repository does not pull aws-cdk-lib. Tests that synthesize the stack call this first: it installs
 * the example's dependencies into examples/aws-cdk/node_modules when they are missing, and says
 * clearly what to do when that fails.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

export const exampleDir = join(import.meta.dirname, "..");

/**
 * The packages the stack imports, and the pinned tools that synthesize it (`cdk`, and `bun`, which cdk.json runs
 * the app with), as examples/aws-cdk/package.json lists them.
 */
const REQUIRED = ["aws-cdk-lib", "constructs", "esbuild", "aws-cdk", "bun"] as const;

export function missingDependencies(dir = exampleDir): string[] {
  return REQUIRED.filter((name) => !existsSync(join(dir, "node_modules", name, "package.json")));
}

/** Installs examples/aws-cdk's dependencies unless they are there; throws a readable error if npm fails. */
export function ensureCdkDependencies(dir = exampleDir, npmCommand = "npm"): void {
  const missing = missingDependencies(dir);
  if (missing.length === 0) return;
  const args = existsSync(join(dir, "package-lock.json")) ? ["ci"] : ["install"];
  const npm = spawnSync(npmCommand, [...args, "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], {
    cwd: dir,
    encoding: "utf8",
  });
  const stillMissing = missingDependencies(dir);
  if (npm.status !== 0 || stillMissing.length > 0) {
    const output = `${npm.error?.message ?? ""}\n${npm.stderr ?? ""}`.trim().split("\n").slice(-15).join("\n");
    throw new Error(
      `examples/aws-cdk needs ${stillMissing.join(", ") || missing.join(", ")}: \`npm ${args[0]}\` in ${dir} ` +
        `exited ${npm.status ?? npm.signal}. Run it yourself (it needs the npm registry) and rerun the test.\n${output}`,
    );
  }
}
