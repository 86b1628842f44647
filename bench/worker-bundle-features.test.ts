/**
 * `bun bench/worker-bundle-features.ts` measures what each feature costs of the DynamoDB Worker by
 * removing it at bundling time. Its removals name functions, strings and files of the library: when one
 * of them is renamed or moved the measurement breaks (it broke once unnoticed, when the AWS client's
 * `sendIssues` became `requestBody` and `sendOptionIssues`). This runs it (a dozen bundles, a few
 * seconds), so that the rename fails here.
 */
import { expect, test } from "bun:test";
import { featureCosts } from "./worker-bundle-features.ts";

test("every feature removal of the Worker's cost table still applies and removes bytes", async () => {
  const costs = await featureCosts();
  expect(costs.features.length).toBeGreaterThan(0);
  // A removal that matches nothing any more (a stub of code the Worker reaches another way) costs 0.
  expect(costs.features.filter(([, bytes]) => !(bytes > 0)).map(([what]) => what)).toEqual([]);
  expect(costs.all).toBeGreaterThan(Math.max(...costs.features.map(([, bytes]) => bytes)));
  expect(costs.left + costs.all).toBe(costs.whole);
  expect(costs.keepNames).toBeGreaterThan(0);
}, 60_000);
