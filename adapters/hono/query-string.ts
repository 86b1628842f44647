/**
 * Query strings as query payloads. Every value in a URL is a string, so the schema guides
 * conversion: for an object schema, a property declared a number gets a numeric string as a number,
 * a boolean gets `true`/`false`, an array gets its repeated parameters as a list. Anything that does
 * not convert stays a string, for the schema to reject with a clear issue.
 */
import type { ValibotSchema } from "./json-schema.js";

type Node = { readonly type: string; readonly [field: string]: unknown };

type Coerce = (values: readonly string[]) => unknown;

/** Builds, once per schema, the function that turns a query string into the payload to validate. */
export function queryReader(schema: ValibotSchema): (search: string) => Record<string, unknown> {
  const coercers = new Map<string, Coerce>();
  const root = unwrap(schema as unknown as Node);
  if (isObject(root)) {
    for (const [key, entry] of Object.entries(root.entries as Record<string, Node>)) {
      coercers.set(key, coercerFor(unwrap(entry)));
    }
  }
  return (search) => {
    const grouped = new Map<string, string[]>();
    for (const [key, value] of new URLSearchParams(search)) {
      const values = grouped.get(key);
      if (values === undefined) grouped.set(key, [value]);
      else values.push(value);
    }
    // A null-prototype object: `__proto__` or `constructor` in a URL stays a plain key.
    const payload: Record<string, unknown> = Object.create(null);
    for (const [key, values] of grouped) payload[key] = (coercers.get(key) ?? single)(values);
    return payload;
  };
}

function coercerFor(node: Node): Coerce {
  switch (node.type) {
    case "array":
      return list(scalarFor(unwrap(node.item as Node)));
    case "tuple":
    case "loose_tuple":
    case "strict_tuple":
      return list(identity);
    default: {
      const scalar = scalarFor(node);
      return (values) => (values.length === 1 ? scalar(values[0] as string) : values.map(scalar));
    }
  }
}

function scalarFor(node: Node): (value: string) => unknown {
  if (node.type === "number") return toNumber;
  if (node.type === "boolean") return toBoolean;
  if ((node.type === "literal" && typeof node.literal === "number") || hasNumberOption(node)) return toNumber;
  if (node.type === "literal" && typeof node.literal === "boolean") return toBoolean;
  return identity;
}

const NUMERIC = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function toNumber(value: string): unknown {
  return NUMERIC.test(value) ? Number(value) : value;
}

function toBoolean(value: string): unknown {
  return value === "true" ? true : value === "false" ? false : value;
}

function identity(value: string): unknown {
  return value;
}

const single: Coerce = (values) => (values.length === 1 ? values[0] : [...values]);

function list(item: (value: string) => unknown): Coerce {
  return (values) => values.map(item);
}

function hasNumberOption(node: Node): boolean {
  return (
    (node.type === "picklist" || node.type === "enum") &&
    Array.isArray(node.options) &&
    node.options.some((option) => typeof option === "number")
  );
}

function unwrap(node: Node): Node {
  let current = node;
  while (current.wrapped !== undefined && typeof current.wrapped === "object") current = current.wrapped as Node;
  return current;
}

function isObject(node: Node): boolean {
  return (
    node.type === "object" ||
    node.type === "loose_object" ||
    node.type === "strict_object" ||
    node.type === "object_with_rest"
  );
}
