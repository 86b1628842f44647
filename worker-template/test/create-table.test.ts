/**
 * scripts/create-table.mjs (`npm run create-table`), bundled as worker.int.test.ts runs it, without the
 * AWS settings it needs: it stops before any request, exits 1 and says once what is missing.
 * (worker.int.test.ts runs it against DynamoDB Local.)
 */

import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../../test/services/common.ts";
import { bundleTemplateScript, templateDir } from "./bundle.ts";

test("without AWS_REGION or credentials it exits 1 naming each missing setting once", async () => {
  const script = join(cacheDir, "worker-template", "create-table-unconfigured.mjs");
  mkdirSync(join(script, ".."), { recursive: true });
  writeFileSync(script, await bundleTemplateScript(join(templateDir, "scripts", "create-table.mjs")));
  const run = spawnSync("node", [script, "orders_events"], { encoding: "utf8", env: { PATH: process.env.PATH } });
  expect(run.status).toBe(1);
  expect(run.stdout).toBe("");
  expect(run.stderr).toStartWith("orders_events: ");
  for (const missing of ["no region", "accessKeyId is missing", "secretAccessKey is missing"]) {
    expect({ missing, times: run.stderr.split(missing).length - 1 }).toEqual({ missing, times: 1 });
  }
});
