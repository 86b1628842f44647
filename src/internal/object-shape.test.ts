import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { arraysAtObjects, objectShapeCheck } from "./object-shape.js";

const paths = (schema: unknown, value: unknown) => arraysAtObjects(schema, value).map((issue) => issue.path.join("."));

describe("arraysAtObjects", () => {
  test("names each array at an object's place, through wrappers, rests, tuples and lazy schemas", () => {
    const node: v.GenericSchema = v.object({ child: v.optional(v.lazy(() => node)) });
    const schema = v.object({
      a: v.nullable(v.object({})),
      b: v.objectWithRest({}, v.looseObject({})),
      c: v.tupleWithRest([v.object({})], v.record(v.string(), v.number())),
      d: v.optional(node),
    });
    expect(paths(schema, { a: [], b: { x: [], y: {} }, c: [[], {}, [1]], d: { child: { child: [] } } })).toEqual([
      "a",
      "b.x",
      "c.0",
      "c.2",
      "d.child.child",
    ]);
    expect(paths(schema, { a: null, b: { x: {} }, c: [{}, {}], d: { child: {} } })).toEqual([]);
  });

  test("an intersection names a place once; an array option of a union accepts an array", () => {
    expect(paths(v.intersect([v.object({}), v.looseObject({})]), [])).toEqual([""]);
    const either = v.union([v.array(v.string()), v.object({})]);
    expect(paths(either, ["x"])).toEqual([]);
    expect(paths(either, [1])).toEqual([""]);
    expect(paths(v.array(v.unknown()), [[], {}])).toEqual([]);
  });

  test("an async option of a union is taken as accepting, as valibot did", () => {
    expect(paths(v.unionAsync([v.objectAsync({}), v.string()]), [])).toEqual([]);
  });
});

describe("objectShapeCheck", () => {
  test("checks the whole payload, only its root, or nothing, as the schema's objects require", () => {
    const check = (schema: unknown, value: unknown) =>
      (objectShapeCheck(schema)?.(value) ?? []).map((issue) => issue.path.join("."));
    const flat = v.object({ n: v.number(), tags: v.array(v.string()) });
    expect(check(flat, [])).toEqual([""]);
    expect(check(flat, { n: 1, tags: [] })).toEqual([]);
    const nested = v.object({ inner: v.optional(v.object({})) });
    expect(check(nested, { inner: [] })).toEqual(["inner"]);
    expect(check(v.array(v.record(v.string(), v.number())), [[]])).toEqual(["0"]);
    expect(check(v.array(v.string()), ["x"])).toEqual([]);
    expect(objectShapeCheck(v.array(v.string()))).toBeUndefined();
    expect(objectShapeCheck(v.pipe(v.string(), v.minLength(1)))).toBeUndefined();
    expect(check(v.union([v.string(), v.object({})]), [])).toEqual([""]);
  });
});
