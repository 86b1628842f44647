/**
 * Issue 19, item 5: the size of a Worker that imports the DynamoDB event store and appends one event
 * (`fixtures/dynamodb-worker.ts`), bundled as `wrangler deploy --minify` does (the worker template's
 * own bundler, `worker-template/test/bundle.ts`), with what each package and source folder adds.
 *   bun bench/worker-bundle.ts           by package and source folder
 *   bun bench/worker-bundle.ts --files   by input file
 */
import { join } from "node:path";
import { bundleWorkerTemplate, printBreakdown } from "../worker-template/test/bundle.ts";

const bundle = await bundleWorkerTemplate(join(import.meta.dirname, "fixtures", "dynamodb-worker.ts"));
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(`DynamoDB Worker (one append): ${kb(bundle.bytes)} minified, ${kb(bundle.gzipBytes)} gzipped`);
printBreakdown(bundle, process.argv.slice(2));
