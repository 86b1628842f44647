/**
 * The one place EventFlows reads the process environment (on Node, Bun and Lambda). Workers have
 * none: there the bindings are passed in explicitly.
 */
export type EnvSource = Readonly<Record<string, string | undefined>>;

/** The ambient environment, or an empty one where the runtime has none (Workers, browsers). */
export function ambientEnv(): EnvSource {
  const proc = (globalThis as { process?: { env?: EnvSource } }).process;
  return proc?.env ?? {};
}

/**
 * Reads a variable: explicit value first, then the given env object (Workers bindings), then the
 * ambient environment. Empty strings count as unset.
 */
export function readEnv(name: string, env?: EnvSource): string | undefined {
  const fromGiven = env?.[name];
  if (fromGiven !== undefined && fromGiven !== "") return fromGiven;
  const fromAmbient = ambientEnv()[name];
  return fromAmbient === "" ? undefined : fromAmbient;
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
