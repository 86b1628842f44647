import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { probeDeletedStreams } from "../../test/tenancy/deletion-probes.ts";
import { assertSharedStoreMatchesModel } from "../../test/tenancy/shared-store-model.ts";
import { InMemoryCheckpointStore } from "../checkpoint/in-memory-checkpoint-store.js";
import { ErrorCode } from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { EventRegistry } from "../evolution/event-registry.js";
import { ulid } from "../ids.js";
import { setLogger } from "../logging/library-logger.js";
import { InMemoryReadModelStore } from "../projections/in-memory-read-model-store.js";
import { projection } from "../projections/projection.js";
import { ProjectionRunner } from "../projections/projection-runner.js";
import { InMemorySnapshotStore } from "../snapshot/in-memory-snapshot-store.js";
import { collect } from "../testing/assert.js";
import { registerContract } from "../testing/contract.js";
import { tenantIsolationContract } from "../testing/tenant-isolation-contract.js";
import { TenancyErrorCode, TenantQuotaExceededError } from "./errors.js";
import { QuotaCounter } from "./quotas.js";
import { tenancy } from "./tenancy.js";
import { TENANT_METADATA_KEY, TenantEventStore } from "./tenant-event-store.js";
import { isTenantId, MAX_TENANT_ID_LENGTH, type TenantId, tenantId, tenantIdentifier } from "./tenant-id.js";

/** Two tenants' stores over one store shared by mistake (defence in depth: the tenant layer must still isolate). */
async function sharedByMistake() {
  const shared = new InMemoryEventStore();
  const tenants = tenancy({ stores: () => ({ eventStore: shared }) });
  const acme = (await tenants.forTenant("acme")).stores.eventStore;
  const globex = (await tenants.forTenant("globex")).stores.eventStore;
  return { shared, acme, globex };
}

/** Stream ids built from the victim's id and tenant with arbitrary separators, case changes and encodings. */
const craftStreamIds = ({ tenant, streamId }: { tenant: string; streamId: string }) =>
  fc.sample(
    fc.oneof(
      fc.tuple(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 })).map(([l, r]) => `${l}${streamId}${r}`),
      fc.string({ maxLength: 3 }).map((sep) => `${tenant}${sep}${streamId}`),
      fc
        .constantFrom(encodeURI, encodeURIComponent, (s: string) => s.toUpperCase())
        .map((f) => f(`${tenant}:${streamId}`)),
      fc.string({ minLength: 1, maxLength: 600 }),
    ),
    { numRuns: 40, seed: 22 },
  );

registerContract(
  tenantIsolationContract({
    name: "tenant isolation (in memory, an instance per tenant)",
    forTenant: () => ({
      eventStore: new InMemoryEventStore(),
      snapshotStore: new InMemorySnapshotStore(),
      checkpointStore: new InMemoryCheckpointStore(),
    }),
    craftStreamIds,
  }),
  { describe, test },
);

describe("tenantId", () => {
  test("accepts short lower-case ids of letters, digits and '-'", () => {
    for (const id of ["a", "acme", "acme-eu-1", "0", "x".repeat(MAX_TENANT_ID_LENGTH)])
      expect(tenantId(id)).toBe(id as TenantId);
  });

  test("refuses anything else with a typed error that does not echo the value", () => {
    for (const bad of [
      "",
      "Acme",
      "-acme",
      "_a",
      "a/b",
      "a:b",
      "a.b",
      "a#b",
      "a b",
      "é",
      "x".repeat(MAX_TENANT_ID_LENGTH + 1),
      7,
      null,
      undefined,
    ]) {
      let thrown: unknown;
      try {
        tenantId(bad);
      } catch (error) {
        thrown = error;
      }
      expect((thrown as { code?: string }).code).toBe(TenancyErrorCode.InvalidTenant);
      if (typeof bad === "string" && bad.length > 0) expect((thrown as Error).message).not.toContain(bad);
    }
  });

  test("tenantIdentifier maps distinct tenants to distinct SQL names", () => {
    // Tenant ids of a and hyphens half the time, so that pairs differ by little (a-a, a--a, aa, a-):
    // random text is a tenant id too rarely (both of a pair in about 1 run of 200) to check anything.
    // tenantId() throws on anything else, so a generator gone wrong fails the test rather than skipping.
    const tenant = fc
      .oneof(fc.stringMatching(/^a[a-]{0,4}$/), fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,47}$/))
      .map((t) => tenantId(t));
    fc.assert(
      fc.property(tenant, tenant, (x, y) => {
        if (x !== y) expect(tenantIdentifier(x)).not.toBe(tenantIdentifier(y));
        expect(tenantIdentifier(x)).toMatch(/^[a-z0-9_]+$/);
      }),
      { numRuns: 1000 },
    );
    expect(tenantIdentifier(tenantId("acme-eu-1"))).toBe("acme_eu_1");
  });

  test("property: an accepted id is short and made only of safe characters", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80, unit: "binary" }), (value) => {
        expect(isTenantId(value)).toBe(
          value.length >= 1 && value.length <= MAX_TENANT_ID_LENGTH && /^[a-z0-9][a-z0-9-]*$/.test(value),
        );
      }),
      { numRuns: 2000 },
    );
  });
});

describe("tenancy()", () => {
  test("makes each tenant's stores once, wraps the event store, and caches the scope", async () => {
    let made = 0;
    const tenants = tenancy({
      stores: () => {
        made++;
        return { eventStore: new InMemoryEventStore() };
      },
    });
    const [one, again] = await Promise.all([tenants.forTenant("acme"), tenants.forTenant("acme")]);
    expect(one).toBe(again);
    expect(made).toBe(1);
    expect(one.stores.eventStore).toBeInstanceOf(TenantEventStore);
    expect(one.tenant).toBe("acme" as TenantId);
  });

  test("stamps the tenant into every event over what the caller wrote", async () => {
    const tenants = tenancy({ stores: () => ({ eventStore: new InMemoryEventStore() }) });
    const { stores } = await tenants.forTenant("acme");
    const { events } = await stores.eventStore.appendToStream(
      "Cart-1",
      [
        { type: "A", data: {}, metadata: { tenantId: "other", kept: 1 } },
        { type: "B", data: {} },
      ],
      { metadata: { tenantId: "other" } },
    );
    expect(events.map((e) => e.metadata[TENANT_METADATA_KEY])).toEqual(["acme", "acme"]);
    expect(events[0]?.metadata.kept).toBe(1);
    const inner = stores.eventStore.inner;
    expect((await collect(inner.readAll())).map((e) => e.metadata[TENANT_METADATA_KEY])).toEqual(["acme", "acme"]);
  });

  test("events whose reading throws (a getter, a Proxy trap) are refused with the wrapped store's ValidationError, quoting nothing, costing no quota", async () => {
    const quota = new QuotaCounter("acme", { windowMs: 60_000, eventsPerWindow: 2 }, () => 0);
    const store = new TenantEventStore(tenantId("acme"), new InMemoryEventStore(), quota);
    const boom = (): never => {
      throw new TypeError("secret-in-a-thrown-error");
    };
    const fine = { type: "Fine", data: {} };
    const batches: [string, unknown][] = [
      [
        "a type getter",
        [
          {
            data: {},
            get type() {
              return boom();
            },
          },
        ],
      ],
      [
        "a metadata getter",
        [
          {
            type: "Bad",
            data: {},
            get metadata() {
              return boom();
            },
          },
        ],
      ],
      ["an event Proxy", [fine, new Proxy({ type: "Bad", data: {} }, { has: boom, get: boom })]],
      ["an array Proxy", new Proxy([fine], { get: boom })],
    ];
    for (const [label, batch] of batches) {
      const error = await store.appendToStream("Cart-1", batch as never).then(
        () => undefined,
        (thrown: unknown) => thrown as Error,
      );
      expect({ label, name: error?.name, code: (error as { code?: unknown })?.code }).toEqual({
        label,
        name: "ValidationError",
        code: ErrorCode.Validation,
      });
      expect(JSON.stringify({ ...error, message: error?.message })).not.toContain("secret");
    }
    expect(await store.streamExists("Cart-1")).toBe(false);
    // The refusals gave back what they took: two events still fit the window of two.
    await store.appendToStream("Cart-2", [fine, fine]);
  });

  test("read options that are not an object are refused as the wrapped store refuses them, not read as none", async () => {
    const store = new TenantEventStore(tenantId("acme"), new InMemoryEventStore());
    await store.appendToStream("Cart-1", [{ type: "A", data: {} }]);
    for (const options of [3, "all", true]) {
      // Refused when called or when read: either way, as a rejection here.
      const reads = [
        async () => collect(store.readStream("Cart-1", options as never)),
        async () => collect(store.readAll(options as never)),
        async () => collect(store.readFeed(options as never)),
      ];
      for (const read of reads) await expect(read()).rejects.toMatchObject({ code: ErrorCode.Validation });
    }
  });

  test("property: metadata the wrapped store refuses is refused through the tenant's store too, nothing written", async () => {
    const tenants = tenancy({ stores: () => ({ eventStore: new InMemoryEventStore() }) });
    const { stores } = await tenants.forTenant("acme");
    const plain = new InMemoryEventStore();
    const outcome = (append: Promise<unknown>) =>
      append.then(
        () => "written",
        (error: { code?: string }) => error.code,
      );
    const metadata = fc.oneof(
      fc.anything(),
      fc.constantFrom("abc", [1, 2], null, 5, new Map([["a", 1]]), new Date(0), new (class Meta {})()),
    );
    await fc.assert(
      fc.asyncProperty(metadata, async (value) => {
        const streamId = `Cart-${crypto.randomUUID()}`;
        const event = { type: "A", data: {}, metadata: value as never };
        const expected = await outcome(plain.appendToStream(streamId, [event]));
        expect(await outcome(stores.eventStore.appendToStream(streamId, [event]))).toBe(expected);
        // Either way, what the tenant's store holds is the tenant's: its reads never refuse it.
        const read = await collect(stores.eventStore.readStream(streamId));
        expect(read.length).toBe(expected === "written" ? 1 : 0);
      }),
      { numRuns: 200 },
    );
  });

  test("deletes, restores and truncates through the wrapped store, the lifecycle events stamped so the tenant's feed still reads", async () => {
    const tenants = tenancy({ stores: () => ({ eventStore: new InMemoryEventStore() }) });
    const { stores } = await tenants.forTenant("acme");
    const store = stores.eventStore;
    await store.appendToStream(
      "Cart-1",
      [1, 2, 3].map((n) => ({ type: "Added", data: { n } })),
    );
    await store.appendToStream("Cart-2", [{ type: "Added", data: { n: 4 } }]);
    expect((await store.truncateStream("Cart-1", { before: 3, metadata: { reason: "retention" } })).changed).toBe(true);
    expect((await store.deleteStream("Cart-2")).changed).toBe(true);
    expect((await store.restoreStream("Cart-2")).changed).toBe(true);
    expect((await store.deleteStream("Cart-2", { mode: "hard" })).changed).toBe(true);
    // Unstamped, these `$streams` events would make the tenant's own feed throw TenantIsolationError.
    const feed = await collect(store.readAll());
    const lifecycle = feed.filter((e) => e.streamId === "$streams");
    expect(lifecycle.map((e) => e.type)).toEqual([
      "$stream-truncated",
      "$stream-deleted",
      "$stream-restored",
      "$stream-deleted",
    ]);
    expect(lifecycle.every((e) => e.metadata[TENANT_METADATA_KEY] === "acme")).toBe(true);
    expect(lifecycle[0]?.metadata.reason).toBe("retention");
    expect((await collect(store.readStream("Cart-1"))).map((e) => e.version)).toEqual([3]);
    await expect(store.deleteStream("Cart-1", { metadata: [] as never })).rejects.toMatchObject({
      code: ErrorCode.Validation,
    });
  });

  test("defence in depth: a store shared by mistake refuses the other tenant's events and probes, returning none of them", async () => {
    const shared = new InMemoryEventStore();
    const tenants = tenancy({ stores: () => ({ eventStore: shared }) });
    const acme = await tenants.forTenant("acme");
    const globex = await tenants.forTenant("globex");
    await globex.stores.eventStore.appendToStream("Cart-1", [{ type: "Secret", data: { card: "4111" } }]);
    await shared.appendToStream("Cart-2", [{ type: "Untagged", data: {} }]);
    for (const read of [
      () => collect(acme.stores.eventStore.readStream("Cart-1")),
      () => collect(acme.stores.eventStore.readStream("Cart-2", { raw: true })),
      () => collect(acme.stores.eventStore.readAll()),
      () => collect(acme.stores.eventStore.readFeed()),
      // The probes too: another tenant's stream's version or existence, the shared feed's head.
      () => acme.stores.eventStore.getStreamVersion("Cart-1"),
      () => acme.stores.eventStore.streamExists("Cart-1"),
      () => acme.stores.eventStore.getStreamVersion("Cart-2"),
      () => acme.stores.eventStore.getLastGlobalPosition(),
      () => acme.stores.eventStore.getHeadPosition(),
    ]) {
      let seen: unknown;
      const error = await read().then(
        (events) => {
          seen = events;
        },
        (e: unknown) => e,
      );
      expect(seen).toBeUndefined();
      expect((error as { code?: string }).code).toBe(TenancyErrorCode.Isolation);
      expect((error as Error).message).not.toContain("globex");
    }
    const handled: unknown[] = [];
    const failures: [unknown, unknown][] = [];
    const subscription = acme.stores.eventStore.subscribeToAll({
      handler: (event) => {
        handled.push(event);
      },
      onError: (error, event) => failures.push([error, event]),
      retryDelayMs: 5,
    });
    while (failures.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await subscription.stop();
    expect(handled).toEqual([]);
    expect(failures[0]?.[0]).toMatchObject({ code: TenancyErrorCode.Isolation });
    // onError is the tenant's own code: it is not handed the other tenant's event.
    expect(failures.every(([, event]) => event === undefined)).toBe(true);
  });

  test("defence in depth: the tenant is checked on the event as stored, before upcasting: the other tenant's event never reaches an upcaster (nor its error), and the tenant's own split events read with the splitter's metadata", async () => {
    const seen: unknown[] = [];
    const eventRegistry = new EventRegistry()
      .upcast("Secret", 1, (data: unknown) => {
        seen.push(data);
        throw new Error(`cannot upcast ${JSON.stringify(data)}`);
      })
      .split("Opened", 1, () => [{ type: "Opened", data: { split: true }, metadata: { note: "split" } }]);
    const shared = new InMemoryEventStore({ eventRegistry });
    const tenants = tenancy({ stores: () => ({ eventStore: shared }) });
    const acme = (await tenants.forTenant("acme")).stores.eventStore;
    const globex = (await tenants.forTenant("globex")).stores.eventStore;
    await acme.appendToStream("Cart-a", [{ type: "Opened", data: {}, metadata: { schemaVersion: 1 } }]);
    await globex.appendToStream("Cart-g", [{ type: "Secret", data: { card: "4111" }, metadata: { schemaVersion: 1 } }]);
    // The splitter's metadata (no tenantId) replaces the stored event's: the tenant's own event still reads.
    const own = await collect(acme.readStream("Cart-a"));
    expect(own.map((event) => [event.type, event.data, event.metadata.note])).toEqual([
      ["Opened", { split: true }, "split"],
    ]);
    for (const read of [
      () => collect(acme.readStream("Cart-g")),
      () => collect(acme.readAll()),
      () => collect(acme.readFeed({ after: 1 })),
    ]) {
      const error = await read().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: TenancyErrorCode.Isolation });
      expect(`${(error as Error).message} ${String((error as Error).cause)}`).not.toMatch(/Cart-g|4111|Secret/);
    }
    expect(seen).toEqual([]);
  });

  test("defence in depth: an append with the caller's own event ids that meets the other tenant's stored events is refused: neither those events (a retry's answer) nor that the ids are stored", async () => {
    const { acme, globex } = await sharedByMistake();
    const id = ulid();
    const placed = { id, type: "Placed", data: { card: "4111" } };
    await globex.appendToStream("Cart-1", [{ ...placed, metadata: { userId: "globex-user" } }]);
    for (const [events, options] of [
      // The same events again: a retry, which the store answers with the stored events.
      [[placed], { expectedVersion: 0 }],
      [[placed], {}],
      // The same id with other data: a changed retry, which the store refuses naming the id.
      [[{ ...placed, data: {} }], { expectedVersion: 0 }],
    ] as const) {
      const error = await acme.appendToStream("Cart-1", events, options).then(
        (result) => result,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: TenancyErrorCode.Isolation });
      expect(JSON.stringify(error)).not.toMatch(/globex|4111/);
    }
    // A's own retry still answers with A's stored events, and A's own changed retry with the store's error.
    const mine = { id: ulid(), type: "Mine", data: { n: 1 } };
    await acme.appendToStream("Cart-2", [mine]);
    const retried = await acme.appendToStream("Cart-2", [mine], { expectedVersion: 0 });
    expect([retried.retried, retried.events.map((event) => event.id)]).toEqual([true, [mine.id]]);
    await expect(acme.appendToStream("Cart-2", [{ ...mine, data: {} }], { expectedVersion: 0 })).rejects.toMatchObject({
      code: ErrorCode.Validation,
    });
    expect((await collect(globex.readStream("Cart-1"))).map((event) => event.id)).toEqual([id]);
  });

  test("defence in depth: a stream the other tenant starts between a deletion's probe (it never was) and the deletion is refused, not deleted", async () => {
    /** Runs `meanwhile` once, right after the probe's last question (the stream's deletion record). */
    let meanwhile: (() => Promise<unknown>) | undefined;
    class Interleaved extends InMemoryEventStore {
      override async streamDeletionEvent(streamId: string) {
        const answer = await super.streamDeletionEvent(streamId);
        const step = meanwhile;
        meanwhile = undefined;
        await step?.();
        return answer;
      }
    }
    const shared = new Interleaved();
    const acme = new TenantEventStore(tenantId("acme"), shared);
    const globex = new TenantEventStore(tenantId("globex"), shared);
    const calls = [
      (id: string) => acme.deleteStream(id, { mode: "hard" }),
      (id: string) => acme.deleteStream(id, { expectedVersion: "any" }),
      (id: string) => acme.truncateStream(id, { before: 2, expectedVersion: 2 }),
      (id: string) => acme.restoreStream(id),
    ];
    for (const [i, call] of calls.entries()) {
      const id = `Order-${i}`;
      meanwhile = () =>
        globex.appendToStream(id, [
          { type: "Placed", data: { secret: i } },
          { type: "Paid", data: {} },
        ]);
      await expect(call(id)).rejects.toMatchObject({ code: TenancyErrorCode.Isolation });
      expect((await collect(globex.readStream(id))).map((event) => event.type)).toEqual(["Placed", "Paid"]);
    }
    // A stream that still never was answers as before: not found, and a bad expected version is refused first.
    await expect(acme.deleteStream("Order-none", { expectedVersion: 5 })).rejects.toMatchObject({
      code: ErrorCode.StreamNotFound,
    });
    await expect(acme.deleteStream("Order-none", { expectedVersion: "soon" as never })).rejects.toMatchObject({
      code: ErrorCode.Validation,
    });
  });

  test("defence in depth: on a store shared by mistake, deleting, truncating or restoring the other tenant's stream is refused and changes nothing", async () => {
    const { acme, globex } = await sharedByMistake();
    await globex.appendToStream("Cart-1", [
      { type: "Added", data: {} },
      { type: "Added", data: {} },
    ]);
    for (const change of [
      () => acme.deleteStream("Cart-1"),
      () => acme.deleteStream("Cart-1", { mode: "hard" }),
      () => acme.truncateStream("Cart-1", { before: 2 }),
      () => acme.restoreStream("Cart-1"),
    ]) {
      const error = await change().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((error as { code?: string }).code).toBe(TenancyErrorCode.Isolation);
    }
    expect((await collect(globex.readStream("Cart-1"))).length).toBe(2);
    // The tenant's own streams still change as before.
    await acme.appendToStream("Cart-2", [{ type: "Added", data: {} }]);
    expect((await acme.deleteStream("Cart-2")).changed).toBe(true);
    expect((await acme.restoreStream("Cart-2")).changed).toBe(true);
  });

  test("defence in depth: on a store shared by mistake, watchAppends wakes a tenant for its own commits only, not when another tenant appends", async () => {
    const { shared, acme, globex } = await sharedByMistake();
    const woken: string[] = [];
    const stopAcme = acme.watchAppends(() => woken.push("acme"));
    const stopGlobex = globex.watchAppends(() => woken.push("globex"));
    await globex.appendToStream("Cart-1", [{ type: "Added", data: {} }]);
    await shared.appendToStream("Cart-2", [{ type: "Untagged", data: {} }]);
    await globex.deleteStream("Cart-1");
    expect(woken).toEqual(["globex", "globex"]);
    await acme.appendToStream("Cart-3", [{ type: "Added", data: {} }]);
    await acme.deleteStream("Cart-3");
    expect(woken).toEqual(["globex", "globex", "acme", "acme"]);
    stopAcme();
    await acme.appendToStream("Cart-4", [{ type: "Added", data: {} }]);
    expect(woken).toHaveLength(4);
    stopGlobex();
  });

  test("defence in depth: the other tenant's soft-deleted stream (no event left to read) is refused too: not restored, not hard-deleted, its version and existence not told", async () => {
    const { shared, acme, globex } = await sharedByMistake();
    await globex.appendToStream("Cart-1", [{ type: "Added", data: {} }]);
    expect((await globex.deleteStream("Cart-1")).changed).toBe(true);
    // Hidden through the unscoped store: nobody's stamp records who hid it.
    await shared.appendToStream("Cart-9", [{ type: "Added", data: {}, metadata: { tenantId: "acme" } }]);
    await shared.deleteStream("Cart-9");
    for (const stream of ["Cart-1", "Cart-9"]) {
      for (const call of [
        () => acme.restoreStream(stream),
        () => acme.deleteStream(stream, { mode: "hard" }),
        () => acme.deleteStream(stream),
        () => acme.truncateStream(stream, { before: 1 }),
        () => acme.getStreamVersion(stream),
        () => acme.streamExists(stream),
      ]) {
        const error = await call().then(
          (answer) => answer,
          (e: unknown) => e,
        );
        expect((error as { code?: string }).code).toBe(TenancyErrorCode.Isolation);
      }
    }
    // Still globex's, still deleted: globex restores it and reads its event.
    expect((await collect(shared.readAll())).some((e) => e.type === "$stream-restored")).toBe(false);
    expect((await globex.restoreStream("Cart-1")).changed).toBe(true);
    expect((await collect(globex.readStream("Cart-1"))).length).toBe(1);
    // The tenant's own soft-deleted stream: its version is told, and it is restored.
    await acme.appendToStream("Cart-2", [{ type: "Added", data: {} }]);
    await acme.deleteStream("Cart-2");
    await globex.appendToStream("Cart-3", [{ type: "Added", data: {} }]);
    await globex.deleteStream("Cart-3");
    expect(await acme.getStreamVersion("Cart-2")).toBe(1);
    expect((await acme.restoreStream("Cart-2")).changed).toBe(true);
    // A stream that never was, or was hard-deleted, has nothing to reach.
    expect(await acme.getStreamVersion("Cart-404")).toBe(0);
  });

  test("defence in depth: the other tenant's hard-deleted stream is refused to deletions too, which would tell that it was, its version and how it ended; probes answer as for a stream that never was", async () => {
    const { shared, acme, globex } = await sharedByMistake();
    await globex.appendToStream("Cart-1", [
      { type: "Added", data: {} },
      { type: "Added", data: {} },
    ]);
    expect((await globex.deleteStream("Cart-1", { mode: "hard" })).changed).toBe(true);
    // Hard-deleted around the tenancy layer: nobody's stamp on its $stream-deleted event.
    await shared.appendToStream("Cart-9", [{ type: "Added", data: {}, metadata: { tenantId: "acme" } }]);
    await shared.deleteStream("Cart-9", { mode: "hard" });
    const outcome = (call: () => Promise<unknown>) =>
      call().then(
        (answer) => answer,
        (e: unknown) => (e as { code?: string }).code,
      );
    for (const stream of ["Cart-1", "Cart-9"]) {
      for (const call of [
        () => acme.deleteStream(stream),
        () => acme.deleteStream(stream, { mode: "hard" }),
        () => acme.restoreStream(stream),
        () => acme.truncateStream(stream, { before: 1 }),
      ]) {
        expect(await outcome(call)).toBe(TenancyErrorCode.Isolation);
      }
      // A stream that never was answers the same to these two.
      expect(await acme.getStreamVersion(stream)).toBe(0);
      expect(await acme.streamExists(stream)).toBe(false);
    }
    // A stream that never was: the deletions say so, as before.
    for (const call of [() => acme.deleteStream("Cart-404"), () => acme.restoreStream("Cart-404")]) {
      expect(await outcome(call)).toBe(ErrorCode.StreamNotFound);
    }
    // The tenant's own hard-deleted stream answers as it did.
    await acme.appendToStream("Cart-2", [{ type: "Added", data: {} }]);
    expect((await acme.deleteStream("Cart-2", { mode: "hard" })).changed).toBe(true);
    expect(await acme.deleteStream("Cart-2", { mode: "hard" })).toMatchObject({ changed: false, version: 1 });
    expect(await outcome(() => acme.restoreStream("Cart-2"))).toBe(ErrorCode.StreamDeleted);
  });

  test("the deletions' probe of a stream that shows no event (never was, soft- or hard-deleted long ago) reads no event of $streams: its cost does not grow with the store's history", async () => {
    const shared = new InMemoryEventStore();
    let lifecycleRead = 0;
    const read = shared.readStream.bind(shared);
    shared.readStream = ((streamId: string, options?: object) => {
      const events = read(streamId, options);
      if (streamId !== "$streams") return events;
      return (async function* () {
        for await (const event of events) {
          lifecycleRead++;
          yield event;
        }
      })();
    }) as typeof shared.readStream;
    const reads = await probeDeletedStreams(shared, 150, () => lifecycleRead);
    expect(reads).toBe(0);
  });

  test("defence in depth, model-based: no sequence of one tenant's appends (at an expected version too), probes, reads, deletions, restores and truncations on a store shared by mistake answers otherwise than on a store of its own, but for refusals (fast-check)", async () => {
    await assertSharedStoreMatchesModel(async () => new InMemoryEventStore(), 1000);
  });

  test("a subscription through another wrapper's reads neither handles nor reports the other tenant's event", async () => {
    // A wrapped store that overrides the public reads takes the checking handler, not the core's read check.
    class Wrapped extends InMemoryEventStore {
      override readAll<E extends EventEnvelope = EventEnvelope>(options = {}) {
        return super.readAll<E>(options);
      }
    }
    const shared = new Wrapped();
    const tenants = tenancy({ stores: () => ({ eventStore: shared }) });
    const acme = await tenants.forTenant("acme");
    const globex = await tenants.forTenant("globex");
    await globex.stores.eventStore.appendToStream("Secret-1", [{ type: "Secret", data: { card: "4111" } }]);
    const lines: unknown[] = [];
    const noop = () => undefined;
    setLogger({ debug: noop, info: noop, warn: noop, error: (message, fields) => void lines.push([message, fields]) });
    try {
      for (const onError of [undefined, (error: unknown, event: unknown) => lines.push([error, event])]) {
        const handled: unknown[] = [];
        const subscription = acme.stores.eventStore.subscribeToAll({
          handler: (event) => {
            handled.push(event);
          },
          ...(onError === undefined ? {} : { onError }),
          retryDelayMs: 5,
        });
        const before = lines.length;
        while (lines.length === before) await new Promise((resolve) => setTimeout(resolve, 5));
        await subscription.stop();
        expect(handled).toEqual([]);
      }
    } finally {
      setLogger(undefined);
    }
    for (const bad of [null, {}]) {
      expect(() => acme.stores.eventStore.subscribeToAll(bad as never)).toThrow(
        expect.objectContaining({ code: ErrorCode.Validation }),
      );
    }
    const text = JSON.stringify(lines, (_key, value) => (value instanceof Error ? value.message : value));
    expect(text).toContain("was refused an event of another tenant");
    for (const leaked of ["Secret-1", "Secret", "4111", "globex"]) expect(text).not.toContain(leaked);
  });

  test("refuses invalid and unknown tenants with typed errors, making no stores", async () => {
    let made = 0;
    const tenants = tenancy({
      stores: () => {
        made++;
        return { eventStore: new InMemoryEventStore() };
      },
      knows: (tenant) => tenant !== "gone",
    });
    await expect(tenants.forTenant("Not Valid")).rejects.toMatchObject({ code: TenancyErrorCode.InvalidTenant });
    await expect(tenants.forTenant("gone")).rejects.toMatchObject({ code: TenancyErrorCode.UnknownTenant });
    expect(made).toBe(0);
    expect(tenants.size).toBe(0);
  });

  test("keeps at most maxTenants, closing the least recently used tenant's stores once", async () => {
    const closed: string[] = [];
    const tenants = tenancy({
      maxTenants: 2,
      stores: (tenant) => {
        const eventStore = Object.assign(new InMemoryEventStore(), {
          close: async () => void closed.push(`${tenant}:events`),
        });
        return { eventStore, cache: { close: async () => void closed.push(`${tenant}:cache`) } };
      },
    });
    const first = await tenants.forTenant("a");
    await tenants.forTenant("b");
    await tenants.forTenant("a"); // a is now the most recent: b goes next
    await tenants.forTenant("c");
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(closed.sort()).toEqual(["b:cache", "b:events"]);
    expect(tenants.size).toBe(2);
    expect(await tenants.forTenant("a")).toBe(first);
    await tenants.close();
    expect(closed.sort()).toEqual(["a:cache", "a:events", "b:cache", "b:events", "c:cache", "c:events"]);
    expect(tenants.size).toBe(0);
  });

  test("a factory that fails is not cached", async () => {
    let calls = 0;
    const tenants = tenancy({
      stores: () => {
        calls++;
        if (calls === 1) throw new Error("database down");
        return { eventStore: new InMemoryEventStore() };
      },
    });
    await expect(tenants.forTenant("acme")).rejects.toThrow("database down");
    await tenants.forTenant("acme");
    expect(calls).toBe(2);
  });

  test("a tenant refused (unknown, a factory or quotas that fail) takes no place in the cache: it evicts no served tenant", async () => {
    const closed: string[] = [];
    const tenants = tenancy({
      maxTenants: 1,
      knows: (tenant) => tenant !== "gone",
      quotas: (tenant) => (tenant === "bad-quotas" ? { eventsPerWindow: 0 } : undefined),
      stores: (tenant) => {
        if (tenant === "down") throw new Error("database down");
        return { eventStore: new InMemoryEventStore(), pool: { close: async () => void closed.push(tenant) } };
      },
    });
    const served = await tenants.forTenant("acme");
    await expect(tenants.forTenant("gone")).rejects.toMatchObject({ code: TenancyErrorCode.UnknownTenant });
    await expect(tenants.forTenant("down")).rejects.toThrow("database down");
    await expect(tenants.forTenant("bad-quotas")).rejects.toMatchObject({ code: ErrorCode.Validation });
    expect(tenants.size).toBe(1);
    expect(await tenants.forTenant("acme")).toBe(served);
    await tenants.close();
    expect(closed).toEqual(["acme"]);
  });

  test("a scope still being made is not evicted when another is made: its caller never gets closed stores", async () => {
    const closed: string[] = [];
    const release = new Map<string, () => void>();
    const tenants = tenancy({
      maxTenants: 1,
      stores: async (tenant) => {
        // Only a tenant's first scope waits to be released: one made again is made at once.
        if (!release.has(tenant)) await new Promise<void>((resolve) => release.set(tenant, resolve));
        return { eventStore: new InMemoryEventStore(), pool: { close: async () => void closed.push(tenant) } };
      },
    });
    const acme = tenants.forTenant("acme");
    const globex = tenants.forTenant("globex");
    // Both factories are waiting for their release (set as forTenant calls them): neither scope is made yet.
    expect([...release.keys()]).toEqual(["acme", "globex"]);
    release.get("acme")?.();
    await acme;
    expect(closed).toEqual([]);
    release.get("globex")?.();
    const globexScope = await globex;
    // globex made last: acme, the least recently used made scope, goes; globex stays cached.
    expect(await tenants.forTenant("globex")).toBe(globexScope);
    expect(tenants.size).toBe(1);
    await tenants.close();
    expect(closed.sort()).toEqual(["acme", "globex"]);
  });

  test("services or quotas that fail leave no stores open: the stores made are closed, invalid quotas make none", async () => {
    const closed: string[] = [];
    const made: string[] = [];
    let servicesFail = true;
    const tenants = tenancy({
      stores: (tenant) => {
        made.push(tenant);
        return { eventStore: new InMemoryEventStore(), pool: { close: async () => void closed.push(tenant) } };
      },
      services: () => {
        if (servicesFail) throw new Error("services down");
        return {};
      },
      quotas: (tenant) => (tenant === "bad-quotas" ? { eventsPerWindow: 0 } : undefined),
    });
    await expect(tenants.forTenant("acme")).rejects.toThrow("services down");
    expect(closed).toEqual(["acme"]);
    expect(tenants.size).toBe(0);
    servicesFail = false;
    await tenants.forTenant("acme");
    expect(closed).toEqual(["acme"]);
    await expect(tenants.forTenant("bad-quotas")).rejects.toMatchObject({ code: ErrorCode.Validation });
    expect(made).toEqual(["acme", "acme"]);
    // evict is asynchronous for every input: an invalid id rejects, as forTenant's does.
    let evicted: Promise<void> | undefined;
    expect(() => {
      evicted = tenants.evict("Not Valid");
    }).not.toThrow();
    await expect(evicted).rejects.toMatchObject({ code: TenancyErrorCode.InvalidTenant });
  });

  test("options that are not what they must be are refused with a ValidationError when tenancy() is called, not a TypeError at the first request", async () => {
    const stores = () => ({ eventStore: new InMemoryEventStore() });
    const refused = (options: unknown, path: (string | number)[]) => {
      expect(() => tenancy(options as never)).toThrow(
        expect.objectContaining({
          code: ErrorCode.Validation,
          issues: expect.arrayContaining([expect.objectContaining({ path })]),
        }),
      );
    };
    refused(undefined, []);
    refused({}, ["stores"]);
    refused({ stores: "events" }, ["stores"]);
    refused({ stores, services: {} }, ["services"]);
    refused({ stores, knows: true }, ["knows"]);
    refused({ stores, maxTenants: 0 }, ["maxTenants"]);
    // Quotas that are not an object of limits would otherwise mean no limits at all (a number) or a TypeError (null).
    refused({ stores, quotas: null }, ["quotas"]);
    refused({ stores, quotas: 100 }, ["quotas"]);
    refused({ stores, quotas: { appendsPerWindow: -1 } }, ["quotas", "appendsPerWindow"]);
    // A misspelt limit would be no limit.
    refused({ stores, quotas: { appendsPerMinute: 100 } }, ["quotas", "appendsPerMinute"]);
    // A quota function's answer is checked per tenant, before the factory runs.
    let made = 0;
    const perTenant = tenancy({
      stores: () => {
        made++;
        return { eventStore: new InMemoryEventStore() };
      },
      quotas: (tenant) =>
        tenant === "acme"
          ? (null as never)
          : tenant === "initech"
            ? ({ eventPerAppend: 5 } as never)
            : tenant === "hooli"
              ? (Promise.resolve({ eventsPerAppend: 5 }) as never)
              : ("1000" as never),
    });
    for (const tenant of ["acme", "globex", "initech", "hooli"]) {
      await expect(perTenant.forTenant(tenant)).rejects.toMatchObject({ code: ErrorCode.Validation });
    }
    expect(made).toBe(0);
  });

  test("a factory that gives no event store is refused with a ValidationError, not cached, and what it made is closed", async () => {
    const closed: string[] = [];
    const pool = { close: async () => void closed.push("pool") };
    for (const made of [undefined, null, { pool }, { eventStore: {}, pool }, { eventStore: "events", pool }]) {
      const tenants = tenancy({ stores: () => made as never });
      await expect(tenants.forTenant("acme")).rejects.toMatchObject({
        name: "ValidationError",
        code: ErrorCode.Validation,
      });
      expect(tenants.size).toBe(0);
    }
    expect(closed).toEqual(["pool", "pool", "pool"]);
  });

  test("a projection runs per tenant over that tenant's stores only (services)", async () => {
    const tenants = tenancy({
      stores: () => ({ eventStore: new InMemoryEventStore(), readModels: new InMemoryReadModelStore() }),
      services: ({ stores }) => ({
        runner: new ProjectionRunner({
          projection: projection({
            name: "carts",
            handle: async (event, { readModels }) => {
              const seen = (await readModels.get<{ count: number }>("carts", event.streamId))?.count ?? 0;
              await readModels.put("carts", event.streamId, { count: seen + 1, tenant: event.metadata.tenantId });
            },
          }),
          eventStore: stores.eventStore,
          readModels: stores.readModels,
        }),
      }),
    });
    const acme = await tenants.forTenant("acme");
    const globex = await tenants.forTenant("globex");
    await acme.stores.eventStore.appendToStream("Cart-1", [{ type: "Added", data: {} }]);
    await globex.stores.eventStore.appendToStream("Cart-1", [
      { type: "Added", data: {} },
      { type: "Added", data: {} },
    ]);
    await acme.services.runner.catchUp();
    await globex.services.runner.catchUp();
    expect(await acme.stores.readModels.get("carts", "Cart-1")).toEqual({ count: 1, tenant: "acme" });
    expect(await globex.stores.readModels.get("carts", "Cart-1")).toEqual({ count: 2, tenant: "globex" });
  });
});

describe("quotas", () => {
  test("refuse appends over a window's appends or events, or one append's events, writing nothing", async () => {
    const tenants = tenancy({
      stores: () => ({ eventStore: new InMemoryEventStore() }),
      quotas: (tenant) =>
        tenant === "free" ? { appendsPerWindow: 2, eventsPerWindow: 3, eventsPerAppend: 2 } : undefined,
    });
    const free = (await tenants.forTenant("free")).stores.eventStore;
    const one = { type: "A", data: {} };
    await expect(free.appendToStream("S-1", [one, one, one])).rejects.toMatchObject({
      code: TenancyErrorCode.QuotaExceeded,
      limit: "eventsPerAppend",
      retryAfterMs: 0,
    });
    await free.appendToStream("S-1", [one, one]);
    const over = await free.appendToStream("S-1", [one, one]).catch((e: unknown) => e);
    expect(over).toMatchObject({ code: TenancyErrorCode.QuotaExceeded, limit: "eventsPerWindow" });
    expect((over as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(0);
    await free.appendToStream("S-1", [one]);
    await expect(free.appendToStream("S-1", [one])).rejects.toMatchObject({ limit: "appendsPerWindow" });
    expect(await free.getStreamVersion("S-1")).toBe(3);
    const paid = (await tenants.forTenant("paid")).stores.eventStore;
    await paid.appendToStream("S-1", [one, one, one, one]);
  });

  test("an append of more events than a whole window allows is refused with no retry time: no wait fixes it", async () => {
    let now = 1_000;
    const counter = new QuotaCounter("acme", { windowMs: 60_000, eventsPerWindow: 3 }, () => now);
    expect(() => counter.take(4)).toThrow(
      expect.objectContaining({ code: TenancyErrorCode.QuotaExceeded, limit: "eventsPerWindow", retryAfterMs: 0 }),
    );
    // Refused without counting: the window's three events are still there to take.
    counter.take(3);
    now = 2_000;
    expect(() => counter.take(1)).toThrow(expect.objectContaining({ retryAfterMs: 59_000 }));
    const tenants = tenancy({
      stores: () => ({ eventStore: new InMemoryEventStore() }),
      quotas: { eventsPerWindow: 2 },
    });
    const store = (await tenants.forTenant("acme")).stores.eventStore;
    const one = { type: "A", data: {} };
    const over = await store.appendToStream("S-1", [one, one, one]).catch((e: unknown) => e);
    expect(over).toMatchObject({ limit: "eventsPerWindow", max: 2, retryAfterMs: 0 });
    expect((over as Error).message).not.toContain("retry in");
    expect(await store.getStreamVersion("S-1")).toBe(0);
  });

  test("deletions, restores and truncations count as appends of their one lifecycle event: over the quota they are refused, changing nothing", async () => {
    const tenants = tenancy({
      stores: () => ({ eventStore: new InMemoryEventStore() }),
      quotas: { appendsPerWindow: 4, eventsPerWindow: 10 },
    });
    const store = (await tenants.forTenant("acme")).stores.eventStore;
    await store.appendToStream("S-1", [
      { type: "A", data: {} },
      { type: "B", data: {} },
    ]);
    await store.deleteStream("S-1");
    await store.restoreStream("S-1");
    await store.truncateStream("S-1", { before: 2 });
    for (const over of [
      () => store.deleteStream("S-1"),
      () => store.restoreStream("S-1"),
      () => store.truncateStream("S-1", { before: 3 }),
      () => store.deleteStream("S-1", { mode: "hard" }),
    ]) {
      await expect(over()).rejects.toMatchObject({ code: TenancyErrorCode.QuotaExceeded, limit: "appendsPerWindow" });
    }
    // Nothing changed: three lifecycle events, the stream live, truncated before 2.
    expect((await collect(store.readStream("$streams"))).map((event) => event.type)).toEqual([
      "$stream-deleted",
      "$stream-restored",
      "$stream-truncated",
    ]);
    expect((await collect(store.readStream("S-1"))).map((event) => event.type)).toEqual(["B"]);
  });

  test("options the store refuses (a misspelt key, a bad expected version, mode or before) cost no quota, for every method that counts", async () => {
    const N = 3;
    const one = { type: "A", data: {} };
    // Each method that counts against the quotas, with options the wrapped store refuses, and a good call.
    const methods: [
      string,
      (store: TenantEventStore, bad: unknown) => Promise<unknown>,
      (store: TenantEventStore) => Promise<unknown>,
    ][] = [
      [
        "appendToStream",
        (s, bad) => s.appendToStream("S-1", [one], bad as never),
        (s) => s.appendToStream("S-1", [one]),
      ],
      ["deleteStream", (s, bad) => s.deleteStream("S-1", bad as never), (s) => s.deleteStream("S-1")],
      ["restoreStream", (s, bad) => s.restoreStream("S-1", bad as never), (s) => s.restoreStream("S-1")],
      [
        "truncateStream",
        (s, bad) => s.truncateStream("S-1", { before: 2, ...(bad as object) }),
        (s) => s.truncateStream("S-1", { before: 2 }),
      ],
    ];
    const bads = [{ expectedVerison: 1 }, { expectedVersion: -5 }, { expectedVersion: "latest" }];
    const own: Record<string, unknown[]> = { deleteStream: [{ mode: "Hard" }], truncateStream: [{ before: 0 }] };
    for (const [name, bad, good] of methods) {
      for (const wrong of [...bads, ...(own[name] ?? [])]) {
        const tenants = tenancy({
          stores: () => ({ eventStore: new InMemoryEventStore() }),
          // The setup's appends (one, or two before a restore) and N more: N refusals charged would spend them all.
          quotas: { appendsPerWindow: N + (name === "restoreStream" ? 2 : 1) },
        });
        const store = (await tenants.forTenant("acme")).stores.eventStore as TenantEventStore;
        // The setup each good call needs (a stream to delete, a deleted one to restore, events to truncate).
        await store.appendToStream("S-1", [one, one]);
        if (name === "restoreStream") await store.deleteStream("S-1");
        for (let i = 0; i < N; i++) {
          const error = await bad(store, wrong).catch((e: unknown) => e);
          expect({ name, wrong, code: (error as { code?: string }).code }).toEqual({
            name,
            wrong,
            code: ErrorCode.Validation,
          });
        }
        // N refusals later, the window still has its N calls: one good call goes through.
        await good(store);
      }
    }
  });

  test("a call the store refuses as invalid (a bad stream id, event or metadata) costs no quota: what it took is given back", async () => {
    const N = 3;
    const one = { type: "A", data: {} };
    const calls: [string, (store: TenantEventStore) => Promise<unknown>][] = [
      ["append, bad stream id", (s) => s.appendToStream("", [one])],
      ["append, event without a type", (s) => s.appendToStream("S-1", [{ data: {} } as never])],
      ["append, data that is not JSON", (s) => s.appendToStream("S-1", [{ type: "A", data: { n: Number.NaN } }])],
      ["append, metadata that is a string", (s) => s.appendToStream("S-1", [{ ...one, metadata: "x" as never }])],
      ["deleteStream, bad stream id", (s) => s.deleteStream("\u0000")],
      ["restoreStream, bad stream id", (s) => s.restoreStream("")],
      ["deleteStream, metadata that is a string", (s) => s.deleteStream("S-1", { metadata: "x" as never })],
    ];
    for (const [name, invalid] of calls) {
      const tenants = tenancy({
        stores: () => ({ eventStore: new InMemoryEventStore() }),
        quotas: { appendsPerWindow: N + 1, eventsPerWindow: N + 2 },
      });
      const store = (await tenants.forTenant("acme")).stores.eventStore as TenantEventStore;
      await store.appendToStream("S-1", [one]);
      for (let i = 0; i < N + 2; i++) {
        const error = await invalid(store).catch((e: unknown) => e);
        expect({ name, code: (error as { code?: string }).code }).toEqual({ name, code: ErrorCode.Validation });
      }
      // More refusals than the window holds, and the window still has its N appends of one event each.
      for (let i = 0; i < N; i++) await store.appendToStream("S-1", [one]);
      const over = await store.appendToStream("S-1", [one]).catch((e: unknown) => e);
      expect({ name, code: (over as { code?: string }).code }).toEqual({ name, code: "TENANT_QUOTA_EXCEEDED" });
    }
  });

  test("giveBack uncounts an append in the window it was taken in, and nothing once that window has ended", () => {
    let now = 1_000;
    const counter = new QuotaCounter("acme", { windowMs: 100, appendsPerWindow: 2, eventsPerWindow: 10 }, () => now);
    const first = counter.take(5);
    counter.take(5);
    expect(() => counter.take(1)).toThrow(TenantQuotaExceededError);
    counter.giveBack(5, first);
    counter.take(5);
    // A new window: an append of the old one given back now must not make room beyond the new window's limits.
    const old = first;
    now = 1_200;
    counter.take(4);
    counter.giveBack(4, old);
    counter.take(6);
    expect(() => counter.take(1)).toThrow(TenantQuotaExceededError);
  });

  test("a window restarts once it has passed", () => {
    let now = 1_000;
    const counter = new QuotaCounter("acme", { windowMs: 100, appendsPerWindow: 1 }, () => now);
    counter.take(1);
    now = 1_050;
    expect(() => counter.take(1)).toThrow(expect.objectContaining({ retryAfterMs: 50 }));
    now = 1_100;
    counter.take(1);
  });

  test("invalid quotas are refused", () => {
    expect(() => new QuotaCounter("acme", { eventsPerWindow: 0 })).toThrow(
      expect.objectContaining({ code: ErrorCode.Validation }),
    );
  });
});

test("shared by mistake: one append of another tenant's on top of a stream does not let it delete, truncate or hide what lies under it", async () => {
  // The deletions checked the newest event alone: acme's, after its append, so acme's hard delete took
  // globex's events with it, its truncation removed them, its soft delete hid them (outside audit).
  const { acme, globex } = await sharedByMistake();
  for (const [name, change] of [
    ["hard delete", (id: string) => acme.deleteStream(id, { mode: "hard" })],
    ["truncation", (id: string) => acme.truncateStream(id, { before: 3 })],
    ["soft delete", (id: string) => acme.deleteStream(id)],
  ] as const) {
    const id = `Invoice-${ulid()}`;
    await globex.appendToStream(id, [
      { type: "Billed", data: { n: 1 } },
      { type: "Billed", data: { n: 2 } },
    ]);
    // Not probed: an append goes through without a read of the stream (a read per append).
    await acme.appendToStream(id, [{ type: "Noted", data: {} }]);
    const error = await change(id).catch((e: unknown) => e);
    expect({ name, code: (error as { code?: unknown }).code }).toEqual({ name, code: TenancyErrorCode.Isolation });
    const kept = await collect(globex.readStream(id, { maxCount: 2 }));
    expect({ name, kept: kept.map((event) => event.data) }).toEqual({ name, kept: [{ n: 1 }, { n: 2 }] });
  }
});
