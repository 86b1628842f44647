/**
 * Measures the cold-start cost of a Lambda function using the library, under RIE on Node 20 and 22:
 * per round, a fresh RIE and runtime, one cold invocation and 5 warm ones; medians over the rounds.
 * Four functions: empty (no import: Node and the runtime client alone, the baseline), http-api
 * (the core and the Lambda adapter loaded from the installed package, no I/O), http-api-bundled
 * (the same bundled into one file by esbuild) and lifecycle (postgres.js too, its first query
 * opening the connection). Figures go to docs/lambda-runtime.md.
 *   bun test/lambda/cold-start.ts [rounds=5]     after `bun scripts/build.ts`
 */
import { loadavg } from "node:os";
import { forgetRequest } from "./checks/http-api.ts";
import { httpApiEvent } from "./events.ts";
import { median } from "./report.ts";
import { type ColdStart, measureColdStart, withLambdaSetup } from "./setup.ts";

const rounds = Number(process.argv[2] ?? 5);
const FUNCTIONS = [
  { handler: "empty", event: {} },
  { handler: "http-api", event: httpApiEvent(forgetRequest) },
  { handler: "http-api-bundled", event: httpApiEvent(forgetRequest) },
  { handler: "lifecycle", event: { action: "ping" } },
] as const;

await withLambdaSetup(async ({ tools, withFunction }) => {
  const load = loadavg()
    .map((n) => n.toFixed(1))
    .join(", ");
  console.log(
    `cold start under RIE, ${rounds} rounds, ms (median; cold = first invocation's round trip); load ${load}`,
  );
  console.log("| runtime | function | cold | of which RIE init | warm |");
  console.log("| --- | --- | ---: | ---: | ---: |");
  for (const runtime of tools.runtimes) {
    for (const { handler, event } of FUNCTIONS) {
      const samples: ColdStart[] = [];
      for (let round = 0; round < rounds; round++) {
        samples.push(await withFunction(runtime, handler, 30, (fn) => measureColdStart(fn, event)));
      }
      const of = (pick: (s: ColdStart) => number | undefined) => median(samples.map((s) => pick(s) ?? Number.NaN));
      console.log(
        `| ${runtime.name} (${runtime.version}) | ${handler} | ${of((s) => s.coldMs).toFixed(0)} | ${of((s) => s.initMs).toFixed(0)} | ${of((s) => s.warmMs).toFixed(1)} |`,
      );
    }
  }
});
