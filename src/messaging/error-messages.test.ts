import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import * as v from "valibot";
import { checkpointConflict } from "../checkpoint/checkpoint-store.js";
import { ConcurrencyError, closest, HandlerNotFoundError, ValidationError } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { assertStreamId } from "../internal/validate.js";
import { AssertionError } from "../testing/assert.js";
import { commandSpec } from "../testing/given-when-then.js";
import { CommandBus } from "./command-bus.js";
import { toIssue, validation } from "./middleware.js";

type Commands = {
  PlaceOrder: { payload: { sku: string }; result: string };
  CancelOrder: { payload: { orderId: string }; result: undefined };
  ShipOrder: { payload: { orderId: string }; result: undefined };
};

describe("errors say what to do next", () => {
  test("a conflict names both versions and suggests update / retryOnConcurrency", async () => {
    const store = new InMemoryEventStore();
    await store.appendToStream("Order-1", [{ type: "A", data: null }]);
    const error = await store.appendToStream("Order-1", [{ type: "B", data: null }], { expectedVersion: 0 }).then(
      () => undefined,
      (e: unknown) => e as ConcurrencyError,
    );
    expect(error).toBeInstanceOf(ConcurrencyError);
    expect(error?.message).toStartWith('Stream "Order-1" is at version 1, expected 0: ');
    expect(error?.message).toContain("AggregateRepository.update(");
    expect(error?.message).toContain("retryOnConcurrency()");
    expect(checkpointConflict("projection-x", 3, 5).message).toBe(
      'Checkpoint "projection-x" is at version 5, expected 3: another runner moved this checkpoint since it was loaded; only one runner may own a checkpoint at a time',
    );
  });

  test("an unknown command lists the registered ones and suggests the closest", async () => {
    const bus = new CommandBus<Commands>();
    bus.register("PlaceOrder", ({ sku }) => sku);
    bus.register("CancelOrder", () => undefined);
    const error = await bus.execute("PlaceOrdr" as "PlaceOrder", { sku: "x" }).then(
      () => undefined,
      (e: unknown) => e as HandlerNotFoundError,
    );
    expect(error?.message).toBe(
      'No command handler is registered for "PlaceOrdr". Did you mean "PlaceOrder"? Registered: "PlaceOrder", "CancelOrder"',
    );
    expect(error?.registered).toEqual(["PlaceOrder", "CancelOrder"]);
    const far = await bus.execute("Refund" as "PlaceOrder", { sku: "x" }).then(
      () => undefined,
      (e: unknown) => e as HandlerNotFoundError,
    );
    expect(far?.message).toBe('No command handler is registered for "Refund". Registered: "PlaceOrder", "CancelOrder"');
  });

  test("closest finds a one-edit typo of any registered name among unrelated ones (property)", () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Z][a-z]{5,12}$/),
        fc.nat(),
        fc.constantFrom("insert", "delete", "replace"),
        (name, at, edit) => {
          const i = at % name.length;
          const typo =
            edit === "insert"
              ? `${name.slice(0, i)}q${name.slice(i)}`
              : edit === "delete"
                ? `${name.slice(0, i)}${name.slice(i + 1)}`
                : `${name.slice(0, i)}${name[i] === "z" ? "y" : "z"}${name.slice(i + 1)}`;
          expect(closest(typo, ["Zz", name, "0123456789012345"])).toBe(name);
          expect(closest(typo, ["Zz", "0123456789012345"])).toBeUndefined();
        },
      ),
    );
  });

  test("assertAllHandled reports every typed command without a handler at start-up", () => {
    const bus = new CommandBus<Commands>();
    bus.register("PlaceOrder", ({ sku }) => sku);
    const all = { PlaceOrder: true, CancelOrder: true, ShipOrder: true } as const;
    let error: HandlerNotFoundError | undefined;
    try {
      bus.assertAllHandled(all);
    } catch (caught) {
      error = caught as HandlerNotFoundError;
    }
    expect(error).toBeInstanceOf(HandlerNotFoundError);
    expect(error?.missing).toEqual(["CancelOrder", "ShipOrder"]);
    expect(error?.message).toBe(
      '2 command type(s) have no handler: "CancelOrder", "ShipOrder". Register one for each with register(type, handler) before dispatching',
    );
    bus.register("CancelOrder", () => undefined);
    bus.register("ShipOrder", () => undefined);
    bus.assertAllHandled(all);
    // @ts-expect-error a list that misses a command type of the map does not compile
    bus.assertAllHandled({ PlaceOrder: true });
  });

  test("valibot's default messages become readable; a schema's own message is kept", async () => {
    const schema = v.object({
      sku: v.pipe(v.string(), v.minLength(2)),
      quantity: v.pipe(v.number(), v.integer(), v.minValue(1)),
      note: v.pipe(v.string(), v.maxLength(3, "keep notes short")),
      tags: v.pipe(v.array(v.string()), v.maxLength(1)),
      kind: v.picklist(["a", "b"]),
    });
    const result = v.safeParse(schema, {
      sku: "x",
      quantity: 1.5,
      note: "long note",
      tags: ["a", "b"],
      kind: "c",
    });
    expect(result.issues?.map(toIssue)).toEqual([
      { path: ["sku"], message: "must be at least 2 characters long, got 1" },
      { path: ["quantity"], message: "must be an integer, got 1.5" },
      { path: ["note"], message: "keep notes short" },
      { path: ["tags"], message: "must have at most 1 items, got 2" },
      { path: ["kind"], message: 'must be one of "a" | "b", got "c"' },
    ]);
    const missing = v.safeParse(schema, { sku: "x".repeat(200), quantity: "3" });
    expect(missing.issues?.map(toIssue).slice(0, 3)).toEqual([
      { path: ["quantity"], message: 'must be a number, got "3"' },
      { path: ["note"], message: "is required" },
      { path: ["tags"], message: "is required" },
    ]);
    const bus = new CommandBus<Commands>().use(validation({ PlaceOrder: v.object({ sku: v.string() }) }));
    bus.register("PlaceOrder", ({ sku }) => sku);
    await expect(bus.execute("PlaceOrder", { sku: 42 as unknown as string })).rejects.toThrow(
      'Invalid command "PlaceOrder": sku: must be a string, got 42',
    );
  });

  test("toIssue gives every issue a message, whatever fields a hand-made issue lacks or holds", () => {
    expect(toIssue({} as never)).toEqual({ path: [], message: "is invalid" });
    expect(toIssue({ message: "" } as never).message).toBe("is invalid");
    // A schema issue says what was expected; one made by hand without `expected` or `type` has nothing to say.
    expect(toIssue({ kind: "schema", message: "" } as never).message).toBe("is invalid");
    expect(toIssue({ kind: "schema", type: "string" } as never).message).toBe("fails the string check");
    expect(toIssue({ path: [null, { key: Object.create(null) }], message: "x" } as never)).toEqual({
      path: ["undefined", "?"],
      message: "x",
    });
    const field = fc.oneof(fc.anything(), fc.constantFrom("schema", "validation", "min_length", "object", "never"));
    const issue = fc.record(
      {
        kind: field,
        type: field,
        message: field,
        expected: field,
        received: field,
        requirement: fc.oneof(field, fc.constant(Object.create(null))),
        input: field,
        path: fc.array(fc.oneof(fc.anything({ withNullPrototype: true }), fc.record({ key: fc.anything() }))),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(issue, (given) => {
        let converted: { path: unknown; message: unknown };
        try {
          converted = toIssue(given as never);
        } catch (error) {
          expect(error).toBeInstanceOf(ValidationError);
          return;
        }
        expect(Array.isArray(converted.path)).toBe(true);
        expect(typeof converted.message).toBe("string");
        expect((converted.message as string).trim()).not.toBe("");
      }),
      { numRuns: 500 },
    );
  });

  test("a whitespace stream id is called blank, not empty", () => {
    expect(() => assertStreamId("   ")).toThrow("Invalid stream id: stream id must not be only whitespace");
    expect(() => assertStreamId("")).toThrow("Invalid stream id: stream id must not be empty");
  });

  test("a failing thenThrows prints the actual error's class and code", async () => {
    const store = new InMemoryEventStore();
    const spec = commandSpec(store)
      .given({ "Order-9": [{ type: "A", data: null }] })
      .when(() => store.appendToStream("Order-9", [{ type: "B", data: null }], { expectedVersion: 0 }));
    const failure = await spec.thenThrows("VALIDATION_FAILED").then(
      () => undefined,
      (e: unknown) => e as AssertionError,
    );
    expect(failure).toBeInstanceOf(AssertionError);
    expect(failure?.message).toStartWith(
      'expected the command to throw an error with code VALIDATION_FAILED, but it threw ConcurrencyError with code CONCURRENCY_CONFLICT: Stream "Order-9"',
    );
    const byClass = await commandSpec(new InMemoryEventStore())
      .given()
      .when(() => {
        throw new TypeError("nope");
      })
      .thenThrows(ValidationError)
      .then(
        () => undefined,
        (e: unknown) => e as AssertionError,
      );
    expect(byClass?.message).toBe(
      "expected the command to throw a ValidationError, but it threw TypeError (no code): nope",
    );
  });
});
