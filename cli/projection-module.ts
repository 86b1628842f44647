import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { EventFlowsError, isEventFlowsError, type Projection } from "../src/index.js";
import { CliErrorCode, CliUsageError } from "./errors.js";

/** A projection and the read-model collections it writes, as `rebuild` and `replay` take them. */
export interface LoadedProjection {
  readonly projection: Projection;
  readonly collections: readonly string[];
}

/**
 * Imports the user's module (a built `.js` on Node; `.ts` works under Bun) and takes the export named
 * `exportName`. It is either an object `{ projection, collections }` (what a rebuild needs: the
 * collections the projection writes are swapped whole), or a bare `projection(...)`, whose
 * collections then come from `--collections`.
 */
export async function loadProjection(
  command: string,
  cwd: string,
  path: string,
  exportName: string,
  collectionsFlag: string | undefined,
  /** Whether the collections must be known (a rebuild swaps them; a replay does not need them). */
  needCollections: boolean,
): Promise<LoadedProjection> {
  const file = resolve(cwd, path);
  if (!existsSync(file)) throw new CliUsageError(`No module at ${path}`, command);
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (error) {
    throw new EventFlowsError(CliErrorCode.ModuleFailed, `Could not import ${path}: ${firstLine(error)}`, {
      cause: error,
    });
  }
  if (!(exportName in module)) {
    const names = Object.keys(module).join(", ") || "none";
    throw new CliUsageError(`${path} has no export "${exportName}" (its exports: ${names})`, command);
  }
  try {
    return fromExport(command, path, exportName, module[exportName], collectionsFlag, needCollections);
  } catch (error) {
    if (isEventFlowsError(error)) throw error;
    // A getter that throws, an export read before it is initialised (a cycle between modules).
    throw new EventFlowsError(
      CliErrorCode.ModuleFailed,
      `Could not read the export "${exportName}" of ${path}: ${firstLine(error)}`,
      { cause: error },
    );
  }
}

/** What the export is: a bare projection, or `{ projection, collections }`; a usage error otherwise. */
function fromExport(
  command: string,
  path: string,
  exportName: string,
  value: unknown,
  collectionsFlag: string | undefined,
  needCollections: boolean,
): LoadedProjection {
  const flagged = collectionsFlag
    ?.split(",")
    .map((c) => c.trim())
    .filter((c) => c !== "");
  if (isProjection(value)) {
    if (needCollections && (flagged === undefined || flagged.length === 0)) {
      throw new CliUsageError(
        `"${exportName}" is a bare projection: name the collections it writes with --collections a,b, or export { projection, collections }`,
        command,
      );
    }
    return { projection: value, collections: flagged ?? [] };
  }
  const declared = value as { projection?: unknown; collections?: unknown } | null;
  if (typeof declared === "object" && declared !== null && isProjection(declared.projection)) {
    const collections = flagged ?? declared.collections ?? [];
    const named = Array.isArray(collections) && collections.every((c) => typeof c === "string");
    if (!named || (needCollections && collections.length === 0)) {
      throw new CliUsageError(
        `"${exportName}".collections must name the collections the projection writes (or give --collections a,b)`,
        command,
      );
    }
    return { projection: declared.projection, collections };
  }
  throw new CliUsageError(
    `"${exportName}" of ${path} is neither a projection(...) nor { projection, collections }`,
    command,
  );
}

function isProjection(value: unknown): value is Projection {
  const p = value as Partial<Projection> | null | undefined;
  return typeof p?.name === "string" && typeof p.handle === "function" && typeof p.matches === "function";
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0] ?? "";
}
