/**
 * schemathesis (PyPI), pinned: the version the OpenAPI contract runs were tested with. The Hono test
 * (adapters/hono/openapi-schemathesis.int.test.ts) installs it into .cache/schemathesis/ on demand;
 * `.ci/run` installs the same version into the same virtualenv, and scripts/check-openapi-contract.ts
 * looks there first.
 */
import { spawn } from "node:child_process";
import type { PythonTool } from "./python-tool.ts";

export const SCHEMATHESIS_VERSION = "4.32.5";

export const schemathesis: PythonTool = {
  name: "schemathesis",
  requirement: `schemathesis==${SCHEMATHESIS_VERSION}`,
  version: SCHEMATHESIS_VERSION,
  executable: "st",
};

/**
 * Runs schemathesis (or any command) without blocking this process, which may be serving the requests it
 * makes, and collects its output; `env` is added to this process's environment.
 */
export function runCollecting(
  command: string,
  args: readonly string[],
  options: { readonly cwd: string; readonly env?: Readonly<Record<string, string>> },
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, NO_COLOR: "1", ...options.env } });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? -1, output }));
  });
}
