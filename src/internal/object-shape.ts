/**
 * Arrays where a schema wants an object. valibot's `object`, `looseObject`, `objectWithRest` and
 * `record` accept an array (it is an object to `typeof`) and hand back an object built from it, while
 * JSON Schema (and the OpenAPI document of a route) says `"type": "object"`, which no array matches.
 * So a payload the schema's own document rejects was accepted (`[null, null]` for a query without
 * fields). This walk runs before valibot, along the schema, and names each array found at an
 * object's place: the HTTP routes, `validation()` and the event registry refuse it with these issues.
 * Other mismatches are valibot's to report.
 */
import { safeParse } from "valibot";
import type { Issue } from "../errors.js";

type Path = (string | number)[];

/** The schema's structure as valibot builds it: each kind keeps its parts under these names. */
interface Node {
  readonly type: string;
  readonly async?: boolean;
  readonly entries?: Readonly<Record<string, Node>>;
  readonly rest?: Node;
  readonly value?: Node;
  readonly item?: Node;
  readonly items?: readonly Node[];
  readonly wrapped?: Node;
  readonly options?: readonly Node[];
  readonly getter?: (input: unknown) => Node;
}

const OBJECTS = new Set(["object", "loose_object", "strict_object", "object_with_rest"]);
const WRAPPERS = new Set([
  "optional",
  "exact_optional",
  "undefinedable",
  "nullable",
  "nullish",
  "non_optional",
  "non_nullable",
  "non_nullish",
]);
const TUPLES = new Set(["tuple", "loose_tuple", "strict_tuple", "tuple_with_rest"]);

const NO_ISSUES: readonly Issue[] = Object.freeze([]);

/**
 * @internal {@link arraysAtObjects} for one valibot schema, decided once when the schema is registered
 * (a route built, `validation()` called, a schema given to the event registry): most schemas are one
 * object of scalars, for which only the value itself can be an array in the wrong place (a walk per
 * call would cost a route's fixed cost a tenth again). Undefined when the schema holds no object,
 * so that its callers skip the check altogether.
 */
export function objectShapeCheck(schema: unknown): ((value: unknown) => readonly Issue[]) | undefined {
  const root = schema as Node;
  if (typeof root?.type !== "string" || !containsObject(root, false)) return undefined;
  if ((OBJECTS.has(root.type) || root.type === "record") && !containsObject(root, true)) {
    return (value) => (Array.isArray(value) ? [{ path: [], message: "must be an object, got an array" }] : NO_ISSUES);
  }
  return (value) => arraysAtObjects(schema, value);
}

/** Whether an object or record schema is in `node` (below it only, with `below`); a lazy one may hold any. */
function containsObject(node: Node, below: boolean): boolean {
  if (node.type === "lazy") return true;
  if (!below && (OBJECTS.has(node.type) || node.type === "record")) return true;
  const parts: Node[] = [];
  if (node.entries !== undefined) parts.push(...Object.values(node.entries));
  for (const part of [node.rest, node.value, node.item, node.wrapped]) if (part !== undefined) parts.push(part);
  if (node.items !== undefined) parts.push(...node.items);
  if ((node.type === "union" || node.type === "variant" || node.type === "intersect") && node.options !== undefined) {
    parts.push(...node.options);
  }
  return parts.some((part) => typeof part === "object" && part !== null && containsObject(part, false));
}

/** Each place of `value` that holds an array where `schema` wants an object. */
export function arraysAtObjects(schema: unknown, value: unknown): Issue[] {
  const issues: Issue[] = [];
  walk(schema as unknown as Node, value, [], issues);
  if (issues.length < 2) return issues;
  // An intersection's options may each name the same place.
  const seen = new Set<string>();
  return issues.filter((issue) => {
    const key = JSON.stringify(issue.path);
    return !seen.has(key) && seen.add(key) !== undefined;
  });
}

function walk(node: Node, value: unknown, path: Path, issues: Issue[]): void {
  if (typeof value !== "object" || value === null) return;
  const type = node.type;
  if (OBJECTS.has(type) || type === "record") {
    if (Array.isArray(value)) {
      issues.push({ path, message: "must be an object, got an array" });
      return;
    }
    walkProperties(node, value as Record<string, unknown>, path, issues);
  } else if (type === "array") {
    if (Array.isArray(value) && node.item !== undefined) {
      for (let i = 0; i < value.length; i++) walk(node.item, value[i], [...path, i], issues);
    }
  } else if (TUPLES.has(type)) {
    if (!Array.isArray(value)) return;
    const items = node.items ?? [];
    for (let i = 0; i < value.length; i++) {
      const item = i < items.length ? items[i] : type === "tuple_with_rest" ? node.rest : undefined;
      if (item !== undefined) walk(item, value[i], [...path, i], issues);
    }
  } else if (WRAPPERS.has(type)) {
    if (node.wrapped !== undefined) walk(node.wrapped, value, path, issues);
  } else if (type === "intersect") {
    for (const option of node.options ?? []) walk(option, value, path, issues);
  } else if (type === "union" || type === "variant") {
    walkUnion(node, value, path, issues);
  } else if (type === "lazy" && node.async !== true && node.getter !== undefined) {
    walk(node.getter(value), value, path, issues);
  }
}

function walkProperties(node: Node, value: Record<string, unknown>, path: Path, issues: Issue[]): void {
  const entries = node.entries;
  for (const key of Object.keys(value)) {
    const entry = entries !== undefined && Object.hasOwn(entries, key) ? entries[key] : extraSchema(node);
    if (entry !== undefined) walk(entry, value[key], [...path, key], issues);
  }
}

/** The schema a key without an entry of its own is checked with, if any. */
function extraSchema(node: Node): Node | undefined {
  if (node.type === "object_with_rest") return node.rest;
  if (node.type === "record") return node.value;
  return undefined;
}

/**
 * A union holds when one of its options accepts the value with no array at an object's place (the
 * document's `anyOf`); otherwise the first option valibot accepts names the places. An async option
 * cannot be asked synchronously: it is taken as accepting, as valibot did.
 */
function walkUnion(node: Node, value: unknown, path: Path, issues: Issue[]): void {
  let first: Issue[] | undefined;
  for (const option of node.options ?? []) {
    if (option.async === true) return;
    if (!safeParse(option as never, value).success) continue;
    const found: Issue[] = [];
    walk(option, value, path, found);
    if (found.length === 0) return;
    first ??= found;
  }
  if (first !== undefined) issues.push(...first);
}
