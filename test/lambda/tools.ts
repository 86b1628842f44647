/**
 * What the Lambda runtime tests run on, installed once into .cache and reused:
 * - AWS's Lambda Runtime Interface Emulator (RIE), built by `go install` from the Go module proxy,
 *   pinned to one module version;
 * - Node 22 from the npm `node` package (Lambda's nodejs22.x); Node 20 (nodejs20.x) is the
 *   machine's `node`.
 * Beside them, `ensureDeno()`: Deno from the npm `deno` package, pinned, for test/runtime/deno/run.ts
 * (which installs it itself when missing).
 * Nothing is skipped: a tool that cannot be installed fails the run, saying what is missing.
 *   bun test/lambda/tools.ts     install what is missing and print the paths (.ci/run calls this)
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { cacheDir, commandExists, withLock } from "../services/common.ts";

/** The RIE module version (the module proxy serves pseudo-versions only; this is @latest on 2026-12-02). */
export const RIE_VERSION = "v0.0.0-20261030222936-bef5c4ba774d";
export const RIE_MODULE = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie";
/** Node 22: the newest 22.x the registry has when the cache is first filled. */
export const NODE22_SPEC = "node@22";
/** Deno for the Deno runtime tests (test/runtime/deno/run.ts): npm's `deno` package, pinned. */
export const DENO_VERSION = "2.9.6";

const rieDir = join(cacheDir, "lambda-rie", RIE_VERSION);
const node22Dir = join(cacheDir, "node22");
const denoDir = join(cacheDir, "deno", DENO_VERSION);

export class LambdaToolError extends Error {
  override readonly name = "LambdaToolError";
}

export interface LambdaRuntime {
  /** "nodejs20.x", "nodejs22.x": Lambda's runtime identifiers. */
  readonly name: string;
  readonly node: string;
  readonly version: string;
}

export interface LambdaTools {
  readonly rie: string;
  readonly runtimes: readonly LambdaRuntime[];
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  return spawnSync(command, args, { encoding: "utf8", env, timeout: 300_000 });
}

function goBinary(): string | undefined {
  if (commandExists("go")) return "go";
  return existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : undefined;
}

async function ensureRie(): Promise<string> {
  const binary = join(rieDir, "aws-lambda-rie");
  if (existsSync(binary)) return binary;
  return withLock("aws-lambda-rie", join(cacheDir, "locks", "lambda-rie"), async () => {
    if (existsSync(binary)) return binary;
    const go = goBinary();
    if (go === undefined) {
      throw new LambdaToolError(
        `aws-lambda-rie is not in ${rieDir} and Go is missing to build it: install Go (apt-get install golang-go), then run bun test/lambda/tools.ts`,
      );
    }
    console.log(`lambda: go install ${RIE_MODULE}@${RIE_VERSION}`);
    const result = run(go, ["install", `${RIE_MODULE}@${RIE_VERSION}`], {
      ...process.env,
      GOBIN: rieDir,
      GOFLAGS: "-buildvcs=false",
    });
    if (result.status !== 0 || !existsSync(binary)) {
      const version = run(go, ["version"]).stdout.trim();
      throw new LambdaToolError(
        `go install ${RIE_MODULE}@${RIE_VERSION} failed with ${version} (the module needs Go 1.26, which Go 1.21+ fetches by itself; is the Go module proxy reachable?):\n${result.stdout}${result.stderr}`,
      );
    }
    return binary;
  });
}

/** Node 22 from npm under .cache/node22 (the Lambda column and the node:sqlite runtime pass use it). */
export async function ensureNode22(): Promise<string> {
  const binary = join(node22Dir, "node_modules", ".bin", "node");
  if (existsSync(binary)) return binary;
  return withLock("node 22", join(cacheDir, "locks", "node22"), async () => {
    if (existsSync(binary)) return binary;
    console.log(`lambda: npm install --prefix ${node22Dir} ${NODE22_SPEC}`);
    const result = run("npm", ["install", "--prefix", node22Dir, "--no-audit", "--no-fund", NODE22_SPEC]);
    if (result.status !== 0 || !existsSync(binary)) {
      throw new LambdaToolError(
        `Node 22 could not be installed from npm (${NODE22_SPEC} into ${node22Dir}):\n${result.stdout}${result.stderr}`,
      );
    }
    return binary;
  });
}

/**
 * Deno from npm under .cache/deno/<version> (its binary comes through the optional dependency for
 * the platform, e.g. @deno/linux-x64-glibc); throws a LambdaToolError saying why when it cannot.
 */
export async function ensureDeno(): Promise<string> {
  const binary = join(denoDir, "node_modules", ".bin", "deno");
  const works = () => existsSync(binary) && run(binary, ["--version"]).stdout?.startsWith(`deno ${DENO_VERSION}`);
  if (works()) return binary;
  return withLock("deno", join(cacheDir, "locks", "deno"), async () => {
    if (works()) return binary;
    console.log(`deno: npm install --prefix ${denoDir} deno@${DENO_VERSION}`);
    const result = run("npm", ["install", "--prefix", denoDir, "--no-audit", "--no-fund", `deno@${DENO_VERSION}`]);
    if (result.status !== 0 || !works()) {
      const version = existsSync(binary) ? run(binary, ["--version"]) : undefined;
      throw new LambdaToolError(
        `Deno ${DENO_VERSION} could not be installed from npm (deno@${DENO_VERSION} into ${denoDir}; its binary comes from the optional dependency for ${process.platform}-${process.arch}, which npm must not omit):\n${result.stdout}${result.stderr}${version === undefined ? "" : `\n${binary} --version: ${version.stdout}${version.stderr}${version.error?.message ?? ""}`}`,
      );
    }
    return binary;
  });
}

function runtime(name: string, node: string, major: number): LambdaRuntime {
  const result = run(node, ["--version"]);
  const version = result.stdout?.trim() ?? "";
  if (result.status !== 0 || !version.startsWith(`v${major}.`)) {
    throw new LambdaToolError(
      `${name} needs Node ${major}: ${node} --version gave ${version || result.error?.message}`,
    );
  }
  return { name, node, version };
}

/** RIE and the Node versions Lambda runs, installed if missing; throws a LambdaToolError naming what is missing. */
export async function ensureLambdaTools(): Promise<LambdaTools> {
  const rie = await ensureRie();
  const node20 = run("sh", ["-c", "command -v node"]).stdout.trim();
  if (node20 === "")
    throw new LambdaToolError("node is not on PATH: the Lambda tests run nodejs20.x on the machine's Node 20");
  const node22 = await ensureNode22();
  return { rie, runtimes: [runtime("nodejs20.x", node20, 20), runtime("nodejs22.x", node22, 22)] };
}

if (import.meta.main) {
  try {
    const tools = await ensureLambdaTools();
    console.log(`lambda: RIE ${tools.rie}`);
    for (const r of tools.runtimes) console.log(`lambda: ${r.name} ${r.version} ${r.node}`);
  } catch (error) {
    console.error(`lambda: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
