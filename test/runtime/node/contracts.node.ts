/**
 * The contract suites under Node's own test runner, against the built package. Not run directly:
 * test/runtime/node/run.ts bundles it (imports of the public entries become `@eventflows/core/…`,
 * resolved by Node through package.json "exports" to dist/) and runs `node --test` on the result.
 */
import { after, describe, test } from "node:test";
import { registerContract } from "../../../src/testing/index.js";
import { coverageSuite } from "../runtime-suite.js";
import { coveredContracts, suitesFor } from "../suites/index.js";

const framework = {
  describe,
  test: (name: string, body: () => Promise<void>, timeoutMs?: number) => test(name, { timeout: timeoutMs }, body),
};

// The runner's second pass, on Node 22, runs only the modules that need it (node:sqlite).
const runtime = process.env.EVENTFLOWS_NODE_RUNTIME === "node22" ? "node22" : "node";

for (const runtimeSuite of suitesFor(runtime)) {
  const opened = await runtimeSuite.open(process.env);
  registerContract(opened.suite, framework);
  if (opened.close !== undefined) after(opened.close);
}
// The runner lists every entry point's contracts (it can import them all) and passes them here.
const exported = JSON.parse(process.env.EVENTFLOWS_EXPORTED_CONTRACTS ?? "[]") as string[];
if (runtime === "node") registerContract(coverageSuite(exported, coveredContracts()), framework);
