import type { Issue } from "../errors.js";

/** A value that survives `JSON.stringify` / `JSON.parse` unchanged. Stores keep event data as this. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue | undefined };

/**
 * Finds what in a value would not survive a JSON round trip: BigInt, functions, symbols, cycles,
 * non-finite numbers, and objects that are not plain (Date, Map, Set, class instances), which JSON
 * would silently turn into something else. Returns the issues; an empty list means the value is JSON.
 */
export function jsonIssues(value: unknown, basePath: readonly (string | number)[] = []): Issue[] {
  const issues: Issue[] = [];
  const seen = new Set<object>();
  const visit = (current: unknown, path: (string | number)[]): void => {
    if (issues.length >= 10) return;
    switch (typeof current) {
      case "string":
      case "boolean":
        return;
      case "number":
        if (!Number.isFinite(current)) issues.push({ path, message: `${current} is not a JSON number` });
        return;
      case "bigint":
        issues.push({ path, message: "BigInt is not JSON; encode it as a string" });
        return;
      case "function":
      case "symbol":
        issues.push({ path, message: `a ${typeof current} is not JSON data` });
        return;
      case "undefined":
        if (path.length === basePath.length || typeof path[path.length - 1] === "number") {
          issues.push({ path, message: "undefined is not JSON data" });
        }
        return;
    }
    if (current === null) return;
    const obj = current as object;
    if (seen.has(obj)) {
      issues.push({ path, message: "circular reference" });
      return;
    }
    if (Array.isArray(obj)) {
      seen.add(obj);
      for (let i = 0; i < obj.length; i++) visit(obj[i], [...path, i]);
      seen.delete(obj);
      return;
    }
    const proto = Object.getPrototypeOf(obj);
    if (proto !== Object.prototype && proto !== null) {
      const kind =
        obj instanceof Date ? "a Date (use toISOString())" : `an instance of ${proto?.constructor?.name ?? "a class"}`;
      issues.push({ path, message: `${kind} is not plain JSON data` });
      return;
    }
    seen.add(obj);
    for (const key of Object.keys(obj)) visit((obj as Record<string, unknown>)[key], [...path, key]);
    seen.delete(obj);
  };
  visit(value, [...basePath]);
  return issues;
}

/** UTF-8 length of a string without allocating the encoded bytes. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
