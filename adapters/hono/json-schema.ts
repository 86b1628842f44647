/**
 * valibot schemas as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1), for the OpenAPI
 * document. It describes what a request may send, and never more than the server accepts:
 * - lengths of text count UTF-16 units in valibot and code points in JSON Schema: see
 *   json-schema-text.ts for the form that holds under both;
 * - `trim`, `trimStart` and `trimEnd` become a pattern asking for text they leave as it is, so the
 *   checks after them still apply to what is sent; `brand`, `readonly` and `flavor` change nothing;
 * - a check the document cannot express (`check`, `maxBytes`, …, or anything after another
 *   `transform`) is named in `x-eventflows-unchecked`, so it never vanishes silently.
 * Kinds JSON cannot carry (Date, bigint, Map, functions, …), and `lazy` schemas (which may recurse),
 * become `{}`: documented as "anything", still validated.
 */
import { acceptsBmpOnly, escapePattern, type JsonSchema, maxUnits, untrimmedPattern } from "./json-schema-text.js";

export type { JsonSchema };

/** Any valibot schema, sync or async: what the converter reads is its structure. */
export interface ValibotSchema {
  readonly kind: "schema";
  readonly type: string;
  readonly async: boolean;
}

type Node = { readonly type: string; readonly kind: string; readonly [field: string]: unknown };

/** The JSON Schema for a valibot schema (sync or async). */
export function toJsonSchema(schema: ValibotSchema): JsonSchema {
  return convert(schema as unknown as Node);
}

/**
 * Whether an object takes this property missing: such properties are not `required`. valibot's objects let a key
 * be missing only when its schema is `optional`, `exactOptional` or `nullish`, or has a fallback; an
 * `undefinedable` one takes the value `undefined`, which JSON cannot send, but not a missing key.
 */
export function acceptsUndefined(schema: { readonly type: string }): boolean {
  const type = schema.type;
  return type === "optional" || type === "exact_optional" || type === "nullish" || hasFallback(schema);
}

/** Schemas that take `undefined` itself, what the routes validate for a request without a body. */
const UNDEFINED_TAKEN = new Set(["optional", "nullish", "undefinedable", "unknown", "any", "undefined", "void"]);

/**
 * Whether a request without a body passes this schema: the routes then validate `undefined`, which
 * `exactOptional` refuses (it allows a missing key, not an undefined value) and `unknown` takes.
 */
export function acceptsMissingBody(schema: { readonly type: string }): boolean {
  return UNDEFINED_TAKEN.has(schema.type) || hasFallback(schema);
}

function hasFallback(schema: { readonly type: string }): boolean {
  return (schema as { readonly fallback?: unknown }).fallback !== undefined;
}

/** Where a pipe's actions collect, before they are written as keywords. */
interface PipeState {
  readonly out: Record<string, unknown>;
  readonly baseType: string;
  readonly patterns: string[];
  readonly unchecked: string[];
  maxLength: number | undefined;
  bmpOnly: boolean;
}

/** Transformations that leave the value as it is. */
const IDENTITY_TRANSFORMATIONS = new Set(["brand", "readonly", "flavor"]);

function convert(node: Node): JsonSchema {
  // valibot answers the fallback in place of any value that fails: a schema with one takes anything.
  if (hasFallback(node)) return withDefault({}, node.fallback);
  const out: Record<string, unknown> = { ...base(node) };
  const pipe = node.pipe as readonly Node[] | undefined;
  if (pipe === undefined) return out;
  const state: PipeState = {
    out,
    baseType: node.type,
    patterns: [],
    unchecked: [],
    maxLength: undefined,
    bmpOnly: false,
  };
  let described = true;
  for (const item of pipe.slice(1)) {
    if (item.kind === "metadata") applyMetadata(out, item);
    else if (!described) {
      if (item.kind === "validation") state.unchecked.push(item.type);
    } else if (item.kind === "validation") applyValidation(state, item);
    else if (item.kind === "transformation" && !IDENTITY_TRANSFORMATIONS.has(item.type)) {
      const untrimmed = node.type === "string" ? untrimmedPattern(item.type) : undefined;
      if (untrimmed === undefined) described = false;
      else state.patterns.push(untrimmed);
    }
  }
  return finish(state);
}

function finish(state: PipeState): JsonSchema {
  const { out, patterns, unchecked } = state;
  if (state.maxLength !== undefined) Object.assign(out, maxUnits(state.maxLength, state.bmpOnly));
  const [first, ...rest] = patterns;
  if (first !== undefined) out.pattern = first;
  if (rest.length > 0) out.allOf = rest.map((pattern) => ({ pattern }));
  if (unchecked.length > 0) out["x-eventflows-unchecked"] = [...new Set(unchecked)];
  return out;
}

function base(node: Node): JsonSchema {
  switch (node.type) {
    case "string":
      return { type: "string" };
    case "number":
      return { type: "number" };
    case "boolean":
      return { type: "boolean" };
    case "null":
      return { type: "null" };
    case "literal":
      return isJsonScalar(node.literal) ? { const: node.literal } : {};
    case "picklist":
    case "enum":
      return { enum: (node.options as unknown[]).filter(isJsonScalar) };
    case "object":
    case "loose_object":
    case "strict_object":
    case "object_with_rest":
      return objectSchema(node);
    case "record":
      return recordSchema(node);
    case "array":
      return { type: "array", items: convert(node.item as Node) };
    case "tuple":
    case "loose_tuple":
    case "strict_tuple":
    case "tuple_with_rest":
      return tupleSchema(node);
    case "union":
    case "variant":
      return { anyOf: (node.options as Node[]).map(convert) };
    case "intersect":
      return { allOf: (node.options as Node[]).map(convert) };
    case "optional":
    case "exact_optional":
    case "undefinedable":
      return withDefault(convert(node.wrapped as Node), node.default);
    case "nullable":
    case "nullish":
      return withDefault({ anyOf: [convert(node.wrapped as Node), { type: "null" }] }, node.default);
    case "non_optional":
    case "non_nullable":
    case "non_nullish":
      return convert(node.wrapped as Node);
    case "never":
      return { not: {} };
    default:
      return {};
  }
}

function objectSchema(node: Node): JsonSchema {
  const entries = Object.entries(node.entries as Readonly<Record<string, Node>>);
  // Made from entries, not assigned key by key: an assignment to "__proto__" sets the object's
  // prototype, so that key's schema was left out of the document (which took any value there).
  const properties: Record<string, JsonSchema> = Object.fromEntries(
    entries.map(([key, entry]) => [key, convert(entry)]),
  );
  const required = entries.filter(([, entry]) => !acceptsUndefined(entry)).map(([key]) => key);
  const out: Record<string, unknown> = { type: "object", properties };
  if (required.length > 0) out.required = required;
  if (node.type === "strict_object") out.additionalProperties = false;
  if (node.type === "object_with_rest") out.additionalProperties = convert(node.rest as Node);
  return out;
}

function recordSchema(node: Node): JsonSchema {
  const key = convert(node.key as Node);
  const out: Record<string, unknown> = { type: "object", additionalProperties: convert(node.value as Node) };
  const { type: _type, ...keyConstraints } = key;
  if (Object.keys(keyConstraints).length > 0) out.propertyNames = keyConstraints;
  return out;
}

function tupleSchema(node: Node): JsonSchema {
  const items = (node.items as Node[]).map(convert);
  const out: Record<string, unknown> = { type: "array", prefixItems: items, minItems: items.length };
  if (node.type === "strict_tuple") out.items = false;
  if (node.type === "tuple_with_rest") out.items = convert(node.rest as Node);
  return out;
}

function applyValidation(state: PipeState, action: Node): void {
  const { out, baseType } = state;
  const requirement = action.requirement;
  const text = baseType === "string";
  const arrayLike = baseType === "array" || baseType.includes("tuple");
  const min = arrayLike ? "minItems" : "minLength";
  const max = arrayLike ? "maxItems" : "maxLength";
  const setMax = (value: number) => {
    // Text lengths are written at the end, once it is known whether the text can hold astral characters.
    if (text) state.maxLength = Math.min(state.maxLength ?? value, value);
    else out[max] = value;
  };
  switch (action.type) {
    case "min_length":
      // At least n code points is at least n UTF-16 units: safe as it is.
      out[min] = requirement;
      return;
    case "max_length":
      setMax(requirement as number);
      return;
    case "length":
      out[min] = requirement;
      setMax(requirement as number);
      return;
    case "non_empty":
      out[min] = 1;
      return;
    case "min_value":
    case "max_value":
    case "gt_value":
    case "lt_value":
      if (baseType === "number") out[NUMBER_BOUNDS[action.type] as string] = requirement;
      else state.unchecked.push(action.type);
      return;
    case "multiple_of":
      out.multipleOf = requirement;
      // valibot asks `value % requirement === 0` of doubles. Only a power of two divides every double as it
      // divides the number written: 0.3 % 0.01 is 0.00999…, and -64560621634346740, a multiple of 5, arrives
      // as -64560621634346736. Any other multipleOf takes values valibot refuses: it stays, named unchecked.
      if (!Number.isInteger(Math.log2(requirement as number))) state.unchecked.push(action.type);
      return;
    case "integer":
      out.type = "integer";
      return;
    case "safe_integer":
      out.type = "integer";
      out.minimum ??= Number.MIN_SAFE_INTEGER;
      out.maximum ??= Number.MAX_SAFE_INTEGER;
      return;
    case "value":
      out.const = requirement;
      return;
    case "url":
      out.format = "uri";
      // valibot asks WHATWG's URL parser, which refuses URIs RFC 3986 admits (a port over 65535) and
      // takes text it does not ("http://x/a b"): no pattern says which, so the check is named unchecked.
      state.unchecked.push(action.type);
      return;
    case "uuid":
      out.format = "uuid";
      return;
    case "starts_with":
      state.patterns.push(`^${escapePattern(requirement as string)}`);
      return;
    case "ends_with":
      state.patterns.push(`${escapePattern(requirement as string)}$`);
      return;
    case "includes":
      if (text) state.patterns.push(escapePattern(requirement as string));
      else state.unchecked.push(action.type);
      return;
    default:
      // valibot's checks by a regular expression (regex, email, isoDate, isoTime, ulid, …) test just that,
      // so the pattern says exactly what they take. Not the formats "email" or "date": each differs from
      // valibot both ways (RFC 5321 takes "^db3`}19@lyrryvn.io", which is refused, and refuses a 65-character
      // local part, which is taken; "2023-02-31" is taken), and a client or tester reads the format as the rule.
      // Flags JSON Schema patterns lack (i, m, s) would change the meaning: such checks stay unchecked.
      if (requirement instanceof RegExp && !/[ims]/.test(requirement.flags)) {
        state.patterns.push(requirement.source);
        if (acceptsBmpOnly(requirement)) state.bmpOnly = true;
      } else state.unchecked.push(action.type);
  }
}

const NUMBER_BOUNDS: Readonly<Record<string, string>> = {
  min_value: "minimum",
  max_value: "maximum",
  gt_value: "exclusiveMinimum",
  lt_value: "exclusiveMaximum",
};

function applyMetadata(out: Record<string, unknown>, action: Node): void {
  switch (action.type) {
    case "description":
      out.description = action.description;
      return;
    case "title":
      out.title = action.title;
      return;
    case "examples":
      out.examples = action.examples;
      return;
  }
}

function withDefault(schema: JsonSchema, fallback: unknown): JsonSchema {
  return isJsonScalar(fallback) ? { ...schema, default: fallback } : schema;
}

function isJsonScalar(value: unknown): value is string | number | boolean | null {
  return (
    value === null ||
    typeof value === "string" ||
    typeof value === "boolean" ||
    (typeof value === "number" && Number.isFinite(value))
  );
}
