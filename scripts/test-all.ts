/**
 * The test command (`npm test` / `bun run test`): every check CI runs, in order, stopping at the
 * first failure. It starts the services integration tests need and stops them at the end.
 *   bun scripts/test-all.ts            all steps
 *   bun scripts/test-all.ts unit lint  only the named steps
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { startServices, stopServices } from "../test/services/index.ts";

const root = join(import.meta.dirname, "..");
const bun = process.execPath;
const bin = (name: string) => join(root, "node_modules", ".bin", name);

interface Step {
  readonly name: string;
  readonly command: readonly string[];
  readonly services?: boolean;
}

const steps: readonly Step[] = [
  { name: "typecheck", command: [bin("tsc"), "--noEmit", "-p", "tsconfig.json"] },
  { name: "typecheck-tests", command: [bin("tsc"), "--noEmit", "-p", "tsconfig.test.json"] },
  { name: "lint", command: [bin("biome"), "check", "."] },
  { name: "imports", command: [bun, "scripts/check-imports.ts"] },
  // Two `bun test` processes at once: the files that use PostgreSQL, and the others (see test-unit.ts).
  { name: "unit", command: [bun, "scripts/test-unit.ts"], services: true },
  // The PostgreSQL adapter's tests again on postgres.js 4 (what `npm install postgres` installs).
  { name: "postgres-js-4", command: [bun, "scripts/test-postgres-js-4.ts"], services: true },
  { name: "build", command: [bun, "scripts/build.ts"] },
  { name: "portability", command: [bun, "scripts/check-portability.ts"] },
  { name: "node-runtime", command: [bun, "test/runtime/node/run.ts"] },
  { name: "deno-runtime", command: [bun, "test/runtime/deno/run.ts"] },
  { name: "workerd-runtime", command: [bun, "test/runtime/workerd/run.ts"] },
  { name: "lambda-runtime", command: [bun, "test/lambda/run.ts"], services: true },
  { name: "package", command: [bun, "scripts/check-package.ts"] },
  { name: "docs", command: [bun, "scripts/check-docs.ts", "--build"] },
  { name: "examples", command: [bun, "scripts/check-examples.ts"] },
  // Same step name: `test-all.ts examples` runs both.
  { name: "examples", command: [bun, "run", "demo:saga"] },
  // schemathesis against the example servers' and the worker template's OpenAPI documents, as outside testers run it.
  { name: "openapi-contract", command: [bun, "scripts/check-openapi-contract.ts"] },
];

const only = process.argv.slice(2);
const selected = only.length === 0 ? steps : steps.filter((step) => only.includes(step.name));
if (selected.length === 0) {
  console.error(`unknown step(s) ${only.join(", ")}; steps: ${steps.map((s) => s.name).join(", ")}`);
  process.exit(2);
}

const handles = selected.some((step) => step.services) ? await startServices() : [];
let failed: string | undefined;
let passed = 0;
try {
  for (const step of selected) {
    console.log(`\n▶ ${step.name}: ${step.command.map((part) => part.replace(root, ".")).join(" ")}`);
    const started = Date.now();
    const [command, ...args] = step.command;
    const result = spawnSync(command as string, args, { cwd: root, stdio: "inherit", env: process.env });
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    if (result.status !== 0) {
      failed = step.name;
      console.error(`✗ ${step.name} failed (exit ${result.status ?? result.signal}) after ${seconds}s`);
      break;
    }
    console.log(`✓ ${step.name} (${seconds}s)`);
    passed += 1;
  }
} finally {
  await stopServices(handles);
}
// CI reads the last line: a plain "N passed, N failed" count of steps.
const notRun = selected.length - passed - (failed === undefined ? 0 : 1);
if (notRun > 0) console.log(`\n${notRun} step(s) not run after ${failed} failed`);
console.log(`\nsteps: ${passed} passed, ${failed === undefined ? 0 : 1} failed`);
if (failed !== undefined) process.exit(1);
