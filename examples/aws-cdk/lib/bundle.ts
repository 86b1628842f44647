/**
 * Bundles a Lambda function's entry file with esbuild at synth time, into a folder CDK uploads as
 * the function's code. Offline and fast, so `cdk synth` and the template test need no Docker.
 */
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSync } from "esbuild";

/**
 * A new folder for bundles that only this user can read or write (mkdtemp: mode 0700, a random
 * name), so nobody else on the machine can swap the code between the build and CDK's upload.
 */
export function privateBundleDir(): string {
  return mkdtempSync(join(tmpdir(), "eventflows-cdk-bundles-"));
}

export function bundleFunction(entry: string, outDir: string, name: string): string {
  const dir = join(outDir, name);
  mkdirSync(dir, { recursive: true });
  buildSync({
    entryPoints: [entry],
    outfile: join(dir, "index.mjs"),
    bundle: true,
    // Lambda's Node 20 runtime runs ESM from a .mjs file; `neutral` keeps Node built-ins out,
    // as the library promises.
    platform: "neutral",
    format: "esm",
    target: "node20",
    mainFields: ["module", "main"],
    conditions: ["import", "module", "default"],
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "error",
  });
  return dir;
}
