/**
 * Query strings as query payloads. Every value in a URL is a string, so the schema guides
 * conversion: for an object schema, a property declared a number gets a numeric string as a number,
 * a boolean gets `true`/`false`, an array gets its repeated parameters as a list. Anything that does
 * not convert stays a string, for the schema to reject with a clear issue.
 */
import { type Issue, ValidationError } from "../../src/index.js";
import { isDecimalNumber } from "./text-scan.js";

type Node = { readonly type: string; readonly [field: string]: unknown };

type Coerce = (value: string | string[]) => unknown;

/**
 * A request URL's query, without its `?` (and without a fragment), read from the text: Bun hands a
 * request without a `Host` (HTTP/1.0), or with one no URL takes (`x:99999`), a `request.url` that
 * `new URL` refuses, and the live and admin routes answered such client errors with a 500.
 */
export function searchOf(url: string): string {
  const mark = url.indexOf("?");
  if (mark === -1) return "";
  const end = url.indexOf("#", mark);
  return url.slice(mark + 1, end === -1 ? undefined : end);
}

/** Builds, once per schema, the function that turns a query string into the payload to validate. */
export function queryReader(schema: object): (search: string) => Record<string, unknown> {
  const coercers = new Map<string, Coerce>();
  const root = unwrap(schema as unknown as Node);
  if (isObject(root)) {
    for (const [key, entry] of Object.entries(root.entries as Record<string, Node>)) {
      coercers.set(key, coercerFor(unwrap(entry)));
    }
  }
  // A plain object schema drops the parameters it does not name: only its own are read. Any other
  // takes (or refuses) every parameter.
  const reads = root.type === "object" ? (key: string) => coercers.has(key) : undefined;
  return (search) => {
    const payload = parseQuery(search, reads);
    for (const [key, coerce] of coercers) {
      const value = payload[key];
      if (value !== undefined) payload[key] = coerce(value as string | string[]);
    }
    return payload;
  };
}

/**
 * `application/x-www-form-urlencoded` parsing as URLSearchParams does it (`+` is a space, a `%` that
 * starts no escape stays as it is), into an object: one value as a string, repeated ones as a list.
 * Written out because URLSearchParams plus regrouping cost more than the rest of a query's routing.
 * Unlike URLSearchParams, escapes of bytes that are not UTF-8 (`%FF`, `%ED%A0%80`: an encoded lone
 * surrogate) are refused in the parameters `reads` takes (none given: every one), as invalid UTF-8 in
 * a body is: read as U+FFFD, they named another value. Elsewhere they become U+FFFD, as there.
 * @throws {ValidationError} naming each parameter read whose name or value holds such escapes.
 */
export function parseQuery(search: string, reads?: (key: string) => boolean): Record<string, unknown> {
  // A null-prototype object: `__proto__` or `constructor` in a URL stays a plain key.
  const payload: Record<string, unknown> = Object.create(null);
  if (search.length === 0) return payload;
  let issues: Issue[] | undefined;
  let start = 0;
  while (start <= search.length) {
    let end = search.indexOf("&", start);
    if (end === -1) end = search.length;
    if (end > start) {
      const eq = search.indexOf("=", start);
      const split = eq === -1 || eq > end ? end : eq;
      const rawKey = search.slice(start, split);
      const rawValue = split === end ? "" : search.slice(split + 1, end);
      let key = decode(rawKey);
      let value = decode(rawValue);
      if (key === undefined || value === undefined) {
        const name = key ?? replaced(rawKey);
        if (reads === undefined || reads(name)) {
          issues ??= [];
          issues.push({
            path: [name],
            message: `${key === undefined ? "the name" : "the value"} has percent-escapes of bytes that are not UTF-8`,
          });
        }
        key = name;
        value ??= replaced(rawValue);
      }
      const existing = payload[key];
      if (existing === undefined) payload[key] = value;
      else if (typeof existing === "string") payload[key] = [existing, value];
      else (existing as string[]).push(value);
    }
    start = end + 1;
  }
  if (issues !== undefined) throw new ValidationError("Invalid query string", issues);
  return payload;
}

/** A `%` that starts no escape (`%ZZ`, `100%`): text, as URLSearchParams keeps it. */
const NO_ESCAPE = /%(?![0-9A-Fa-f]{2})/g;

/** What URLSearchParams reads: escapes of bytes that are not UTF-8 as U+FFFD. */
function replaced(text: string): string {
  return new URLSearchParams(`x=${text}`).get("x") ?? text;
}

/** The text, or undefined when it holds escapes of bytes that are not UTF-8. */
function decode(text: string): string | undefined {
  if (!text.includes("+") && !text.includes("%")) return text;
  const spaced = text.replaceAll("+", " ");
  try {
    return decodeURIComponent(spaced);
  } catch {
    // Either a `%` that starts no escape, kept as text, or bytes that are not UTF-8.
    try {
      return decodeURIComponent(spaced.replace(NO_ESCAPE, "%25"));
    } catch {
      return undefined;
    }
  }
}

function coercerFor(node: Node): Coerce {
  switch (node.type) {
    case "array":
      return list(scalarFor(unwrap(node.item as Node)));
    case "tuple":
    case "loose_tuple":
    case "strict_tuple":
    case "tuple_with_rest": {
      // Each position converts as its item declares (`tuple([number(), string()])`), the rest as `rest`.
      const items = (node.items as Node[]).map((item) => scalarFor(unwrap(item)));
      const rest = node.rest === undefined ? identity : scalarFor(unwrap(node.rest as Node));
      return (value) =>
        typeof value === "string" ? [(items[0] ?? rest)(value)] : value.map((item, i) => (items[i] ?? rest)(item));
    }
    default: {
      const scalar = scalarFor(node);
      return (value) => (typeof value === "string" ? scalar(value) : value.map(scalar));
    }
  }
}

function scalarFor(node: Node): (value: string) => unknown {
  if (node.type === "union") return unionScalar((node.options as Node[]).map(unwrap));
  // A picklist or enum is a union of its options: picklist([1, "3"]) takes ?p=3 as the text "3".
  if (isOptionList(node) && hasNumberOption(node)) return unionScalar([node]);
  if (node.type === "number") return toNumber;
  if (node.type === "boolean") return toBoolean;
  if (node.type === "literal" && typeof node.literal === "number") return toNumber;
  if (node.type === "literal" && typeof node.literal === "boolean") return toBoolean;
  return identity;
}

/**
 * A union converts as its options allow: `union([literal(1), literal(2)])` gets `?n=1` as the number 1,
 * `union([boolean(), literal("x")])` gets `true` as a boolean. A value an option takes as text stays
 * text: `union([number(), string()])` gets `"5"`, `union([number(), literal("5")])` too.
 */
function unionScalar(options: readonly Node[]): (value: string) => unknown {
  const union: UnionKinds = { anyText: false, texts: new Set(), number: false, boolean: false };
  for (const option of options) collectKinds(option, union);
  if (union.anyText) return identity;
  return (value) => {
    if (union.texts.has(value)) return value;
    if (union.number && isDecimalNumber(value)) return Number(value);
    return union.boolean ? toBoolean(value) : value;
  };
}

interface UnionKinds {
  /** An option takes any text (`string`, `unknown`, `any`). */
  anyText: boolean;
  /** The texts options take exactly (string literals, picklist and enum options). */
  readonly texts: Set<string>;
  number: boolean;
  boolean: boolean;
}

function collectKinds(node: Node, kinds: UnionKinds): void {
  switch (node.type) {
    case "union":
      for (const option of node.options as Node[]) collectKinds(unwrap(option), kinds);
      return;
    case "string":
    case "unknown":
    case "any":
      kinds.anyText = true;
      return;
    case "picklist":
    case "enum":
      for (const option of Array.isArray(node.options) ? node.options : []) {
        if (typeof option === "string") kinds.texts.add(option);
        if (typeof option === "number") kinds.number = true;
      }
      return;
    case "literal":
      if (typeof node.literal === "string") kinds.texts.add(node.literal);
      break;
  }
  const scalar = scalarFor(node);
  if (scalar === toNumber) kinds.number = true;
  if (scalar === toBoolean) kinds.boolean = true;
}

// One pass, bounded length: a regular expression here took quadratic time on long digit runs.
function toNumber(value: string): unknown {
  return isDecimalNumber(value) ? Number(value) : value;
}

function toBoolean(value: string): unknown {
  return value === "true" ? true : value === "false" ? false : value;
}

function identity(value: string): unknown {
  return value;
}

function list(item: (value: string) => unknown): Coerce {
  return (value) => (typeof value === "string" ? [item(value)] : value.map(item));
}

function isOptionList(node: Node): boolean {
  return node.type === "picklist" || node.type === "enum";
}

function hasNumberOption(node: Node): boolean {
  return Array.isArray(node.options) && node.options.some((option) => typeof option === "number");
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
