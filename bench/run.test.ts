import { expect, test } from "bun:test";
import { parseArgs, renderOnlyRequested, selectBenchmarks } from "./run.ts";

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

test("--render-only, or npm's npm_config_render_only when npm took the flag, runs nothing; no flag runs everything", () => {
  expect(renderOnlyRequested(["--render-only"], {})).toBe(true);
  // `npm run bench --render-only`: npm passes no argument and sets the variable.
  expect(renderOnlyRequested([], { npm_config_render_only: "true" })).toBe(true);
  expect(renderOnlyRequested([], {})).toBe(false);
  expect(renderOnlyRequested(["core"], { npm_config_render_only: undefined })).toBe(false);
});
