import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { toJsonSchema } from "./json-schema.js";

describe("toJsonSchema", () => {
  test("scalars and their pipe validations", () => {
    expect(toJsonSchema(v.pipe(v.string(), v.minLength(1), v.maxLength(5), v.description("a name")))).toEqual({
      type: "string",
      minLength: 1,
      maxLength: 5,
      description: "a name",
    });
    expect(toJsonSchema(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(9)))).toEqual({
      type: "integer",
      minimum: 1,
      maximum: 9,
    });
    expect(toJsonSchema(v.pipe(v.number(), v.gtValue(0), v.ltValue(1), v.multipleOf(0.5)))).toEqual({
      type: "number",
      exclusiveMinimum: 0,
      exclusiveMaximum: 1,
      multipleOf: 0.5,
    });
    expect(toJsonSchema(v.boolean())).toEqual({ type: "boolean" });
    expect(toJsonSchema(v.null())).toEqual({ type: "null" });
    expect(toJsonSchema(v.pipe(v.string(), v.email()))).toEqual({ type: "string", format: "email" });
    expect(toJsonSchema(v.pipe(v.string(), v.url()))).toEqual({ type: "string", format: "uri" });
    expect(toJsonSchema(v.pipe(v.string(), v.uuid()))).toEqual({ type: "string", format: "uuid" });
    expect(toJsonSchema(v.pipe(v.string(), v.isoDate()))).toEqual({ type: "string", format: "date" });
    expect(toJsonSchema(v.pipe(v.string(), v.title("T"), v.examples(["a"])))).toEqual({
      type: "string",
      title: "T",
      examples: ["a"],
    });
  });

  test("a regex becomes a pattern, unless its flags cannot be expressed", () => {
    expect(toJsonSchema(v.pipe(v.string(), v.regex(/^[a-z]+$/)))).toEqual({ type: "string", pattern: "^[a-z]+$" });
    expect(toJsonSchema(v.pipe(v.string(), v.regex(/^[a-z]+$/i)))).toEqual({ type: "string" });
  });

  test("validations after a transform describe the output, not the request: they are left out", () => {
    expect(toJsonSchema(v.pipe(v.string(), v.minLength(1), v.transform(Number), v.minValue(5)))).toEqual({
      type: "string",
      minLength: 1,
    });
  });

  test("literals, picklists and enums", () => {
    expect(toJsonSchema(v.literal("on"))).toEqual({ const: "on" });
    expect(toJsonSchema(v.picklist(["a", "b"]))).toEqual({ enum: ["a", "b"] });
    expect(toJsonSchema(v.enum({ A: "a", B: "b" }))).toEqual({ enum: ["a", "b"] });
  });

  test("objects: required unless optional, strict and rest objects constrain extra keys", () => {
    const schema = v.object({
      id: v.string(),
      note: v.optional(v.string()),
      count: v.optional(v.number(), 1),
      tag: v.nullish(v.string()),
      flag: v.nullable(v.boolean()),
    });
    expect(toJsonSchema(schema)).toEqual({
      type: "object",
      properties: {
        id: { type: "string" },
        note: { type: "string" },
        count: { type: "number", default: 1 },
        tag: { anyOf: [{ type: "string" }, { type: "null" }] },
        flag: { anyOf: [{ type: "boolean" }, { type: "null" }] },
      },
      required: ["id", "flag"],
    });
    expect(toJsonSchema(v.strictObject({ a: v.string() }))).toMatchObject({ additionalProperties: false });
    expect(toJsonSchema(v.objectWithRest({}, v.number()))).toMatchObject({ additionalProperties: { type: "number" } });
    expect(toJsonSchema(v.looseObject({}))).toEqual({ type: "object", properties: {} });
  });

  test("arrays, tuples, records", () => {
    expect(toJsonSchema(v.pipe(v.array(v.string()), v.minLength(1), v.maxLength(3)))).toEqual({
      type: "array",
      items: { type: "string" },
      minItems: 1,
      maxItems: 3,
    });
    expect(toJsonSchema(v.tuple([v.string(), v.number()]))).toEqual({
      type: "array",
      prefixItems: [{ type: "string" }, { type: "number" }],
      minItems: 2,
    });
    expect(toJsonSchema(v.strictTuple([v.string()]))).toMatchObject({ items: false });
    expect(toJsonSchema(v.record(v.pipe(v.string(), v.maxLength(8)), v.number()))).toEqual({
      type: "object",
      additionalProperties: { type: "number" },
      propertyNames: { maxLength: 8 },
    });
  });

  test("unions, variants, intersections", () => {
    expect(toJsonSchema(v.union([v.string(), v.number()]))).toEqual({
      anyOf: [{ type: "string" }, { type: "number" }],
    });
    expect(
      toJsonSchema(v.variant("kind", [v.object({ kind: v.literal("a") }), v.object({ kind: v.literal("b") })])),
    ).toEqual({
      anyOf: [
        { type: "object", properties: { kind: { const: "a" } }, required: ["kind"] },
        { type: "object", properties: { kind: { const: "b" } }, required: ["kind"] },
      ],
    });
    expect(toJsonSchema(v.intersect([v.object({ a: v.string() }), v.object({ b: v.number() })]))).toMatchObject({
      allOf: [{ type: "object" }, { type: "object" }],
    });
  });

  test("what JSON cannot carry, and lazy schemas, are documented as anything", () => {
    expect(toJsonSchema(v.date())).toEqual({});
    expect(toJsonSchema(v.bigint())).toEqual({});
    expect(toJsonSchema(v.unknown())).toEqual({});
    expect(toJsonSchema(v.lazy(() => v.string()))).toEqual({});
    expect(toJsonSchema(v.never())).toEqual({ not: {} });
  });

  test("async schemas convert like sync ones", () => {
    expect(toJsonSchema(v.objectAsync({ a: v.pipeAsync(v.string(), v.minLength(2)) }))).toEqual({
      type: "object",
      properties: { a: { type: "string", minLength: 2 } },
      required: ["a"],
    });
  });
});
