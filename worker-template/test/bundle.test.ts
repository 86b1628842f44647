/**
 * Each deployment of the template bundles its own store and no other, stays under the limit, and
 * the sizes the docs state are the sizes measured: each entry bundled as wrangler bundles it
 * (bundle.ts), against the "**N KB, M KB gzipped**" on the line naming that entry in
 * worker-template/README.md and docs/worker-template.md.
 */

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  bundleWorkerTemplate,
  DOCUMENTED_SIZE_TOLERANCE_KB,
  GZIP_LIMIT_BYTES,
  templateDeployments,
  templateDir,
} from "./bundle.ts";

const pages = [join(templateDir, "README.md"), join(templateDir, "..", "docs", "worker-template.md")];

/** Each store's class (names survive: wrangler's keepNames) and its adapter's folder in the breakdown. */
const STORES: Readonly<Record<string, { readonly className: string; readonly group: string }>> = {
  d1: { className: "SqliteEventStore", group: "@eventflows/core adapters/sqlite" },
  dynamodb: { className: "DynamoDbEventStore", group: "@eventflows/core adapters/dynamodb" },
  postgres: { className: "PostgresEventStore", group: "@eventflows/core adapters/postgres" },
};

function statedSizes(page: string, main: string): { minified: number; gzipped: number } {
  const lines = readFileSync(page, "utf8")
    .split("\n")
    .filter((line) => line.includes(`\`${main}\``));
  for (const line of lines) {
    const match = /\*\*(\d+(?:\.\d+)?) KB, (\d+(?:\.\d+)?) KB gzipped\*\*/.exec(line);
    if (match !== null) return { minified: Number(match[1]), gzipped: Number(match[2]) };
  }
  throw new Error(`${page} states no "**N KB, M KB gzipped**" on a line naming \`${main}\``);
}

test("wrangler.toml deploys one entry per store: D1 at the top level, DynamoDB and PostgreSQL as environments", () => {
  expect(templateDeployments().map(({ env, store, main }) => ({ env, store, main }))).toEqual([
    { env: "", store: "d1", main: "src/index.ts" },
    { env: "dynamodb", store: "dynamodb", main: "src/dynamodb.ts" },
    { env: "postgres", store: "postgres", main: "src/postgres.ts" },
  ]);
});

for (const deployment of templateDeployments()) {
  test(`${deployment.main} (${deployment.store}) bundles its store only, under the limit, at the size the docs state`, async () => {
    const bundle = await bundleWorkerTemplate(join(templateDir, deployment.main));
    const measured = { minified: bundle.bytes / 1024, gzipped: bundle.gzipBytes / 1024 };
    const figures = `measured ${measured.minified.toFixed(1)} KB, ${measured.gzipped.toFixed(1)} KB gzipped`;
    console.log(`${deployment.main}: ${figures}`);
    const groups = bundle.breakdown.map(([group]) => group);
    // Hono, valibot and the template's own code are in it: an empty bundle would pass a size check too.
    expect(groups).toEqual(expect.arrayContaining(["hono", "valibot", "worker-template"]));
    for (const [store, { className, group }] of Object.entries(STORES)) {
      const carried = store === deployment.store;
      expect(bundle.code.includes(`"${className}"`), `${deployment.main} and ${className}`).toBe(carried);
      expect(groups.includes(group), `${deployment.main} and ${group}`).toBe(carried);
    }
    expect(groups.includes("postgres"), `${deployment.main} and postgres.js`).toBe(deployment.store === "postgres");
    for (const page of pages) {
      const stated = statedSizes(page, deployment.main);
      expect(Math.abs(stated.minified - measured.minified), `${page}: ${figures}`).toBeLessThanOrEqual(
        DOCUMENTED_SIZE_TOLERANCE_KB.minified,
      );
      expect(Math.abs(stated.gzipped - measured.gzipped), `${page}: ${figures}`).toBeLessThanOrEqual(
        DOCUMENTED_SIZE_TOLERANCE_KB.gzipped,
      );
    }
    expect(bundle.gzipBytes).toBeLessThan(GZIP_LIMIT_BYTES);
  });
}

test("only the PostgreSQL entry needs nodejs_compat (postgres.js imports node:*); the others run without it", async () => {
  for (const deployment of templateDeployments()) {
    const bundle = await bundleWorkerTemplate(join(templateDir, deployment.main));
    const importsNode = /from\s*"node:/.test(bundle.code);
    expect(importsNode, deployment.main).toBe(deployment.store === "postgres");
    expect(deployment.compatibilityFlags.includes("nodejs_compat"), deployment.main).toBe(importsNode);
  }
});
