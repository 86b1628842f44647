import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { EventFlowsError } from "../../src/index.js";
import { CliErrorCode, FileConflictError } from "../errors.js";
import type { Template } from "./templates.js";

/** What happened to one file: new, already exactly this, or replaced under `--force`. */
export type FileStatus = "created" | "unchanged" | "overwritten";

export interface WrittenFile {
  /** Relative to the working directory, with `/` separators. */
  readonly path: string;
  readonly status: FileStatus;
}

/**
 * Writes the templates under `dir`. Idempotent: a file that already holds exactly the content is
 * not touched (its mtime stays, so watchers and build tools see nothing). A file that differs is
 * replaced only with `force`; without it, nothing at all is written (every file is checked first),
 * and a {@link FileConflictError} names the files that differ.
 */
export function writeTemplates(
  cwd: string,
  dir: string,
  templates: readonly Template[],
  force: boolean,
): WrittenFile[] {
  const planned = templates.map((template) => {
    const absolute = resolve(cwd, dir, template.file);
    const path = relative(cwd, absolute).split("\\").join("/");
    const current = existsSync(absolute) ? fileStep(path, () => readFileSync(absolute, "utf8")) : undefined;
    const status: FileStatus =
      current === undefined ? "created" : current === template.content ? "unchanged" : "overwritten";
    return { absolute, template, status, path };
  });
  const conflicts = planned.filter((file) => file.status === "overwritten");
  if (conflicts.length > 0 && !force) throw new FileConflictError(conflicts.map((file) => file.path));
  for (const file of planned) {
    if (file.status === "unchanged") continue;
    fileStep(file.path, () => {
      mkdirSync(dirname(file.absolute), { recursive: true });
      writeFileSync(file.absolute, file.template.content);
    });
  }
  return planned.map(({ path, status }) => ({ path, status }));
}

/** What a file system error means for the file to write, in words (its code kept as the cause's). */
const REASONS: Readonly<Record<string, string>> = {
  EEXIST: "a part of its directory is a file",
  ENOTDIR: "a part of its directory is a file",
  EISDIR: "it is a directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
};

/** Runs one read or write of `path`, a failure of it a CLI_WRITE_FAILED error naming the file. */
function fileStep<T>(path: string, step: () => T): T {
  try {
    return step();
  } catch (error) {
    const code = String((error as { code?: unknown } | undefined)?.code ?? "");
    throw new EventFlowsError(
      CliErrorCode.WriteFailed,
      `Cannot write ${path}: ${REASONS[code] ?? (code || "failed")}`,
      {
        cause: error,
      },
    );
  }
}
