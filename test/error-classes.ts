/** The error classes the package exports, for tests that hold every one of them to a rule. */
import { join } from "node:path";
import { packageEntries, repoRoot } from "../scripts/lib/package-exports.ts";
import { EventFlowsError } from "../src/index.js";

export type ErrorClass = new (...args: unknown[]) => EventFlowsError;

/** Every EventFlowsError subclass some public entry (package.json "exports") exports, by name. */
export async function exportedErrorClasses(): Promise<Map<string, ErrorClass>> {
  const classes = new Map<string, ErrorClass>();
  for (const entry of packageEntries().filter((e) => e.sourceExists)) {
    const module = (await import(join(repoRoot, entry.source))) as Record<string, unknown>;
    for (const [name, value] of Object.entries(module)) {
      if (typeof value === "function" && value.prototype instanceof EventFlowsError) {
        classes.set(name, value as ErrorClass);
      }
    }
  }
  return classes;
}
