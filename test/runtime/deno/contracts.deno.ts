/**
 * The contract suites under Deno's own test runner, against the built package. Not run directly:
 * test/runtime/deno/run.ts bundles it (imports of the public entries become `@eventflows/core/…`,
 * which an import map points at dist/) and runs `deno test` on the result. One Deno test per suite,
 * one step per case, so every case shows in the report.
 */
import { registerContract, type TestFramework } from "../../../src/testing/index.js";
import { coverageSuite, type OpenedSuite } from "../runtime-suite.js";
import { coveredContracts, suitesFor } from "../suites/index.js";

declare const Deno: {
  test(options: {
    name: string;
    fn: (t: { step(name: string, fn: () => Promise<void>): Promise<boolean> }) => Promise<void>;
    sanitizeOps?: boolean;
    sanitizeResources?: boolean;
  }): void;
  env: { get(name: string): string | undefined; toObject(): Record<string, string> };
};

/** Fails a case still running after `timeoutMs`, as `node --test` does with its timeout option. */
async function within(name: string, body: () => Promise<void>, timeoutMs: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: did not settle within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([body(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `describe` collects the suite's cases; the Deno test it registers runs them as steps, then `close`. */
function framework(close?: () => Promise<void>): TestFramework {
  let cases: { name: string; body: () => Promise<void>; timeoutMs: number }[] | undefined;
  return {
    describe(name, body) {
      const collected: NonNullable<typeof cases> = [];
      cases = collected;
      body();
      cases = undefined;
      Deno.test({
        name,
        // Pools and subscriptions outlive a case by design; close releases them after the last step.
        sanitizeOps: false,
        sanitizeResources: false,
        fn: async (t) => {
          try {
            for (const c of collected) await t.step(c.name, () => within(c.name, c.body, c.timeoutMs));
          } finally {
            await close?.();
          }
        },
      });
    },
    test(name, body, timeoutMs = 30_000) {
      if (cases === undefined) throw new Error(`${name}: a case outside describe`);
      cases.push({ name, body, timeoutMs });
    },
  };
}

const env = Deno.env.toObject();
for (const runtimeSuite of suitesFor("deno")) {
  // A suite that cannot even open is a failed case in the report, not a crash of the whole file.
  let opened: OpenedSuite;
  try {
    opened = await runtimeSuite.open(env);
  } catch (error) {
    Deno.test({ name: `${runtimeSuite.name} opens`, fn: () => Promise.reject(error) });
    continue;
  }
  registerContract(opened.suite, framework(opened.close));
}
// The runner lists every entry point's contracts (it can import them all) and passes them here.
const exported = JSON.parse(Deno.env.get("EVENTFLOWS_EXPORTED_CONTRACTS") ?? "[]") as string[];
registerContract(coverageSuite(exported, coveredContracts()), framework());
