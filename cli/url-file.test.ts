import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "./main.js";
import { readUrlFile, URL_FILE_READ_BYTES } from "./url-file.js";

const dir = mkdtempSync(join(tmpdir(), "eventflows-url-file-"));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe("readUrlFile", () => {
  test("reads up to the first line end, or the whole of a short file", async () => {
    expect(await readUrlFile(file("lines", "postgres://a@h/db\nsecond line\n"))).toStartWith("postgres://a@h/db\n");
    expect(await readUrlFile(file("one", "postgres://a@h/db"))).toBe("postgres://a@h/db");
    expect(await readUrlFile(file("empty", ""))).toBe("");
  });

  test("stops at 64 KiB: a file with no line end (a device that never ends) is not read to its end", async () => {
    // Before, both CLIs read the whole file: `--url-file /dev/zero` never finished.
    expect((await readUrlFile("/dev/zero")).length).toBe(URL_FILE_READ_BYTES);
    const long = "x".repeat(URL_FILE_READ_BYTES * 2);
    expect(await readUrlFile(file("long", long))).toBe(long.slice(0, URL_FILE_READ_BYTES));
  });

  test("`eventflows stats postgres --url-file /dev/zero` is a usage error (exit 2), not a command that never ends", async () => {
    const stderr: string[] = [];
    const code = await runCli(["stats", "postgres", "--url-file", "/dev/zero"], {
      stdout: () => undefined,
      stderr: (text) => stderr.push(text),
      env: {},
      cwd: dir,
    });
    expect(code).toBe(2);
    expect(stderr.join("\n")).toContain("The URL from --url-file is not a PostgreSQL URL");
  });
});
