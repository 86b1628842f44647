/**
 * Issue 19, item 5: the size of a Worker that imports the DynamoDB event store and appends one event
 * (`fixtures/dynamodb-worker.ts`), bundled as `wrangler deploy --minify` does (the worker template's
 * own bundler, `worker-template/test/bundle.ts`), with what each package and source folder adds, and
 * two floors bundled the same way: the library's DynamoDB client alone sending one PutItem
 * (`fixtures/dynamodb-client-worker.ts`), and the core's event store alone appending one event in memory
 * (`fixtures/in-memory-worker.ts`): what every store class brings, whatever its backend.
 *   bun bench/worker-bundle.ts           by package and source folder
 *   bun bench/worker-bundle.ts --files   by input file
 */
import { join } from "node:path";
import { bundleWorkerTemplate, printBreakdown } from "../worker-template/test/bundle.ts";

const bundle = await bundleWorkerTemplate(join(import.meta.dirname, "fixtures", "dynamodb-worker.ts"));
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(`DynamoDB Worker (one append): ${kb(bundle.bytes)} minified, ${kb(bundle.gzipBytes)} gzipped`);
printBreakdown(bundle, process.argv.slice(2));
for (const [fixture, what] of [
  ["dynamodb-client-worker.ts", "floor: the DynamoDB client alone, one PutItem"],
  ["in-memory-worker.ts", "floor: the core's event store alone (in memory), one append"],
]) {
  const floor = await bundleWorkerTemplate(join(import.meta.dirname, "fixtures", fixture as string));
  console.log(`${what}: ${kb(floor.bytes)} minified, ${kb(floor.gzipBytes)} gzipped`);
}
