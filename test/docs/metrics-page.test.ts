/**
 * docs/core/metrics-and-health.md lists the values of `eventflows.operation`, the label `countError` and
 * the library's own sites put on `eventflows.errors`: the type of that parameter must promise exactly
 * those, no value the library never records and the page never names.
 */
import { describe, expect, expectTypeOf, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../scripts/lib/package-exports.ts";
import type { countError } from "../../src/index.js";

const page = readFileSync(join(repoRoot, "docs", "core", "metrics-and-health.md"), "utf8");

// Written out once and held to the type below (tsc fails on a difference) and to the page (this test fails).
const operations = ["command", "query", "append", "publish", "consume", "projection", "saga"] as const;

/** The backquoted values in the parentheses after `eventflows.operation` in the errors row. */
function documentedOperations(): string[] {
  const row = page.split("\n").find((line) => line.includes("`eventflows.errors`")) ?? "";
  const list = /`eventflows\.operation` \(([^)]*)\)/.exec(row)?.[1] ?? "";
  return [...list.matchAll(/`([^`]+)`/g)].map((match) => match[1] as string);
}

describe("docs/core/metrics-and-health.md: eventflows.operation", () => {
  test("countError's operation type is the documented list, member for member", () => {
    expectTypeOf<Parameters<typeof countError>[0]>().toEqualTypeOf<(typeof operations)[number]>();
    expect(documentedOperations()).toEqual([...operations]);
  });
});
