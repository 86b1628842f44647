/**
 * Issue 19, item 5: the size of a Worker that imports the DynamoDB event store and appends one event
 * (`fixtures/dynamodb-worker.ts`), bundled as `wrangler deploy --minify` does (the worker template's
 * own bundler, `worker-template/test/bundle.ts`), with what each package and source folder adds.
 *   bun bench/worker-bundle.ts
 */
import { join } from "node:path";
import { bundleWorkerTemplate } from "../worker-template/test/bundle.ts";

const bundle = await bundleWorkerTemplate(join(import.meta.dirname, "fixtures", "dynamodb-worker.ts"));
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(`DynamoDB Worker (one append): ${kb(bundle.bytes)} minified, ${kb(bundle.gzipBytes)} gzipped`);
for (const [group, bytes] of bundle.breakdown) console.log(`  ${kb(bytes).padStart(9)}  ${group}`);
