/**
 * The function's deployment package, made the way a user makes one: the built library packed by
 * `npm pack`, installed from the tarball into a fresh project (its dependencies and the postgres
 * peer from the npm cache, as scripts/check-package.ts does), plus the handler modules and our
 * runtime client bundled next to it. The handlers import `@eventflows/core/…`, which Node resolves
 * to the installed tarball.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { readPackageJson, repoRoot } from "../../scripts/lib/package-exports.ts";
import { bundleRuntimeTest } from "../runtime/bundle.ts";

/** The handler modules in test/lambda/handlers, each bundled to `<name>.mjs`. */
export const HANDLERS = ["http-api", "sqs", "stores", "lifecycle", "contracts", "empty"] as const;
/**
 * `http-api-bundled`: the http-api function as many deploy one, bundled by esbuild with the library
 * inlined from the installed package (no source map), for the cold-start comparison.
 */
export type HandlerName = (typeof HANDLERS)[number] | "http-api-bundled";

function run(command: string, args: readonly string[], cwd: string, what: string): string {
  const result = spawnSync(command, args, { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  if (result.status !== 0) {
    throw new Error(`${what} failed (exit ${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

/** Packs dist/ into `work`, installs it into `work/task`, bundles the handlers there; returns the task root. */
export async function makeDeployment(work: string): Promise<string> {
  const pkg = readPackageJson();
  const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], repoRoot, "npm pack")) as {
    filename: string;
  }[];
  const tarball = join(work, packed[0]?.filename ?? "");
  const task = join(work, "task");
  run("mkdir", ["-p", task], work, "mkdir");
  const postgres = pkg.peerDependencies?.postgres ?? "*";
  writeFileSync(
    join(task, "package.json"),
    JSON.stringify({
      name: "eventflows-lambda-function",
      private: true,
      type: "module",
      dependencies: { [pkg.name]: `file:${tarball}`, postgres },
    }),
  );
  run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], task, "npm install");

  writeFileSync(
    join(task, "bootstrap.mjs"),
    await bundleRuntimeTest(join(import.meta.dirname, "runtime-client.ts"), "external", { platform: "node" }),
  );
  for (const name of HANDLERS) {
    const code = await bundleRuntimeTest(join(import.meta.dirname, "handlers", `${name}.ts`), "external", {
      platform: "node",
      // Installed in the function's node_modules: the peer, and the library's own dependencies.
      external: ["postgres", "valibot", "hono", "@opentelemetry/api"],
    });
    writeFileSync(join(task, `${name}.mjs`), code);
  }
  await build({
    entryPoints: [join(task, "http-api.mjs")],
    absWorkingDir: task,
    outfile: join(task, "http-api-bundled.mjs"),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "es2022",
    logLevel: "error",
  });
  return task;
}
