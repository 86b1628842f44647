import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as v from "valibot";
import { isValidationError, type ValidationError } from "../errors.js";
import { CommandBus } from "./command-bus.js";
import type { Message } from "./message.js";
import { validation } from "./middleware.js";
import { QueryBus } from "./query-bus.js";

// valibot's object, looseObject, objectWithRest and record take an array (an object to `typeof`) and
// hand back an object built from it; validation() refuses it as the HTTP routes do.
type Commands = { Place: { payload: unknown; result: unknown } };

const refusal = async (schema: v.GenericSchema, payload: unknown) => {
  const bus = new CommandBus<Commands>().use(validation({ Place: schema }));
  let ran = false;
  bus.register("Place", (received) => {
    ran = true;
    return received;
  });
  const outcome: { result?: unknown; error?: unknown } = await bus.execute("Place", payload).then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  );
  return { ...outcome, ran };
};

describe("validation() and arrays where the schema wants an object", () => {
  test.each([
    ["object", v.object({ sku: v.optional(v.string()) })],
    ["looseObject", v.looseObject({})],
    ["strictObject", v.strictObject({})],
    ["objectWithRest", v.objectWithRest({}, v.number())],
    ["record", v.record(v.string(), v.number())],
    ["an optional object", v.optional(v.object({}))],
    ["an intersection of objects", v.intersect([v.object({}), v.looseObject({})])],
  ])("%s refuses [] and [1, 2] at the payload itself, before the handler", async (_, schema) => {
    for (const payload of [[], [1, 2]]) {
      const { error, ran } = await refusal(schema, payload);
      expect(isValidationError(error)).toBe(true);
      expect((error as ValidationError).message).toBe('Invalid command "Place": must be an object, got an array');
      expect((error as ValidationError).issues).toEqual([{ path: [], message: "must be an object, got an array" }]);
      expect(ran).toBe(false);
    }
  });

  test("an array deeper down is named by its path; only the arrays are reported, not valibot's issues under them", async () => {
    const schema = v.object({
      address: v.object({ street: v.string() }),
      lines: v.array(v.looseObject({ sku: v.string() })),
      tags: v.array(v.string()),
    });
    const { error } = await refusal(schema, { address: [], lines: [{ sku: "a" }, [1]], tags: ["x"] });
    expect((error as ValidationError).issues).toEqual([
      { path: ["address"], message: "must be an object, got an array" },
      { path: ["lines", 1], message: "must be an object, got an array" },
    ]);
    const fine = await refusal(schema, { address: { street: "Main" }, lines: [{ sku: "a" }], tags: [] });
    expect(fine.result).toEqual({ address: { street: "Main" }, lines: [{ sku: "a" }], tags: [] });
  });

  test("a schema that wants an array (or either) still takes one; an object still passes", async () => {
    expect((await refusal(v.array(v.number()), [1, 2])).result).toEqual([1, 2]);
    expect((await refusal(v.union([v.array(v.number()), v.object({})]), [1])).result).toEqual([1]);
    expect((await refusal(v.union([v.array(v.number()), v.object({})]), {})).result).toEqual({});
    expect((await refusal(v.object({ n: v.number() }), { n: 1 })).result).toEqual({ n: 1 });
  });

  test("queries are refused the same way, and so is a call of the middleware outside a bus", async () => {
    const bus = new QueryBus<{ Find: { payload: unknown; result: string } }>().use(
      validation({ Find: v.object({ id: v.optional(v.string()) }) }),
    );
    bus.register("Find", () => "found");
    const error = (await bus.execute("Find", [null, null]).catch((e: unknown) => e)) as ValidationError;
    expect(error.message).toBe('Invalid query "Find": must be an object, got an array');
    expect(error.issues).toEqual([{ path: [], message: "must be an object, got an array" }]);

    const middleware = validation({ Find: v.object({}) });
    const message = { kind: "query", type: "Find", payload: [] } as unknown as Message;
    let next = false;
    const outside = (await middleware(message, async () => {
      next = true;
    }).catch((e: unknown) => e)) as ValidationError;
    expect(outside.issues).toEqual([{ path: [], message: "must be an object, got an array" }]);
    expect(next).toBe(false);
  });

  test("generated trees of records and arrays: refused exactly at each array in a record's place, else handled (property)", async () => {
    // A record whose values are numbers or records: each array in the tree sits where a record is wanted.
    const Tree: v.GenericSchema = v.record(v.string(), v.union([v.number(), v.lazy(() => Tree)]));
    const bus = new CommandBus<Commands>().use(validation({ Place: Tree }));
    bus.register("Place", (received) => received);
    const { node } = fc.letrec<{ node: unknown }>((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.integer(),
        fc.dictionary(fc.stringMatching(/^[a-z]{1,3}$/), tie("node"), { maxKeys: 3 }),
        fc.array(tie("node"), { maxLength: 3 }),
      ),
    }));
    const arraysIn = (value: unknown, path: (string | number)[]): (string | number)[][] => {
      if (Array.isArray(value)) return [path];
      if (typeof value !== "object" || value === null) return [];
      return Object.entries(value).flatMap(([key, inner]) => arraysIn(inner, [...path, key]));
    };
    const root = fc.oneof(fc.dictionary(fc.stringMatching(/^[a-z]{1,3}$/), node, { maxKeys: 4 }), fc.array(node));
    await fc.assert(
      fc.asyncProperty(root, async (payload) => {
        const expected = arraysIn(payload, []);
        const outcome = await bus.execute("Place", payload).then(
          (result) => ({ result }),
          (error: unknown) => ({ error }),
        );
        if (expected.length === 0) {
          expect(outcome).toEqual({ result: payload });
        } else {
          expect(isValidationError((outcome as { error: unknown }).error)).toBe(true);
          expect(((outcome as { error: ValidationError }).error as ValidationError).issues).toEqual(
            expected.map((path) => ({ path, message: "must be an object, got an array" })),
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});
