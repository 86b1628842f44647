import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The installed package's version, from its package.json: found by walking up from this file, since
 * it sits one level deeper in the build (dist/cli/) than in the sources (cli/).
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 4; depth++) {
    const file = join(dir, "package.json");
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, "utf8")) as { name?: string; version?: string };
      if (pkg.name === "@eventflows/core" && pkg.version !== undefined) return pkg.version;
    }
    dir = dirname(dir);
  }
  return "unknown";
}
