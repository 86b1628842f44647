import type { Issue } from "./errors.js";
import { ValidationError } from "./errors.js";
import { kindOf, unknownKeyIssues } from "./internal/validate.js";

/**
 * The one place EventFlows reads the process environment (on Node, Bun and Lambda). Workers have
 * none: there the bindings are passed in explicitly.
 */
export type EnvSource = Readonly<Record<string, string | undefined>>;

/**
 * The ambient environment, or an empty one where the runtime has none (Workers, browsers). A
 * variable the runtime refuses to let the program read (Deno without `--allow-env` for it throws
 * `NotCapable`) reads as unset, as in an environment without it: the library reads the environment
 * only for what it was not given, and a refusal must not escape as the runtime's own error.
 */
export function ambientEnv(): EnvSource {
  const proc = (globalThis as { process?: { env?: EnvSource } }).process;
  return proc?.env === undefined ? {} : readableView(proc.env);
}

/** A read-only view of `env` in which reading a refused variable (or listing refused names) finds nothing. */
function readableView(env: EnvSource): EnvSource {
  const read = (name: string | symbol): string | undefined => {
    if (typeof name !== "string") return undefined;
    try {
      return Object.hasOwn(env, name) ? env[name] : undefined;
    } catch {
      return undefined;
    }
  };
  // The target is an empty object, not `env`: the proxy's invariant checks would read `env` again.
  return new Proxy({} as EnvSource, {
    get: (_, name) => read(name),
    has: (_, name) => read(name) !== undefined,
    getOwnPropertyDescriptor: (_, name) => {
      const value = read(name);
      return value === undefined ? undefined : { value, writable: false, enumerable: true, configurable: true };
    },
    ownKeys: () => {
      try {
        return Object.keys(env).filter((name) => read(name) !== undefined);
      } catch {
        return [];
      }
    },
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false,
  });
}

/** How {@link readEnv} reads. */
export interface ReadEnvOptions {
  /**
   * Whether a variable the given env lacks is read from the ambient environment. Defaults to true; false for
   * code whose env is the whole environment (a command's, handed in), which must not mix in the process's.
   */
  readonly ambient?: boolean;
}

/**
 * Reads a variable: the given env object (Workers bindings) first, then the ambient environment
 * (unless `ambient: false`). Empty strings count as unset, and so do names an object only inherits
 * (`toString`, `constructor`, `__proto__`) and values that are not text (a binding object, a JSON
 * var): a variable is an own property holding a string.
 * @throws {ValidationError} a name that is not a non-empty string, an `env` that is not an object, or
 * options other than `{ ambient?: boolean }`.
 */
export function readEnv(name: string, env?: EnvSource, options?: ReadEnvOptions): string | undefined {
  // A name that is no string (an index, a symbol) read as unset: a caller's mistake taken for a missing variable.
  const issues = readEnvIssues(name, env, options);
  if (issues.length > 0) throw new ValidationError("Invalid readEnv arguments", issues);
  const fromGiven = own(env, name);
  if (fromGiven !== undefined && fromGiven !== "") return fromGiven;
  if (options?.ambient === false) return undefined;
  const fromAmbient = own(ambientEnv(), name);
  return fromAmbient === "" ? undefined : fromAmbient;
}

function readEnvIssues(name: unknown, env: unknown, options: unknown): Issue[] {
  const issues: Issue[] = [];
  if (typeof name !== "string" || name === "") {
    issues.push({ path: ["name"], message: `a variable name is a non-empty string, got ${kindOf(name)}` });
  }
  if (env != null && typeof env !== "object") {
    issues.push({ path: ["env"], message: `env is an object of variables (a Worker's env), got ${kindOf(env)}` });
  }
  if (options != null && typeof options !== "object") {
    issues.push({ path: ["options"], message: `options is an object, got ${kindOf(options)}` });
  } else if (options != null) {
    const { ambient } = options as ReadEnvOptions;
    if (ambient !== undefined && typeof ambient !== "boolean") {
      issues.push({ path: ["options", "ambient"], message: `ambient is a boolean, got ${kindOf(ambient)}` });
    }
    issues.push(...unknownKeyIssues(options, ["ambient"], ["options"]));
  }
  return issues;
}

// Text only: a Worker's JSON [vars] or a binding object (a D1 database, say) under the name is no
// variable's value, and a caller typed for text would misread it.
function own(source: EnvSource | undefined, name: string): string | undefined {
  if (typeof source !== "object" || source === null || !Object.hasOwn(source, name)) return undefined;
  const value: unknown = source[name];
  return typeof value === "string" ? value : undefined;
}

/**
 * A built-in module of the runtime, through `process.getBuiltinModule` (Node ≥ 20.16, Bun), or
 * `undefined` where there is none (Workers without it, browsers). No static import, so bundles for
 * Workers and browsers hold no Node built-in; callers must work without it.
 */
export function runtimeBuiltin<T>(name: string): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  try {
    return proc?.getBuiltinModule?.(name) as T | undefined;
  } catch {
    return undefined;
  }
}
