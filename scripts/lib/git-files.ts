import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/**
 * The repository's files as git sees them: tracked, and untracked but not ignored (a new file not yet
 * added counts), relative to `root`. A file deleted in the working tree but still in the index is
 * listed by git and left out here. Exits the process saying why when git fails.
 */
export function gitFiles(root: string): string[] {
  const listed = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], {
    cwd: root,
    encoding: "utf8",
  });
  if (listed.status !== 0) {
    console.error(`✗ git ls-files failed: ${listed.stderr}`);
    process.exit(1);
  }
  return listed.stdout.split("\0").filter((file) => file !== "" && existsSync(join(root, file)));
}
