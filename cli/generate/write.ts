import {
  accessSync,
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, relative, resolve, sep } from "node:path";
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
    const current = existsSync(absolute) ? fileStep(path, () => readRegularFile(absolute)) : undefined;
    const status: FileStatus =
      current === undefined ? "created" : current === template.content ? "unchanged" : "overwritten";
    return {
      absolute,
      template,
      status,
      path,
      // Its bytes, to give it back should a later write fail (read as text above, to compare).
      previous: status === "overwritten" ? readFileSync(absolute) : undefined,
      by: status === "overwritten" ? generatedBy(current) : undefined,
    };
  });
  const conflicts = planned.filter((file) => file.status === "overwritten");
  if (conflicts.length > 0 && !force) {
    // Written by another `generate` (another kind, or a name spelt into the same file name): say so.
    const other = conflicts
      .map((file) => file.by)
      .find((by) => by !== undefined && by !== generatedBy(conflicts[0]?.template.content));
    throw new FileConflictError(
      conflicts.map((file) => file.path),
      other,
    );
  }
  const writes = planned.filter((file) => file.status !== "unchanged");
  // Every target checked before the first is written: a file that cannot be written stops the command
  // with nothing written (not the module without its test).
  for (const file of writes) fileStep(file.path, () => assertWritable(file.absolute));
  // And should a write fail all the same (a full disk, a file system that refuses it), those made before it
  // are undone: the files created removed, the files replaced given back their content, the directories made removed.
  const done: (typeof planned)[number][] = [];
  const madeDirs: string[] = [];
  try {
    for (const file of writes) {
      fileStep(file.path, () => {
        const made = mkdirSync(dirname(file.absolute), { recursive: true });
        if (made !== undefined) madeDirs.push(made);
        done.push(file);
        writeFileSync(file.absolute, file.template.content);
      });
    }
  } catch (error) {
    for (const file of done.reverse()) {
      try {
        if (file.status === "created") rmSync(file.absolute, { force: true });
        else if (file.previous !== undefined) writeFileSync(file.absolute, file.previous);
      } catch {
        // Best effort: the error reported is the write's.
      }
    }
    for (const file of done) removeMadeDirs(dirname(file.absolute), madeDirs);
    throw error;
  }
  return planned.map(({ path, status }) => ({ path, status }));
}

/**
 * Throws the file system's error a write of `absolute` would meet, where it can be known without writing:
 * a part of its directory that is a file, a directory or a dangling link where the file goes, no permission.
 */
function assertWritable(absolute: string): void {
  const link = lstatOrUndefined(absolute);
  if (link !== undefined) {
    if (link.isSymbolicLink() && !existsSync(absolute)) {
      throw Object.assign(new Error(`dangling link: ${absolute}`), { code: "EDANGLING" });
    }
    if (statSync(absolute).isDirectory()) throw Object.assign(new Error(`directory: ${absolute}`), { code: "EISDIR" });
    accessSync(absolute, constants.W_OK);
    return;
  }
  // The nearest part of the path that exists must be a directory we may write into.
  let dir = dirname(absolute);
  while (lstatOrUndefined(dir) === undefined && dirname(dir) !== dir) dir = dirname(dir);
  if (!statSync(dir).isDirectory()) throw Object.assign(new Error(`not a directory: ${dir}`), { code: "ENOTDIR" });
  accessSync(dir, constants.W_OK);
}

/**
 * The text of the file at `absolute`, which must be a regular file (or a directory, for readFileSync's EISDIR):
 * a FIFO would block the read for ever, /dev/zero never end, /dev/null read as an edited file and swallow
 * what --force wrote.
 */
function readRegularFile(absolute: string): string {
  const stats = statSync(absolute);
  if (!stats.isFile() && !stats.isDirectory()) {
    throw Object.assign(new Error(`not a regular file: ${absolute}`), { code: "ENOTREG" });
  }
  return readFileSync(absolute, "utf8");
}

function lstatOrUndefined(path: string): ReturnType<typeof lstatSync> | undefined {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Removes the empty directories from `dir` up, as long as this run made them (`made`: the topmost of each mkdir). */
function removeMadeDirs(dir: string, made: readonly string[]): void {
  for (let at = dir; made.some((top) => at === top || at.startsWith(`${top}${sep}`)); at = dirname(at)) {
    try {
      rmdirSync(at);
    } catch {
      return; // not empty (another file of this run, or something else), or gone
    }
  }
}
/** The `eventflows generate <kind> <Name>` a file's first line says wrote it, if it says so. */
function generatedBy(content: string | undefined): string | undefined {
  return /^\/\/ Generated by `(eventflows generate \w+ \w+)`/.exec(content ?? "")?.[1];
}

/** What a file system error means for the file to write, in words (its code kept as the cause's). */
const REASONS: Readonly<Record<string, string>> = {
  EEXIST: "a part of its directory is a file",
  ENOTDIR: "a part of its directory is a file",
  EISDIR: "it is a directory",
  EDANGLING: "it is a symbolic link to nothing",
  ENOTREG: "it is not a regular file (a device, a pipe or a socket)",
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
