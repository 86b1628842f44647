/**
 * wrangler.toml defines environments besides the top level, so wrangler warns on every `deploy` and
 * `secret` command that names no target. The template's scripts and the README's commands name one.
 * The template's package.json says which Node its pinned wrangler needs.
 */

import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { templateDir } from "./bundle.ts";

const TARGETED = /wrangler (deploy|secret (put|delete|bulk))\b/;

test("every wrangler deploy and secret command names its environment", () => {
  const toml = readFileSync(join(templateDir, "wrangler.toml"), "utf8");
  expect(toml).toMatch(/^\[env\.postgres\]$/m);
  expect(toml).toMatch(/^\[env\.dynamodb\]$/m);
  const scripts = Object.values(
    (JSON.parse(readFileSync(join(templateDir, "package.json"), "utf8")) as { scripts: Record<string, string> })
      .scripts,
  );
  const readme = readFileSync(join(templateDir, "README.md"), "utf8")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.startsWith("npx wrangler") || line.startsWith("npm run deploy"));
  const commands = [...scripts.filter((script) => TARGETED.test(script)), ...readme.filter((l) => TARGETED.test(l))];
  expect(commands.length).toBeGreaterThanOrEqual(5);
  for (const command of commands) expect(command).toMatch(/--env(=""| postgres| dynamodb)/);
});

/** The Node the pinned wrangler asks for in its own package.json (`engines.node` of wrangler 4.164.0: >=22.12.0). */
const WRANGLER_NEEDS = { wrangler: "4.164.0", node: "22.12" };

test("package.json's engines ask for the Node its pinned wrangler needs, as the README and the docs say", () => {
  const pkg = JSON.parse(readFileSync(join(templateDir, "package.json"), "utf8")) as {
    engines?: { node?: string };
    devDependencies: Record<string, string>;
  };
  // A wrangler update must recheck what Node it needs (`npm view wrangler@<version> engines`).
  expect(pkg.devDependencies.wrangler).toBe(WRANGLER_NEEDS.wrangler);
  expect(pkg.engines?.node).toBe(`>=${WRANGLER_NEEDS.node}`);
  for (const page of [join(templateDir, "README.md"), join(templateDir, "..", "docs", "worker-template.md")]) {
    const text = readFileSync(page, "utf8").replace(/\s+/g, " ");
    expect({ page, says: text.includes(`Node ${WRANGLER_NEEDS.node} or later`) }).toEqual({ page, says: true });
    expect({ page, engines: text.includes('"engines"') }).toEqual({ page, engines: true });
  }
});
