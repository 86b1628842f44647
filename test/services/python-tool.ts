/**
 * A Python tool the tests need (moto, schemathesis), pinned and installed once into a cached
 * virtualenv under .cache/<name>/. Concurrent test files serialize on a lock, so only one runs pip.
 * Test-only code: Node APIs are fine here.
 */
import { spawnSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir, commandExists, ensureDir, ServiceStartError, withLock } from "./common.ts";

export interface PythonTool {
  /** The cache folder and the name errors use, e.g. "moto". */
  readonly name: string;
  /** What pip installs, pinned: "moto[server]==5.2.5". */
  readonly requirement: string;
  /** The version, for the folder and the lock names. */
  readonly version: string;
  /** The executable the tool must leave in the venv's bin/, e.g. "moto_server". */
  readonly executable: string;
}

/** Where the tool's executable is once {@link ensurePythonTool} has run. */
export function pythonToolPath(tool: PythonTool): string {
  return join(venvOf(tool), "bin", tool.executable);
}

/** Installs the tool unless a previous run did; throws a ServiceStartError saying what is missing. */
export async function ensurePythonTool(tool: PythonTool): Promise<string> {
  const marker = join(venvOf(tool), ".eventflows-installed");
  if (!existsSync(marker)) {
    ensureDir(join(cacheDir, tool.name));
    const lock = join(cacheDir, tool.name, `install-${tool.version}.lock`);
    await withLock(
      tool.name,
      lock,
      async () => {
        if (!existsSync(marker)) install(tool, marker);
      },
      10 * 60_000,
    );
  }
  return pythonToolPath(tool);
}

function venvOf(tool: PythonTool): string {
  return join(cacheDir, tool.name, `venv-${tool.version}`);
}

function install(tool: PythonTool, marker: string): void {
  const python = ["python3", "python"].find(commandExists);
  if (python === undefined) {
    throw new ServiceStartError(tool.name, "python3 is not installed (apt-get install python3 python3-venv)");
  }
  const venvDir = venvOf(tool);
  rmSync(venvDir, { recursive: true, force: true });
  const venv = spawnSync(python, ["-m", "venv", venvDir], { encoding: "utf8" });
  if (venv.status !== 0) {
    throw new ServiceStartError(
      tool.name,
      `"${python} -m venv" failed; the venv module is missing (apt-get install python3-venv): ${venv.stderr.trim()}`,
    );
  }
  const pip = join(venvDir, "bin", "pip");
  if (!existsSync(pip)) {
    throw new ServiceStartError(tool.name, "the virtualenv has no pip (apt-get install python3-pip python3-venv)");
  }
  const installed = spawnSync(pip, ["install", "--quiet", "--disable-pip-version-check", tool.requirement], {
    encoding: "utf8",
    timeout: 10 * 60_000,
  });
  if (installed.status !== 0 || !existsSync(pythonToolPath(tool))) {
    throw new ServiceStartError(
      tool.name,
      `pip install ${tool.requirement} failed (is PyPI reachable?): ${installed.stderr.trim().slice(-2_000)}`,
    );
  }
  writeFileSync(marker, `${tool.version}\n`);
}
