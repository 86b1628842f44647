import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileConflictError } from "../errors.js";
import { writeTemplates } from "./write.js";

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), "eventflows-write-"));
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

const templates = [
  { file: "a.ts", content: "export const a = 1;\n" },
  { file: "a.test.ts", content: "// test\n" },
];

describe("writeTemplates", () => {
  test("a conflict on one file writes none of them, and names only the changed one", () => {
    writeTemplates(cwd, "src", templates, false);
    rmSync(join(cwd, "src", "a.ts"));
    writeFileSync(join(cwd, "src", "a.test.ts"), "// mine\n");
    let caught: unknown;
    try {
      writeTemplates(cwd, "src", templates, false);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FileConflictError);
    expect((caught as FileConflictError).paths).toEqual(["src/a.test.ts"]);
    expect((caught as FileConflictError).code).toBe("CLI_FILE_CONFLICT");
    // The missing file was not written either: all or nothing.
    expect(existsSync(join(cwd, "src", "a.ts"))).toBe(false);
    expect(readFileSync(join(cwd, "src", "a.test.ts"), "utf8")).toBe("// mine\n");
  });

  test("a --dir that is a file, or a file to write that is a directory: CLI_WRITE_FAILED naming the file, nothing written", () => {
    const failure = (dir: string) => {
      try {
        writeTemplates(cwd, dir, templates, false);
      } catch (error) {
        return { code: (error as { code?: string }).code, message: (error as Error).message };
      }
      return undefined;
    };
    writeFileSync(join(cwd, "afile"), "");
    expect(failure("afile")).toEqual({
      code: "CLI_WRITE_FAILED",
      message: "Cannot write afile/a.ts: a part of its directory is a file",
    });
    expect(failure("afile/src")).toMatchObject({ code: "CLI_WRITE_FAILED" });
    mkdirSync(join(cwd, "src", "a.test.ts"), { recursive: true });
    expect(failure("src")).toEqual({
      code: "CLI_WRITE_FAILED",
      message: "Cannot write src/a.test.ts: it is a directory",
    });
    expect(existsSync(join(cwd, "src", "a.ts"))).toBe(false);
  });

  test("--force replaces the changed file and creates the missing one", () => {
    writeTemplates(cwd, "src", templates, false);
    rmSync(join(cwd, "src", "a.ts"));
    writeFileSync(join(cwd, "src", "a.test.ts"), "// mine\n");
    expect(writeTemplates(cwd, "src", templates, true)).toEqual([
      { path: "src/a.ts", status: "created" },
      { path: "src/a.test.ts", status: "overwritten" },
    ]);
    expect(readFileSync(join(cwd, "src", "a.test.ts"), "utf8")).toBe("// test\n");
  });
});
