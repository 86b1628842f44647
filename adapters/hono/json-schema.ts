/**
 * valibot schemas as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1), for the OpenAPI
 * document. It describes what a request may send: the input side of a schema, so validations after a
 * `transform` in a pipe are not described. Kinds JSON cannot carry (Date, bigint, Map, functions, …),
 * and `lazy` schemas (which may recurse), become `{}`: documented as "anything", still validated.
 */
export type JsonSchema = { readonly [keyword: string]: unknown };

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

/** Whether a missing property passes this schema (optional, nullish, …): such properties are not `required`. */
export function acceptsUndefined(schema: { readonly type: string }): boolean {
  const type = schema.type;
  return type === "optional" || type === "exact_optional" || type === "nullish" || type === "undefinedable";
}

function convert(node: Node): JsonSchema {
  const out: Record<string, unknown> = { ...base(node) };
  const pipe = node.pipe as readonly Node[] | undefined;
  if (pipe !== undefined) {
    for (const item of pipe.slice(1)) {
      if (item.kind === "transformation") break;
      if (item.kind === "validation") applyValidation(out, item, node.type);
      else if (item.kind === "metadata") applyMetadata(out, item);
    }
  }
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
  const entries = node.entries as Readonly<Record<string, Node>>;
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const [key, entry] of Object.entries(entries)) {
    properties[key] = convert(entry);
    if (!acceptsUndefined(entry)) required.push(key);
  }
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

function applyValidation(out: Record<string, unknown>, action: Node, baseType: string): void {
  const requirement = action.requirement;
  const arrayLike = baseType === "array" || baseType.includes("tuple");
  const min = arrayLike ? "minItems" : "minLength";
  const max = arrayLike ? "maxItems" : "maxLength";
  switch (action.type) {
    case "min_length":
      out[min] = requirement;
      return;
    case "max_length":
      out[max] = requirement;
      return;
    case "length":
      out[min] = requirement;
      out[max] = requirement;
      return;
    case "non_empty":
      out[min] = 1;
      return;
    case "min_value":
      if (baseType === "number") out.minimum = requirement;
      return;
    case "max_value":
      if (baseType === "number") out.maximum = requirement;
      return;
    case "gt_value":
      if (baseType === "number") out.exclusiveMinimum = requirement;
      return;
    case "lt_value":
      if (baseType === "number") out.exclusiveMaximum = requirement;
      return;
    case "multiple_of":
      out.multipleOf = requirement;
      return;
    case "integer":
    case "safe_integer":
      out.type = "integer";
      return;
    case "email":
      out.format = "email";
      return;
    case "url":
      out.format = "uri";
      return;
    case "uuid":
      out.format = "uuid";
      return;
    case "iso_date":
      out.format = "date";
      return;
    case "regex":
    case "iso_date_time":
    case "iso_timestamp":
    case "ulid":
      // Flags JSON Schema patterns lack (i, m, s) would change the meaning: such patterns are left out.
      if (requirement instanceof RegExp && !/[ims]/.test(requirement.flags)) out.pattern = requirement.source;
      return;
  }
}

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
