/**
 * The sizes the template's docs state are the sizes measured: the bundle made as wrangler makes it
 * (bundle.ts), against the "**N KB, M KB gzipped**" of worker-template/README.md and
 * docs/worker-template.md.
 */

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { bundleWorkerTemplate, DOCUMENTED_SIZE_TOLERANCE_KB, GZIP_LIMIT_BYTES, templateDir } from "./bundle.ts";

const pages = [join(templateDir, "README.md"), join(templateDir, "..", "docs", "worker-template.md")];

function statedSizes(page: string): { minified: number; gzipped: number } {
  const text = readFileSync(page, "utf8").replace(/\s+/g, " ");
  const match = /\*\*(\d+(?:\.\d+)?) KB, (\d+(?:\.\d+)?) KB gzipped\*\*/.exec(text);
  if (match === null) throw new Error(`${page} states no "**N KB, M KB gzipped**" size`);
  return { minified: Number(match[1]), gzipped: Number(match[2]) };
}

test("the docs state the bundle's size as measured, and it stays under the limit", async () => {
  const bundle = await bundleWorkerTemplate();
  const measured = { minified: bundle.bytes / 1024, gzipped: bundle.gzipBytes / 1024 };
  const figures = `measured ${measured.minified.toFixed(1)} KB, ${measured.gzipped.toFixed(1)} KB gzipped`;
  for (const page of pages) {
    const stated = statedSizes(page);
    expect(Math.abs(stated.minified - measured.minified), `${page}: ${figures}`).toBeLessThanOrEqual(
      DOCUMENTED_SIZE_TOLERANCE_KB.minified,
    );
    expect(Math.abs(stated.gzipped - measured.gzipped), `${page}: ${figures}`).toBeLessThanOrEqual(
      DOCUMENTED_SIZE_TOLERANCE_KB.gzipped,
    );
  }
  expect(bundle.gzipBytes).toBeLessThan(GZIP_LIMIT_BYTES);
  // wrangler's keepNames is on: names survive minification (an esbuild-default bundle would not keep them).
  expect(bundle.code).toContain('"PostgresEventStore"');
});
