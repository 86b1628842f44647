/**
 * wrangler.toml defines environments besides the top level, so wrangler warns on every `deploy` and
 * `secret` command that names no target. The template's scripts and the README's commands name one.
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
