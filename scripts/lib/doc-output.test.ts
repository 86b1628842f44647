import { describe, expect, test } from "bun:test";
import { agrees, normalize, outputMismatches, tagStatedLogs } from "./doc-output.ts";

describe("doc sample output against the comments that state it", () => {
  test("Bun's multi-line objects compare with the one-line forms docs write", () => {
    expect(normalize("{\n  delivered: 1,\n  failures: [],\n}")).toBe("{delivered: 1, failures: []}");
    expect(agrees('[{ path: ["amount"] }]', ['[ {\n  path: [ "amount" ],\n} ]'])).toBe(true);
    expect(agrees('Map(1) { "Cart-1": 1 } 2 2', ['Map(1) {\n  "Cart-1": 1,\n} 2 2'])).toBe(true);
  });

  test("an explanation may follow the output; a wrong value or quoting does not pass", () => {
    expect(agrees("2", ["2"])).toBe(true);
    expect(agrees("undefined: no such stream", ["undefined"])).toBe(true);
    expect(agrees("2 (two events)", ["2"])).toBe(true);
    expect(agrees("3", ["2"])).toBe(false);
    expect(agrees("23", ["2"])).toBe(false);
    expect(agrees('2 "moss"', ["2 moss"])).toBe(false);
    expect(agrees('"INSUFFICIENT_FUNDS": nothing was appended', ["INSUFFICIENT_FUNDS"])).toBe(false);
  });

  test("a line run several times lists its outputs in order; an ellipsis states only the start", () => {
    expect(agrees("10, 9, 8", ["10", "9", "8"])).toBe(true);
    expect(agrees("4 { celsius: 23 }, then 5 { celsius: 24 }", ["4 {\n  celsius: 23,\n}", "5 { celsius: 24 }"])).toBe(
      true,
    );
    expect(agrees("10, 8, 9", ["10", "9", "8"])).toBe(false);
    expect(agrees('1 AccountOpened { owner: "Alice" } ...', ['1 AccountOpened { owner: "Alice" }', "2 …"])).toBe(true);
    expect(agrees("1 Other ...", ["1 AccountOpened"])).toBe(false);
  });

  test("a stated line that printed nothing is a mismatch; lines without a stated output are not compared", () => {
    const code = ["console.log(1 + 1); // 2", "console.log(3);", 'if (false) console.log("x"); // x'].join("\n");
    const tagged = tagStatedLogs(code, "a.ts");
    expect(tagged.split("\n")).toEqual([
      '__checkDocsLog("a.ts", 1)(1 + 1); // 2',
      "console.log(3);",
      'if (false) __checkDocsLog("a.ts", 3)("x"); // x',
    ]);
    expect(outputMismatches(code, "a.ts", { "a.ts:1": ["2"], "b.ts:3": ["x"] })).toEqual({
      checked: 2,
      mismatches: [{ line: 3, stated: "x", printed: "(nothing)" }],
    });
  });
});
