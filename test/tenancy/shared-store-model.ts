/**
 * A model-based property of a tenant's store over a store shared by mistake (no tests in this
 * file: the tenancy and SQLite tests run it on their stores). Two tenants, A and B (B's id starts
 * with A's), each append to streams of their own and probe, read, delete, restore and truncate any
 * stream, theirs or the other's, and append at an expected version to any stream (to the other's at
 * one its streams never reach: the refusal must not tell their version or deletion). The model of each tenant is the same tenant's store over a store
 * of its own, given the same calls: on the shared store every answer must be the model's, except
 * that a call on the other tenant's stream may be refused (TENANT_ISOLATION) instead of answering
 * as for a stream that never was, and a feed read may stop, refused, after a prefix of the model's
 * feed. So no sequence reveals another tenant's events, versions or existence, or changes them.
 */
import fc from "fast-check";
import { type EventStore, TenancyErrorCode, TenantEventStore, tenantId } from "../../src/index.js";
import { untilReadable } from "../../src/testing/index.js";

type Who = 0 | 1;
type StreamCall = "version" | "exists" | "read" | "readBackward" | "softDelete" | "hardDelete" | "restore";
type Call =
  | { readonly kind: "append"; readonly who: Who; readonly stream: number; readonly count: number }
  | { readonly kind: StreamCall; readonly who: Who; readonly owner: Who; readonly stream: number }
  | {
      readonly kind: "truncate";
      readonly who: Who;
      readonly owner: Who;
      readonly stream: number;
      readonly before: number;
    }
  | {
      readonly kind: "appendAt";
      readonly who: Who;
      readonly owner: Who;
      readonly stream: number;
      readonly expected: number;
    }
  | { readonly kind: "readAll"; readonly who: Who };

const TENANTS = ["acme", "acme-1"] as const;
const streamOf = (owner: Who, stream: number) => `${owner === 0 ? "A" : "B"}-${stream}`;

const who = fc.constantFrom<Who>(0, 1);
/** Two streams a tenant: the other tenant's calls meet the same few streams, deleted or not, often. */
const stream = fc.nat(1);
const weighted = <K extends string>(...kinds: readonly (readonly [K, number])[]) =>
  fc.oneof(...kinds.map(([kind, weight]) => ({ weight, arbitrary: fc.constant(kind) })));
const callArb: fc.Arbitrary<Call> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant("append" as const), who, stream, count: fc.integer({ min: 1, max: 3 }) }),
  },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: weighted<StreamCall>(
        ["version", 1],
        ["exists", 1],
        ["read", 1],
        ["readBackward", 1],
        ["softDelete", 2],
        ["hardDelete", 2],
        ["restore", 2],
      ),
      who,
      owner: who,
      stream,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("truncate" as const),
      who,
      owner: who,
      stream,
      before: fc.integer({ min: 1, max: 5 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("appendAt" as const),
      who,
      owner: who,
      stream,
      expected: fc.integer({ min: 0, max: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("readAll" as const), who }) },
);

/**
 * The expected version of an `appendAt` on the other tenant's stream: one it never reaches (an append
 * that went through would write into it: appends are not probed), so that it must fail as on a stream
 * that never was, at version 0, and tell nothing of the other tenant's.
 */
const FOREIGN_EXPECTED = 1_000_000;

/** What a call answered: its value, or its error's code and the events read before it. Positions and times differ between stores: left out. */
interface Outcome {
  readonly value?: unknown;
  readonly code?: string;
  readonly read: readonly string[];
}

async function outcome(store: EventStore, call: Call): Promise<Outcome> {
  const stream =
    call.kind === "append" ? streamOf(call.who, call.stream) : "owner" in call ? streamOf(call.owner, call.stream) : "";
  const read: string[] = [];
  const seen = (event: {
    streamId: string;
    version: number;
    type: string;
    data: unknown;
    metadata: Record<string, unknown>;
  }) => read.push(JSON.stringify([event.streamId, event.version, event.type, event.data, event.metadata.tenantId]));
  try {
    switch (call.kind) {
      case "append": {
        const events = Array.from({ length: call.count }, (_, i) => ({ type: "Noted", data: i }));
        return { value: (await store.appendToStream(stream, events)).nextExpectedVersion, read };
      }
      case "version":
        return { value: await store.getStreamVersion(stream), read };
      case "exists":
        return { value: await store.streamExists(stream), read };
      case "read":
        for await (const event of store.readStream(stream)) seen(event);
        return { read };
      case "readBackward":
        for await (const event of store.readStream(stream, { direction: "backward", maxCount: 2 })) seen(event);
        return { read };
      case "softDelete":
      case "hardDelete": {
        const changed = await store.deleteStream(stream, { mode: call.kind === "hardDelete" ? "hard" : "soft" });
        return { value: [changed.changed, changed.version, changed.removed], read };
      }
      case "restore": {
        const changed = await store.restoreStream(stream);
        return { value: [changed.changed, changed.version], read };
      }
      case "truncate": {
        const changed = await store.truncateStream(stream, { before: call.before });
        return { value: [changed.changed, changed.version, changed.removed], read };
      }
      case "appendAt": {
        const expectedVersion = call.owner === call.who ? call.expected : FOREIGN_EXPECTED + call.expected;
        const appended = await store.appendToStream(stream, [{ type: "Noted", data: "at" }], { expectedVersion });
        return { value: appended.nextExpectedVersion, read };
      }
      case "readAll":
        for await (const event of store.readAll()) seen(event);
        return { read };
    }
  } catch (error) {
    const { code, actualVersion } = error as { code?: string; actualVersion?: number };
    // A conflict's answer includes the version it found: the other tenant's must not show through.
    const actual = actualVersion === undefined ? {} : { actualVersion };
    return { code: code ?? `not an EventFlowsError: ${String(error)}`, ...actual, read };
  }
}

/**
 * Runs the property: `makeStore` makes an empty store (the shared one, and each tenant's model).
 * Throws, with the call that diverged, when the shared store's answer is not the model's.
 */
export async function assertSharedStoreMatchesModel(
  makeStore: () => Promise<EventStore>,
  numRuns: number,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(fc.array(callArb, { minLength: 1, maxLength: 40 }), async (calls) => {
      const shared = await makeStore();
      const scoped = TENANTS.map((tenant) => new TenantEventStore(tenantId(tenant), shared));
      const own = await Promise.all(TENANTS.map(() => makeStore()));
      const models = TENANTS.map((tenant, i) => new TenantEventStore(tenantId(tenant), own[i] as EventStore));
      for (const call of calls) {
        if (call.kind === "readAll") {
          // Both feeds show every committed event first: on PostgreSQL a transaction in flight anywhere on
          // the server (autovacuum's, another test's) hides those after it, and could hide the model's last
          // append but not the shared store's, which came just before it.
          for (const store of [shared, own[call.who] as EventStore]) {
            await untilReadable(store, await store.getHeadPosition());
          }
        }
        const got = await outcome(scoped[call.who] as TenantEventStore, call);
        const expected = await outcome(models[call.who] as TenantEventStore, call);
        const where = `${JSON.stringify(call)}: shared ${JSON.stringify(got)}, model ${JSON.stringify(expected)}`;
        if (call.kind === "readAll") {
          // One feed for both: a prefix of the tenant's own, then a refusal at the other's first event.
          const refused = got.code === TenancyErrorCode.Isolation;
          const prefix = JSON.stringify(expected.read.slice(0, got.read.length)) === JSON.stringify(got.read);
          if (!prefix || (!refused && (got.code !== undefined || got.read.length !== expected.read.length))) {
            throw new Error(where);
          }
          continue;
        }
        const foreign = "owner" in call && call.owner !== call.who;
        // Refused before anything of the other tenant's stream was returned.
        if (foreign && got.code === TenancyErrorCode.Isolation && got.read.length === 0) continue;
        if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(where);
      }
    }),
    { numRuns },
  );
}
