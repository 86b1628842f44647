import { expect, test } from "bun:test";
import { parseArgs, selectBenchmarks } from "./run.ts";

const available = ["core", "dynamodb", "eventbridge", "hono", "postgres", "snapshots"];

test("bench names select files; pg and ddb are short for postgres and dynamodb", () => {
  expect(selectBenchmarks([], available)).toEqual(available);
  expect(selectBenchmarks(["core", "pg"], available)).toEqual(["core", "postgres"]);
  expect(selectBenchmarks(["ddb", "core"], available)).toEqual(["core", "dynamodb"]);
});

test("an unknown name refuses the whole run instead of being dropped", () => {
  expect(() => selectBenchmarks(["core", "pgx"], available)).toThrow(
    "no benchmark named pgx; there are: core, dynamodb, eventbridge, hono, postgres, snapshots",
  );
});

test("--runtime picks bun, node or both (the default), anywhere among the names", () => {
  expect(parseArgs(["core"])).toEqual({ runtimes: ["bun", "node"], names: ["core"] });
  expect(parseArgs(["--runtime", "node", "core", "pg"])).toEqual({ runtimes: ["node"], names: ["core", "pg"] });
  expect(parseArgs(["core", "--runtime=bun"])).toEqual({ runtimes: ["bun"], names: ["core"] });
  expect(parseArgs(["--runtime", "both"])).toEqual({ runtimes: ["bun", "node"], names: [] });
  expect(() => parseArgs(["--runtime", "deno"])).toThrow("--runtime takes bun, node or both, not deno");
  expect(() => parseArgs(["--runtime"])).toThrow("not nothing");
});
