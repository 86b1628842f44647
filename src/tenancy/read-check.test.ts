/**
 * How a tenant's store checks what it reads: over a store that reads through the core's read path,
 * the check runs in that path's loop (no promise of its own per event); over a store whose reads
 * are overridden, the checking iterator. Both refuse another tenant's event at the same place,
 * return the events before it, and release the wrapped store's cursor.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { ReadAllOptions, ReadStreamOptions } from "../event-store/types.js";
import type { EventEnvelope } from "../events/envelope.js";
import { configureTelemetry } from "../telemetry/config.js";
import { TenancyErrorCode } from "./errors.js";
import { TENANT_METADATA_KEY, TenantEventStore } from "./tenant-event-store.js";
import { tenantId } from "./tenant-id.js";

const acme = tenantId("acme");
const globex = tenantId("globex");

/** An in-memory store that says when a read's cursor is released (its generator finished or returned). */
class CursorStore extends InMemoryEventStore {
  open = 0;
  protected override async *readStreamEvents(streamId: string, options: ReadStreamOptions) {
    this.open++;
    try {
      yield* super.readStreamEvents(streamId, options);
    } finally {
      this.open--;
    }
  }
  protected override async *readAllEvents(options: ReadAllOptions) {
    this.open++;
    try {
      yield* super.readAllEvents(options);
    } finally {
      this.open--;
    }
  }
}

/** The checking iterator's path: a wrapped store whose public reads are not the core's. */
class OverridingStore extends CursorStore {
  override readStream<E extends EventEnvelope = EventEnvelope>(streamId: string, options?: ReadStreamOptions) {
    return super.readStream<E>(streamId, options);
  }
}

/** Reads until the first error: the events returned before it, and the error. */
async function drain(events: AsyncGenerator<EventEnvelope>) {
  const seen: EventEnvelope[] = [];
  try {
    for await (const event of events) seen.push(event);
    return { seen, error: undefined };
  } catch (error) {
    return { seen, error: error as { code?: string } };
  }
}

describe("TenantEventStore reads: the check in the core's read path, or the checking iterator", () => {
  for (const [name, make, slow] of [
    ["core read path", () => new CursorStore(), true],
    ["core read path, no slow-call check (the check alone)", () => new CursorStore(), false],
    ["checking iterator (reads overridden)", () => new OverridingStore(), true],
  ] as const) {
    test(`${name}: any mix of tenants stops at the first foreign event, returns those before it, releases the cursor`, async () => {
      configureTelemetry({ slowStoreCallMs: slow ? 1000 : false });
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.array(fc.constantFrom("acme", "globex", "none"), { minLength: 1, maxLength: 20 }),
            async (owners) => {
              const inner = make();
              const streamId = `Cart-${crypto.randomUUID()}`;
              await inner.appendToStream(
                streamId,
                owners.map((owner) => ({
                  type: "Noted",
                  data: {},
                  metadata: owner === "none" ? {} : { [TENANT_METADATA_KEY]: owner },
                })),
              );
              const scoped = new TenantEventStore(acme, inner);
              const firstForeign = owners.findIndex((owner) => owner !== "acme");
              const expected = firstForeign === -1 ? owners.length : firstForeign;
              for (const read of [
                () => scoped.readStream(streamId),
                () => scoped.readStream(streamId, { raw: true }),
                () => scoped.readAll(),
                () => scoped.readFeed(),
              ]) {
                const { seen, error } = await drain(read());
                expect(seen.length).toBe(expected);
                expect(seen.every((event) => event.metadata?.[TENANT_METADATA_KEY] === acme)).toBe(true);
                expect(error?.code).toBe(firstForeign === -1 ? undefined : TenancyErrorCode.Isolation);
                expect(inner.open).toBe(0);
              }
            },
          ),
          { numRuns: 40 },
        );
      } finally {
        configureTelemetry();
      }
    });
  }

  test("a reader that stops early releases the cursor, and the other tenant's store refuses what this one wrote", async () => {
    const inner = new CursorStore();
    const scoped = new TenantEventStore(acme, inner);
    await scoped.appendToStream("Cart-1", [
      { type: "A", data: {} },
      { type: "B", data: {} },
    ]);
    for await (const _ of scoped.readStream("Cart-1")) break;
    expect(inner.open).toBe(0);
    const other = new TenantEventStore(globex, inner);
    expect((await drain(other.readStream("Cart-1"))).error?.code).toBe(TenancyErrorCode.Isolation);
    expect(inner.open).toBe(0);
  });

  test("a read check never leaks into what callers of the plain store see", async () => {
    const inner = new InMemoryEventStore();
    const scoped = new TenantEventStore(acme, inner);
    await scoped.appendToStream("Cart-1", [{ type: "A", data: {} }]);
    await inner.appendToStream("Cart-1", [{ type: "Untagged", data: {} }]);
    // The plain store reads everything: the check belongs to the tenant's read only.
    expect((await drain(inner.readStream("Cart-1"))).seen.length).toBe(2);
    expect((await drain(scoped.readStream("Cart-1"))).error?.code).toBe(TenancyErrorCode.Isolation);
  });
});
