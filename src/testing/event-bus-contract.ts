import { ErrorCode } from "../errors.js";
import type { EventBus, EventBusOptions, HandlerFailure } from "../event-bus/event-bus.js";
import type { EventEnvelope } from "../events/envelope.js";
import { ulid } from "../ids.js";
import { assert, assertEqual, assertRejects, eventually } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";

export interface EventBusContractOptions {
  readonly name: string;
  /** Makes a bus; `options.onError` must be passed through. */
  readonly create: (options: EventBusOptions) => EventBus | Promise<EventBus>;
  readonly dispose?: (bus: EventBus) => void | Promise<void>;
}

let position = 0;

/** An envelope for bus tests; buses do not need a store behind them. */
export function testEnvelope(type: string, streamId: string, data: unknown = {}): EventEnvelope {
  position++;
  return {
    id: ulid(),
    type,
    streamId,
    version: 1,
    globalPosition: position,
    timestamp: new Date().toISOString(),
    data,
    metadata: { correlationId: "contract" },
  };
}

/**
 * The behaviour every EventBus with local subscribers must have: what is published here reaches
 * handlers subscribed in this process. A bus without them (`capabilities.localSubscribers` false)
 * fails every case, saying so: a remote bus proves itself with `remoteBusContract` instead.
 */
export function eventBusContract(options: EventBusContractOptions): ContractSuite {
  checkContractOptions("eventBusContract", options, { functions: ["create"], optionalFunctions: ["dispose"] });
  const cases: ContractCase[] = [];
  const add = (name: string, run: (bus: EventBus, failures: HandlerFailure[]) => Promise<void>) =>
    cases.push({
      name,
      run: async () => {
        const failures: HandlerFailure[] = [];
        const bus = await options.create({ onError: (failure) => failures.push(failure) });
        try {
          assert(
            bus.capabilities.localSubscribers,
            "this bus has no local subscribers: eventBusContract checks in-process delivery; run remoteBusContract",
          );
          await run(bus, failures);
        } finally {
          await options.dispose?.(bus);
        }
      },
    });

  add("ping answers for health checks", async (bus) => {
    assertEqual(await bus.ping(), undefined, "ping resolves");
  });

  add("delivers by type, by category and to all subscribers", async (bus) => {
    const byType: string[] = [];
    const byCategory: string[] = [];
    const all: string[] = [];
    bus.subscribeToType(["Placed", "Shipped"], (e) => void byType.push(e.type));
    bus.subscribeToCategory("Order", (e) => void byCategory.push(e.type));
    bus.subscribeToAll((e) => void all.push(e.type));
    await bus.publish([
      testEnvelope("Placed", `Order-${ulid()}`),
      testEnvelope("Registered", `Customer-${ulid()}`),
      testEnvelope("Shipped", `Order-${ulid()}`),
      testEnvelope("Placed", `Customer-${ulid()}`),
    ]);
    await eventually(() => {
      assertEqual(byType, ["Placed", "Shipped", "Placed"], "by type");
      assertEqual(byCategory, ["Placed", "Shipped"], "by category");
      assertEqual(all, ["Placed", "Registered", "Shipped", "Placed"], "all");
    });
  });

  add("delivers events to a subscriber in publish order", async (bus) => {
    const seen: number[] = [];
    bus.subscribeToAll(async (event) => {
      await new Promise((resolve) => setTimeout(resolve, (event.data as { n: number }).n % 2));
      seen.push((event.data as { n: number }).n);
    });
    await bus.publish(Array.from({ length: 20 }, (_, n) => testEnvelope("Numbered", `Seq-${ulid()}`, { n })));
    await eventually(() =>
      assertEqual(
        seen,
        Array.from({ length: 20 }, (_, n) => n),
      ),
    );
  });

  add("a failing handler is reported with its event and does not stop the others", async (bus, failures) => {
    const delivered: string[] = [];
    bus.subscribeToAll(
      () => {
        throw new Error("boom");
      },
      { name: "thrower" },
    );
    bus.subscribeToAll(async () => Promise.reject(new Error("async boom")), { name: "rejecter" });
    bus.subscribeToAll((event) => void delivered.push(event.id), { name: "fine" });
    const events = [testEnvelope("A", `T-${ulid()}`), testEnvelope("B", `T-${ulid()}`)];
    const result = await bus.publish(events);
    await eventually(() =>
      assertEqual(
        delivered,
        events.map((e) => e.id),
        "the healthy handler got every event",
      ),
    );
    assertEqual(failures.length, 4, "two failures per event, to the hook");
    assertEqual(
      failures.map((f) => [f.subscription, f.event.id, (f.error as Error).message]),
      [
        ["thrower", events[0]?.id, "boom"],
        ["rejecter", events[0]?.id, "async boom"],
        ["thrower", events[1]?.id, "boom"],
        ["rejecter", events[1]?.id, "async boom"],
      ],
    );
    assertEqual(result.failures.length, 4, "and in the publish result");
    assertEqual(result.delivered, 2);
  });

  add("a throwing onError hook does not break the bus", async () => {
    const bus = await options.create({
      onError: () => {
        throw new Error("hook broke");
      },
    });
    try {
      const got: string[] = [];
      bus.subscribeToAll(() => {
        throw new Error("handler broke");
      });
      bus.subscribeToAll((e) => void got.push(e.type));
      await bus.publish([testEnvelope("Still", `T-${ulid()}`)]);
      await eventually(() => assertEqual(got, ["Still"]));
    } finally {
      await options.dispose?.(bus);
    }
  });

  add("unsubscribe stops delivery", async (bus) => {
    const got: string[] = [];
    const witness: string[] = [];
    const unsubscribe = bus.subscribeToAll((e) => void got.push(e.type));
    bus.subscribeToAll((e) => void witness.push(e.type));
    await bus.publish([testEnvelope("First", `T-${ulid()}`)]);
    await eventually(() => assertEqual(got, ["First"], "delivered while subscribed"));
    unsubscribe();
    await bus.publish([testEnvelope("Second", `T-${ulid()}`)]);
    // The subscriber still subscribed receiving "Second" is the signal that it was delivered.
    await eventually(() => assertEqual(witness, ["First", "Second"], "the other subscriber"));
    assertEqual(got, ["First"], "nothing after unsubscribe");
  });

  add("publishing nothing delivers nothing", async (bus) => {
    let calls = 0;
    bus.subscribeToAll(() => void calls++);
    const result = await bus.publish([]);
    assertEqual(result, { delivered: 0, failures: [] });
    assertEqual(calls, 0);
  });

  add("subscribing with a bad pattern or handler is refused", async (bus) => {
    await assertRejects(() => bus.subscribe({ all: true }, "nope" as never), ErrorCode.Validation, "handler");
    await assertRejects(() => bus.subscribe({} as never, () => undefined), ErrorCode.Validation, "pattern");
    // Patterns that would match everything, nothing, or throw at publish time: refused when subscribing.
    for (const pattern of [
      { all: false },
      { type: 42 },
      { type: ["ItemAdded", 7] },
      { type: "" },
      { category: null },
      { category: "Cart-Line" },
      { type: "ItemAdded", category: "Cart" },
    ]) {
      await assertRejects(
        () => bus.subscribe(pattern as never, () => undefined),
        ErrorCode.Validation,
        `pattern ${JSON.stringify(pattern)}`,
      );
    }
  });

  add("a pattern naming what no event can match is refused, and subscribes nothing", async (bus) => {
    let calls = 0;
    const count = () => void calls++;
    await assertRejects(() => bus.subscribe({ all: false } as never, count), ErrorCode.Validation, "all: false");
    await assertRejects(() => bus.subscribe({ type: 5 } as never, count), ErrorCode.Validation, "type: 5");
    await assertRejects(() => bus.subscribeToType(["Placed", ""], count), ErrorCode.Validation, "an empty type");
    await assertRejects(() => bus.subscribeToType("Placed\uD800", count), ErrorCode.Validation, "a lone surrogate");
    await assertRejects(() => bus.subscribeToCategory(7 as never, count), ErrorCode.Validation, "category: 7");
    // The category ends at the first "-" of a stream id, so "Order-1" is a stream, never a category.
    await assertRejects(() => bus.subscribeToCategory("Order-1", count), ErrorCode.Validation, "a category with -");
    await bus.publish([testEnvelope("Placed", "Order-1")]);
    assertEqual(calls, 0);
  });

  return { name: options.name, cases };
}
