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
 * How deeply a snapshot's state may nest (arrays, objects, Maps, Sets): both serializers refuse
 * deeper state, so that a state either both take or both refuse, and no encoder recurses further.
 */
export const MAX_SNAPSHOT_DEPTH = 1000;

// One value waiting to be checked; its path is kept as parent links and spelled out only for an issue.
interface Frame {
  readonly value: unknown;
  readonly key: string | number | undefined;
  readonly parent: Frame | undefined;
  readonly depth: number;
}

/**
 * Finds what no snapshot serializer carries faithfully, with paths: functions, symbols, class
 * instances (their prototype would be lost), typed arrays other than Uint8Array, cycles, `__proto__`
 * keys, and nesting deeper than {@link MAX_SNAPSHOT_DEPTH}. Dates, Maps, Sets, BigInts, Uint8Arrays,
 * arrays and plain objects are fine. Iterative and linear, so any depth is reported, never a stack overflow.
 */
export function snapshotIssues(value: unknown): Issue[] {
  try {
    return walkSnapshot(value);
  } catch {
    // A getter or Proxy trap of the caller's threw (a revoked Proxy does on any read): the state can be
    // neither checked nor stored, so that is its issue, not the caller's own error and its text.
    return [{ path: [], message: "could not be read as snapshot state: reading it threw" }];
  }
}

function walkSnapshot(value: unknown): Issue[] {
  const issues: Issue[] = [];
  const ancestors = new Set<object>();
  const report = (frame: Frame, message: string): void => {
    const path: (string | number)[] = [];
    for (let at: Frame | undefined = frame; at?.key !== undefined; at = at.parent) path.push(at.key);
    issues.push({ path: path.reverse(), message });
  };
  const stack: (Frame | { readonly leave: object })[] = [{ value, key: undefined, parent: undefined, depth: 0 }];
  while (stack.length > 0 && issues.length < 10) {
    const frame = stack.pop() as Frame | { readonly leave: object };
    if ("leave" in frame) {
      ancestors.delete(frame.leave);
      continue;
    }
    const current = frame.value;
    const problem = unsupported(current);
    if (problem !== undefined) {
      report(frame, problem);
      continue;
    }
    if (typeof current !== "object" || current === null || current instanceof Date || current instanceof Uint8Array) {
      continue;
    }
    if (ancestors.has(current)) {
      report(frame, "circular reference");
      continue;
    }
    const depth = frame.depth + 1;
    if (depth > MAX_SNAPSHOT_DEPTH) {
      report(frame, `nested deeper than the limit of ${MAX_SNAPSHOT_DEPTH} levels`);
      continue;
    }
    ancestors.add(current);
    stack.push({ leave: current });
    const children: [string | number, unknown][] = [];
    if (Array.isArray(current)) {
      for (let i = 0; i < current.length; i++) children.push([i, current[i]]);
    } else if (current instanceof Map) {
      let i = 0;
      for (const [key, item] of current) {
        children.push([`<key ${i}>`, key]);
        children.push([typeof key === "string" || typeof key === "number" ? key : `<value ${i}>`, item]);
        i++;
      }
    } else if (current instanceof Set) {
      let i = 0;
      for (const item of current) children.push([`<item ${i++}>`, item]);
    } else {
      for (const key of Object.keys(current)) children.push([key, (current as Record<string, unknown>)[key]]);
    }
    // Last first, so issues come out in document order.
    for (let i = children.length - 1; i >= 0; i--) {
      const [key, child] = children[i] as [string | number, unknown];
      stack.push({ value: child, key, parent: frame, depth });
    }
  }
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
