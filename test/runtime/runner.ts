/**
 * What the runtime runners that drive another runtime's test runner share (test/runtime/node/run.ts,
 * test/runtime/deno/run.ts): a fresh output folder beside the runner, and one verdict on a pass.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";

/**
 * `<runnerDir>/.out`, emptied. Inside the package folder, so the runtime resolves `@eventflows/core`
 * to this package; not under .cache/, which may be a link to another checkout's.
 */
export function freshOutDir(runnerDir: string): string {
  const outDir = join(runnerDir, ".out");
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  return outDir;
}

/** 0 when the run exited 0, no case failed and at least one passed; otherwise prints why and gives 1. */
export function verdict(
  label: string,
  status: number | null,
  signal: string | null,
  counts: { readonly passed: number; readonly failed: number },
  report: string,
): number {
  const { passed, failed } = counts;
  console.log(`${label}: ${passed} passed, ${failed} failed`);
  if (status === 0 && failed === 0 && passed > 0) return 0;
  console.error(`${label}: failed (exit ${status ?? signal}${passed > 0 ? "" : ", no case ran"}); report in ${report}`);
  return 1;
}
