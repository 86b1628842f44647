// Type-level tests: how the buses infer payloads and results from a message map, and how payload
// schemas are checked against it. tsc (tsconfig.test.json) checks them in the test command.
import { describe, expect, expectTypeOf, test } from "bun:test";
import * as v from "valibot";
import { CommandBus } from "./command-bus.js";
import type { Message, MessageMap, PayloadOf, ResultOf } from "./message.js";
import { type PayloadSchemas, validation } from "./middleware.js";
import { QueryBus } from "./query-bus.js";

type Commands = {
  PlaceOrder: { payload: { sku: string; quantity: number }; result: { orderId: string } };
  CancelOrder: { payload: { orderId: string }; result: undefined };
};
type Queries = { GetOrder: { payload: { orderId: string }; result: { status: "open" | "shipped" } | null } };

describe("MessageMap", () => {
  test("PayloadOf and ResultOf read one type's entry", () => {
    expectTypeOf<Commands>().toExtend<MessageMap>();
    expectTypeOf<PayloadOf<Commands, "PlaceOrder">>().toEqualTypeOf<{ sku: string; quantity: number }>();
    expectTypeOf<ResultOf<Commands, "CancelOrder">>().toEqualTypeOf<undefined>();
    // @ts-expect-error a type the map does not have
    type _Nope = PayloadOf<Commands, "ShipOrder">;
    // @ts-expect-error an entry needs a payload and a result
    const _bad: MessageMap = { PlaceOrder: { payload: {} } };
  });

  test("register and execute are typed by the map", async () => {
    const commands = new CommandBus<Commands>();
    commands.register("PlaceOrder", (payload, message) => {
      expectTypeOf(payload).toEqualTypeOf<{ sku: string; quantity: number }>();
      expectTypeOf(message).toExtend<Message>();
      return { orderId: `o-${payload.sku}` };
    });
    // @ts-expect-error the handler must return the map's result
    commands.register("CancelOrder", () => 42);
    // @ts-expect-error a type the map does not have
    commands.register("ShipOrder", () => undefined);
    const result = await commands.execute("PlaceOrder", { sku: "A", quantity: 1 });
    expectTypeOf(result).toEqualTypeOf<{ orderId: string }>();
    expect(result).toEqual({ orderId: "o-A" });
    // @ts-expect-error the payload is checked against the map
    await commands.execute("PlaceOrder", { sku: "A" }).catch(() => undefined);
    expectTypeOf(commands.registeredTypes()).toEqualTypeOf<("PlaceOrder" | "CancelOrder")[]>();

    const queries = new QueryBus<Queries>();
    queries.register("GetOrder", () => ({ status: "open" }));
    expectTypeOf(await queries.execute("GetOrder", { orderId: "o" })).toEqualTypeOf<{
      status: "open" | "shipped";
    } | null>();
  });

  test("an untyped bus takes any type name, with unknown payloads and results", async () => {
    const bus = new CommandBus();
    bus.register("Anything", (payload) => {
      expectTypeOf(payload).toBeUnknown();
      return 1;
    });
    expectTypeOf(await bus.execute("Anything", null)).toBeUnknown();
  });

  test("assertAllHandled needs a key for every type of the map", () => {
    const commands = new CommandBus<Commands>();
    expectTypeOf<Parameters<typeof commands.assertAllHandled>[0]>().toEqualTypeOf<{
      readonly PlaceOrder: unknown;
      readonly CancelOrder: unknown;
    }>();
    // @ts-expect-error CancelOrder is missing
    expect(() => commands.assertAllHandled({ PlaceOrder: true })).toThrow();
  });
});

describe("payload schemas", () => {
  test("validation<Map> checks each schema's output against the payload type", () => {
    const schemas = {
      PlaceOrder: v.object({ sku: v.string(), quantity: v.pipe(v.number(), v.integer()) }),
      CancelOrder: v.object({ orderId: v.pipe(v.string(), v.trim()) }),
    } satisfies PayloadSchemas<Commands>;
    expectTypeOf<v.InferOutput<typeof schemas.PlaceOrder>>().toEqualTypeOf<PayloadOf<Commands, "PlaceOrder">>();
    expect(typeof validation<Commands>(schemas)).toBe("function");
    // Schemas may be given for some types only.
    validation<Commands>({ CancelOrder: schemas.CancelOrder });
    // @ts-expect-error the schema's output lacks quantity
    validation<Commands>({ PlaceOrder: v.object({ sku: v.string() }) });
    // @ts-expect-error the schema's output has quantity as a string
    validation<Commands>({ PlaceOrder: v.object({ sku: v.string(), quantity: v.string() }) });
    // @ts-expect-error a schema for a type the map does not have
    validation<Commands>({ ShipOrder: v.object({}) });
    // Without a map, any schema per type name.
    validation({ Whatever: v.string() });
  });
});
