/**
 * `bun examples/terraform/build.ts [outDir]`: bundles the example's Lambda functions (the same code
 * the CDK example deploys, examples/aws-cdk/functions) into `outDir`/api, `outDir`/consumer and
 * `outDir`/saga-timer, which Terraform zips. Defaults to examples/terraform/.build.
 */
import { join } from "node:path";
import { bundleFunction } from "../aws-cdk/lib/bundle.ts";

const functionsDir = join(import.meta.dirname, "..", "aws-cdk", "functions");

export function buildFunctions(outDir: string): string[] {
  return ["api", "consumer", "saga-timer"].map((name) =>
    bundleFunction(join(functionsDir, `${name}.ts`), outDir, name),
  );
}

if (import.meta.main) {
  const outDir = process.argv[2] ?? join(import.meta.dirname, ".build");
  for (const dir of buildFunctions(outDir)) console.log(`bundled ${dir}/index.mjs`);
}
