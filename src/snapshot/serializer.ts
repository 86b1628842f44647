import { type Issue, ValidationError } from "../errors.js";

/**
 * Turns aggregate state into bytes and back. `name` is stored with every snapshot, so a store can
 * tell which serializer wrote it; it must not contain `+` (the store appends `+gzip` and the like).
 * `serialize` throws a {@link ValidationError} for values it cannot carry faithfully.
 */
export interface SnapshotSerializer {
  readonly name: string;
  serialize(value: unknown): Uint8Array;
  deserialize(bytes: Uint8Array): unknown;
}

/**
 * Finds what no snapshot serializer carries faithfully, with paths: functions, symbols, class
 * instances (their prototype would be lost), typed arrays other than Uint8Array, cycles, and
 * `__proto__` keys. Dates, Maps, Sets, BigInts, Uint8Arrays, arrays and plain objects are fine.
 */
export function snapshotIssues(value: unknown): Issue[] {
  const issues: Issue[] = [];
  const ancestors = new Set<object>();
  const visit = (current: unknown, path: (string | number)[]): void => {
    if (issues.length >= 10) return;
    const problem = unsupported(current);
    if (problem !== undefined) {
      issues.push({ path, message: problem });
      return;
    }
    if (typeof current !== "object" || current === null || current instanceof Date || current instanceof Uint8Array) {
      return;
    }
    if (ancestors.has(current)) {
      issues.push({ path, message: "circular reference" });
      return;
    }
    ancestors.add(current);
    if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i++) visit(current[i], [...path, i]);
    } else if (current instanceof Map) {
      let i = 0;
      for (const [key, item] of current) {
        visit(key, [...path, `<key ${i}>`]);
        visit(item, [...path, typeof key === "string" || typeof key === "number" ? key : `<value ${i}>`]);
        i++;
      }
    } else if (current instanceof Set) {
      let i = 0;
      for (const item of current) visit(item, [...path, `<item ${i++}>`]);
    } else {
      for (const key of Object.keys(current)) visit((current as Record<string, unknown>)[key], [...path, key]);
    }
    ancestors.delete(current);
  };
  visit(value, []);
  return issues;
}

/** Why a single value (not its children) cannot be serialized, or undefined when it can. */
export function unsupported(value: unknown): string | undefined {
  switch (typeof value) {
    case "function":
      return "a function is not state; snapshots carry data only";
    case "symbol":
      return "a symbol cannot be serialized";
    case "object": {
      if (value === null || Array.isArray(value)) return undefined;
      const proto = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) {
        return Object.hasOwn(value, "__proto__") ? "a key named __proto__ is not supported" : undefined;
      }
      if (value instanceof Date || value instanceof Map || value instanceof Set || value instanceof Uint8Array) {
        return undefined;
      }
      const name = (proto as { constructor?: { name?: string } }).constructor?.name ?? "a class";
      return `an instance of ${name} would lose its class; override toSnapshot() to return plain data`;
    }
    default:
      return undefined;
  }
}

/** The error serializers throw: every issue found, with its path. */
export function notSerializable(serializer: string, value: unknown, cause?: unknown): ValidationError {
  const issues = snapshotIssues(value);
  if (issues.length === 0 && cause !== undefined) {
    issues.push({ path: [], message: cause instanceof Error ? cause.message : String(cause) });
  }
  return new ValidationError(
    `Snapshot state cannot be serialized as ${serializer}`,
    issues,
    cause === undefined ? undefined : { cause },
  );
}
