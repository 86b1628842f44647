// Type-level tests: what rebuildProjection() and replay() promise about types. tsc
// (tsconfig.test.json) checks them in the test command; each `@ts-expect-error` line fails the check
// if the mistake it shows ever compiles.
import { describe, expect, expectTypeOf, test } from "bun:test";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EnvelopeOf } from "../events/envelope.js";
import { InMemoryReadModelStore } from "./in-memory-read-model-store.js";
import type { Progress } from "./progress.js";
import { projection } from "./projection.js";
import { type RebuildProjectionResult, rebuildProjection } from "./rebuild.js";
import { type ReplayResult, replay } from "./replay.js";

type CartEvent = { type: "ItemAdded"; data: { quantity: number } } | { type: "CheckedOut"; data: null };
type Added = EnvelopeOf<CartEvent, "ItemAdded">;

describe("rebuild and replay types", () => {
  test("a rebuild takes any projection definition; progress and result are typed", async () => {
    const sizes = projection<Added, { carts: number }>({
      name: "sizes",
      types: ["ItemAdded"],
      initialState: { carts: 0 },
      handle: (event, { state }) => ({ carts: state.carts + event.data.quantity }),
    });
    const result = await rebuildProjection({
      projection: sizes,
      eventStore: new InMemoryEventStore(),
      readModels: new InMemoryReadModelStore(),
      collections: ["sizes"],
      onProgress: (progress) => expectTypeOf(progress).toEqualTypeOf<Progress>(),
      // @ts-expect-error onAbort is "keep" or "drop"
      onAbort: "delete",
    }).catch((error: unknown) => error);
    expectTypeOf<Awaited<ReturnType<typeof rebuildProjection>>>().toEqualTypeOf<RebuildProjectionResult>();
    expect(result).toMatchObject({ code: "VALIDATION_FAILED" });
  });

  test("replay's handler sees the event type it is given", async () => {
    const result = await replay<Added>({
      eventStore: new InMemoryEventStore(),
      handle: (event, { dryRun }) => {
        expectTypeOf(event.data.quantity).toBeNumber();
        expectTypeOf(dryRun).toBeBoolean();
        // @ts-expect-error CheckedOut is not the replayed type
        if (event.type === "CheckedOut") return;
      },
    });
    expectTypeOf(result).toEqualTypeOf<ReplayResult>();
    expect(result.read).toBe(0);
  });
});
