/**
 * docs/core/errors.md lists every error class and every code the package exports, each class beside
 * its code: read here against what each public entry (package.json "exports") actually exports.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../scripts/lib/package-exports.ts";
import { ErrorCodeRegistry } from "../../src/index.js";
import { type ErrorClass, exportedErrorClasses } from "../error-classes.ts";

const page = readFileSync(join(repoRoot, "docs", "core", "errors.md"), "utf8");

/** Each table row that names a class in its first cell: class -> the codes its second cell names. */
function documentedClasses(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of page.split("\n")) {
    const cells = line.split("|").map((cell) => cell.trim());
    const name = /^`(\w+)`$/.exec(cells[1] ?? "")?.[1];
    if (name === undefined) continue;
    rows.set(
      name,
      [...(cells[2] ?? "").matchAll(/`([A-Z][A-Z_]+)`/g)].map((match) => match[1] as string),
    );
  }
  return rows;
}

/** The code an instance carries: constructed with placeholder arguments, whichever shape it takes. */
function codeOf(type: ErrorClass): string {
  for (const fill of ["x", [], {}] as const) {
    try {
      return new type(...Array.from({ length: 6 }, () => fill)).code;
    } catch {}
  }
  throw new Error(`${type.name}: could not be constructed`);
}

describe("docs/core/errors.md", () => {
  test("names every exported error class in a table row, with the code it carries", async () => {
    const rows = documentedClasses();
    const classes = await exportedErrorClasses();
    expect(classes.size).toBeGreaterThan(30);
    const registered = Object.values(ErrorCodeRegistry).flatMap((codes) => Object.values(codes) as string[]);
    const wrong: string[] = [];
    for (const [name, type] of classes) {
      const documented = rows.get(name);
      const code = codeOf(type);
      if (documented === undefined) wrong.push(`${name}: no row`);
      // A class given its code by the caller (LiveStreamError) took the placeholder: its row names registry codes.
      else if (code === "x" ? !documented.every((c) => registered.includes(c)) : !documented.includes(code)) {
        wrong.push(`${name}: row says ${documented}, code ${code}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  test("names every code of ErrorCodeRegistry", () => {
    const missing = Object.values(ErrorCodeRegistry)
      .flatMap((codes) => Object.values(codes) as string[])
      .filter((code) => !page.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  test("lists a guard for each guard the core exports", async () => {
    const core = (await import("../../src/index.js")) as Record<string, unknown>;
    const guards = Object.keys(core).filter((name) => /^is\w+Error$/.test(name));
    expect(guards.filter((name) => !page.includes(`\`${name}\``))).toEqual([]);
  });
});
