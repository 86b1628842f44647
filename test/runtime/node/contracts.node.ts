/**
 * The contract suites under Node's own test runner, against the built package. Not run directly:
 * test/runtime/node/run.ts bundles it (imports of the public entries become `@eventflows/core/…`,
 * resolved by Node through package.json "exports" to dist/) and runs `node --test` on the result.
 */
import { after, describe, test } from "node:test";
import { registerContract } from "../../../src/testing/index.js";
import { coverageSuite } from "../runtime-suite.js";
import { allSuites, coveredContracts } from "../suites/index.js";

const framework = {
  describe,
  test: (name: string, body: () => Promise<void>, timeoutMs?: number) => test(name, { timeout: timeoutMs }, body),
};

for (const runtimeSuite of allSuites()) {
  const opened = await runtimeSuite.open(process.env);
  registerContract(opened.suite, framework);
  if (opened.close !== undefined) after(opened.close);
}
// The runner lists every entry point's contracts (it can import them all) and passes them here.
const exported = JSON.parse(process.env.EVENTFLOWS_EXPORTED_CONTRACTS ?? "[]") as string[];
registerContract(coverageSuite(exported, coveredContracts()), framework);
