import { expect, test } from "bun:test";
import { selectBenchmarks } from "./run.ts";

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
