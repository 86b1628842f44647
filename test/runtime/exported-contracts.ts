/**
 * Every contract suite the package exports, from any entry point (not only /testing: a port's
 * contract may be re-exported by an adapter, or live there still). Read by the runners, which
 * run on Bun, from the sources each "exports" entry builds from.
 */
import { join } from "node:path";
import { packageEntries, repoRoot } from "../../scripts/lib/package-exports.ts";
import { isContractExport } from "./runtime-suite.ts";

export async function exportedContracts(): Promise<string[]> {
  const names = new Set<string>();
  for (const entry of packageEntries().filter((e) => e.sourceExists)) {
    const module = (await import(join(repoRoot, entry.source))) as Record<string, unknown>;
    for (const [name, value] of Object.entries(module)) if (isContractExport(name, value)) names.add(name);
  }
  return [...names].sort();
}
