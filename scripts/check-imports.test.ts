import { describe, expect, test } from "bun:test";
import { checkImports, importCycles, readSources, relativeImports } from "./check-imports.ts";

// In-memory trees prove the check fails where it must, not just that the repository passes.
const tree = (files: Record<string, string>) => new Map(Object.entries(files));
const messages = (files: Record<string, string>) =>
  checkImports(tree(files), []).map((problem) => `${problem.file} ${problem.message}`);

describe("check-imports", () => {
  test("reads static, type-only, side-effect, re-export and dynamic imports; ignores packages", () => {
    const code = [
      'import { a } from "./a.js";',
      'import type { B } from "../b/index.js";',
      'import "./side-effect.js";',
      'export { c } from "./c.js";',
      'export * from "./d.js";',
      'const e = await import("./e.js");',
      'import { f } from "postgres";',
      'import {\n  g,\n  h,\n} from "../../src/index.js";',
    ].join("\n");
    expect(relativeImports(code)).toEqual([
      "./a.js",
      "../b/index.js",
      "./side-effect.js",
      "./c.js",
      "./d.js",
      "./e.js",
      "../../src/index.js",
    ]);
  });

  test("an adapter may import the core entries, the shared layers and its own folder", () => {
    expect(
      messages({
        "adapters/postgres/store.ts": [
          'import { EventStore } from "../../src/index.js";',
          'import { eventStoreContract } from "../../src/testing/index.js";',
          'import { sign } from "../aws/index.js";',
          'import { dispatch } from "../http/dispatcher.js";',
          'import { encode } from "./encode.js";',
        ].join("\n"),
        "adapters/postgres/store.int.test.ts": 'import { ensurePostgres } from "../../test/services/postgres.ts";',
      }),
    ).toEqual([]);
  });

  test("fails on an import of another adapter, naming the file and the adapter", () => {
    expect(
      messages({ "adapters/dynamodb/dedup-store.ts": 'import type { DedupStore } from "../eventbridge/index.js";' }),
    ).toEqual([
      "adapters/dynamodb/dedup-store.ts imports ../eventbridge/index.js: another adapter (eventbridge); move what both need into the core (src/, contracts in src/testing/)",
    ]);
  });

  test("fails on a test importing another adapter too, unless it is a reviewed exception", () => {
    const files = { "adapters/postgres/shared.int.test.ts": 'import { x } from "../hono/index.js";' };
    expect(checkImports(tree(files), [])).toHaveLength(1);
    expect(
      checkImports(tree(files), [
        { file: "adapters/postgres/shared.int.test.ts", target: "adapters/hono/index.ts", why: "test" },
      ]),
    ).toEqual([]);
  });

  test("fails on a core file behind the public entries, and on test/ from library code", () => {
    expect(
      messages({
        "adapters/postgres/a.ts": 'import { checkName } from "../../src/internal/validate.js";',
        "adapters/postgres/b.ts": 'import { helper } from "../../test/services/postgres.ts";',
      }),
    ).toEqual([
      "adapters/postgres/a.ts imports ../../src/internal/validate.js: a core file behind the public entries; import ../../src/index.js",
      "adapters/postgres/b.ts imports ../../test/services/postgres.ts: outside the adapter's allowed imports (the core entries, aws/, http/, its own folder)",
    ]);
  });

  test("between the shared layers, only http's import of aws's synchronous SHA-256", () => {
    expect(
      messages({
        "adapters/http/idempotency.ts": 'import { sha256Hex } from "../aws/signing-sha256.js";',
        "adapters/http/dispatcher.ts": 'import { AwsJsonClient } from "../aws/index.js";',
        "adapters/aws/client.ts": 'import { problem } from "../http/problem.js";',
        "adapters/aws/hash.test.ts": 'import { sha256Hex } from "../http/idempotency.js";',
      }),
    ).toEqual([
      "adapters/http/dispatcher.ts imports ../aws/index.js: another shared layer (aws); between them only http's import of adapters/aws/signing-sha256.ts",
      "adapters/aws/client.ts imports ../http/problem.js: another shared layer (http); between them only http's import of adapters/aws/signing-sha256.ts",
      "adapters/aws/hash.test.ts imports ../http/idempotency.js: another shared layer (http); between them only http's import of adapters/aws/signing-sha256.ts",
    ]);
  });

  test("fails when the core imports an adapter", () => {
    expect(
      messages({ "src/event-store/x.ts": 'import { PostgresEventStore } from "../../adapters/postgres/index.js";' }),
    ).toEqual(["src/event-store/x.ts imports ../../adapters/postgres/index.js: the core imports only itself"]);
  });

  test("reports an import cycle, type-only imports included", () => {
    const problems = messages({
      "adapters/eventbridge/errors.ts": 'import type { Result } from "./event-bus.js";',
      "adapters/eventbridge/event-bus.ts": 'import { PublishIncompleteError } from "./errors.js";',
      "adapters/eventbridge/mapping.ts": 'import { x } from "./errors.js";',
    });
    expect(problems).toEqual([
      "adapters/eventbridge/errors.ts import cycle: adapters/eventbridge/errors.ts -> adapters/eventbridge/event-bus.ts -> adapters/eventbridge/errors.ts",
    ]);
  });

  test("finds every cycle of a graph, and none in a tree", () => {
    const graph = new Map([
      ["a", ["b"]],
      ["b", ["c"]],
      ["c", ["a", "d"]],
      ["d", ["e"]],
      ["e", ["d"]],
      ["f", ["a"]],
    ]);
    expect(importCycles(graph)).toEqual([
      ["d", "e"],
      ["a", "b", "c"],
    ]);
    expect(
      importCycles(
        new Map([
          ["a", ["b", "c"]],
          ["b", ["c"]],
        ]),
      ),
    ).toEqual([]);
  });

  test("the repository itself reads as src/ and adapters/ sources", () => {
    const files = readSources();
    expect(files.has("src/index.ts")).toBe(true);
    expect(files.has("adapters/eventbridge/index.ts")).toBe(true);
    expect([...files.keys()].every((path) => path.startsWith("src/") || path.startsWith("adapters/"))).toBe(true);
  });
});
