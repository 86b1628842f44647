import type { CheckpointStore } from "../checkpoint/checkpoint-store.js";
import { ErrorCode } from "../errors.js";
import { EventStore } from "../event-store/event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { ulid } from "../ids.js";
import type { SnapshotStore } from "../snapshot/snapshot-store.js";
import { isTenantIsolationError } from "../tenancy/errors.js";
import { type TenantStores, tenancy } from "../tenancy/tenancy.js";
import { TENANT_METADATA_KEY, type TenantEventStore } from "../tenancy/tenant-event-store.js";
import type { TenantId } from "../tenancy/tenant-id.js";
import { assert, assertEqual, collect, eventually } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";
import { untilHeadReadable, untilReadable } from "./feed.js";

/** A tenant's stores as an isolation strategy makes them: an event store, and the others it isolates too. */
export interface IsolatedStores {
  readonly eventStore: EventStore;
  readonly snapshotStore?: SnapshotStore;
  readonly checkpointStore?: CheckpointStore;
}

export interface TenantIsolationContractOptions {
  /** Shown as the suite's name. */
  readonly name: string;
  /**
   * Makes one tenant's stores under the strategy tested (an instance, database, table, schema or key
   * prefix per tenant): what `tenancy({ stores })` would be given. An event store alone is enough.
   */
  readonly forTenant: (tenant: TenantId) => EventStore | IsolatedStores | Promise<EventStore | IsolatedStores>;
  /** Releases what a case's tenants used (tables, schemas, files), after the case. */
  readonly cleanup?: (tenants: readonly TenantId[]) => void | Promise<void>;
  /**
   * More stream ids for tenant A to try against tenant B's stream (`victim`): e.g. generated with
   * fast-check. Added to the suite's own crafted ids (B's id with separators, prefixes, encodings, very long).
   */
  readonly craftStreamIds?: (victim: { readonly tenant: TenantId; readonly streamId: string }) => readonly string[];
}

interface Pair {
  /** Tenant A, the attacker, and B, the victim; B's id starts with A's (a prefix collision waiting to happen). */
  readonly a: TenantId;
  readonly b: TenantId;
  readonly A: TenantStores & { readonly eventStore: TenantEventStore };
  readonly B: TenantStores & { readonly eventStore: TenantEventStore };
}

const event = (type: string, data: unknown = {}) => ({ type, data });

/**
 * Tenant A can never read, append to, subscribe to, replay, delete, truncate or restore tenant B's
 * streams (nor learn their versions, their existence, their deletions or B's head), nor load B's
 * snapshots and checkpoints, through a tenant's stores as `tenancy()` hands them out, whatever stream
 * ids and positions A crafts. Every isolation strategy runs it.
 */
export function tenantIsolationContract(options: TenantIsolationContractOptions): ContractSuite {
  checkContractOptions("tenantIsolationContract", options, {
    functions: ["forTenant"],
    optionalFunctions: ["cleanup", "craftStreamIds"],
  });
  const cases: ContractCase[] = [];
  const add = (name: string, run: (pair: Pair) => Promise<void>) =>
    cases.push({
      name,
      timeoutMs: 60_000,
      run: async () => {
        const a = `c${ulid().toLowerCase()}` as TenantId;
        const b = `${a}-1` as TenantId;
        const tenants = tenancy({
          stores: async (tenant) => {
            const made = await options.forTenant(tenant);
            return made instanceof EventStore ? { eventStore: made } : made;
          },
        });
        try {
          const [scopeA, scopeB] = [await tenants.forTenant(a), await tenants.forTenant(b)];
          await run({ a, b, A: scopeA.stores, B: scopeB.stores });
        } finally {
          await tenants.close();
          await options.cleanup?.([a, b]);
        }
      },
    });

  /** B's stream with two events; its id, and B's events as stored. */
  const victimStream = async (B: Pair["B"]) => {
    const streamId = `Order-${ulid()}`;
    const { events } = await B.eventStore.appendToStream(streamId, [event("Placed", { secret: "b" }), event("Paid")]);
    return { streamId, events };
  };

  const craftedIds = (b: TenantId, streamId: string, a: TenantId): string[] => {
    // What B's key could look like to a backend that prefixes: B = A + "-1", so A's stream "1-<id>"
    // is B's "<id>" under an "<tenant>-" prefix.
    const rest = b.slice(a.length + 1);
    const ids = [streamId, streamId.toLowerCase(), ` ${streamId}`, `${streamId} `, `${streamId}*`, `${streamId}%`];
    for (const sep of ["", "-", "_", ":", "/", "#", ".", "|", "\\", "%2F", "%3A", "%23"]) {
      ids.push(`${b}${sep}${streamId}`, `${rest}${sep}${streamId}`, `${b}${sep}`, `../${b}${sep}${streamId}`);
    }
    ids.push(
      encodeURIComponent(`${b}/${streamId}`),
      streamId.slice(0, -1),
      `${streamId}${"x".repeat(512 - streamId.length)}`,
    );
    ids.push(...(options.craftStreamIds?.({ tenant: b, streamId }) ?? []));
    return [...new Set(ids)];
  };

  /** What A sees of a stream id: nothing, or a refusal of the id itself (a ValidationError). */
  const seenBy = async (A: Pair["A"], streamId: string): Promise<{ events: EventEnvelope[]; version: number }> => {
    try {
      const events = [
        ...(await collect(A.eventStore.readStream(streamId))),
        ...(await collect(A.eventStore.readStream(streamId, { direction: "backward" }))),
      ];
      return { events, version: await A.eventStore.getStreamVersion(streamId) };
    } catch (error) {
      assertEqual((error as { code?: unknown }).code, ErrorCode.Validation, `A's read of ${JSON.stringify(streamId)}`);
      return { events: [], version: 0 };
    }
  };

  add("A cannot read B's stream, by its id or any crafted id", async ({ a, b, A, B }) => {
    const { streamId } = await victimStream(B);
    for (const id of craftedIds(b, streamId, a)) {
      const seen = await seenBy(A, id);
      assertEqual(seen.events.length, 0, `A read events of ${JSON.stringify(id.slice(0, 80))}`);
      assertEqual(seen.version, 0, `A saw a version of ${JSON.stringify(id.slice(0, 80))}`);
    }
    assertEqual(await A.eventStore.streamExists(streamId), false, "B's stream exists for A");
  });

  add(
    "A's probes (streamExists, getStreamVersion, getLastGlobalPosition, getHeadPosition) answer of A's streams and feed only",
    async ({ a, b, A, B }) => {
      const { streamId } = await victimStream(B);
      const heads = async () => [await A.eventStore.getLastGlobalPosition(), await A.eventStore.getHeadPosition()];
      assertEqual(await heads(), [0, 0], "A's head before A appended anything, B's feed holding events");
      for (const id of craftedIds(b, streamId, a)) {
        let exists = false;
        try {
          exists = await A.eventStore.streamExists(id);
        } catch (error) {
          assertEqual((error as { code?: unknown }).code, ErrorCode.Validation, `A's probe of ${JSON.stringify(id)}`);
        }
        assertEqual(exists, false, `B's stream ${JSON.stringify(id.slice(0, 80))} exists for A`);
      }
      const { events } = await A.eventStore.appendToStream(`Mine-${ulid()}`, [event("Mine")]);
      const mine = events[0]?.globalPosition ?? 0;
      // B appends after A: A's head stays at A's own last event. getLastGlobalPosition may stop
      // lower on PostgreSQL, below transactions still in flight on the server (another test's, say),
      // so it is held to A's event as a bound; getHeadPosition (committed) is exact.
      await victimStream(B);
      const [last, head] = await heads();
      assertEqual(head, mine, "A's head (getHeadPosition), B having appended after A");
      assert(
        (last as number) <= mine,
        `A's getLastGlobalPosition, B having appended after A: ${last}, past A's last event ${mine}`,
      );
      assertEqual(await A.eventStore.getStreamVersion(streamId), 0, "the version of B's stream for A");
    },
  );

  add("A's appends under B's stream ids never reach B's stream", async ({ a, b, A, B }) => {
    const { streamId, events } = await victimStream(B);
    // B's stream is at version 2: to A it is a stream that does not exist.
    let conflict: unknown;
    await A.eventStore.appendToStream(streamId, [event("Forged")], { expectedVersion: 2 }).catch((e) => {
      conflict = e;
    });
    assertEqual((conflict as { code?: unknown })?.code, ErrorCode.Concurrency, "A appending at B's version");
    for (const id of craftedIds(b, streamId, a).slice(0, 24)) {
      await A.eventStore.appendToStream(id, [event("Forged")], { expectedVersion: "no-stream" }).catch((error) => {
        assertEqual((error as { code?: unknown }).code, ErrorCode.Validation, `A's append to ${JSON.stringify(id)}`);
      });
    }
    const after = await collect(B.eventStore.readStream(streamId));
    assertEqual(
      after.map((e) => e.id),
      events.map((e) => e.id),
      "B's stream holds B's events only",
    );
    assertEqual(await B.eventStore.getStreamVersion(streamId), 2, "B's version");
    // A's appends readable first (on PostgreSQL readers stop below any transaction in flight on the
    // server): a feed that had not reached them yet would pass the check below whatever the store does.
    await untilHeadReadable(A.eventStore);
    await untilHeadReadable(B.eventStore);
    const feed = await collect(B.eventStore.readAll());
    assert(
      feed.every((e) => e.type !== "Forged"),
      "an event A appended is in B's feed",
    );
  });

  add(
    "A cannot delete, truncate or restore B's streams, nor learn of B's deletions; B's deletions and tombstones are not A's",
    async ({ a, b, A, B }) => {
      // A store without stream deletion refuses every such call for both tenants alike.
      if (B.eventStore.capabilities.streamDeletion !== true) return;
      const live = await victimStream(B);
      const soft = await victimStream(B);
      const hard = await victimStream(B);
      await B.eventStore.deleteStream(soft.streamId, { mode: "soft" });
      await B.eventStore.deleteStream(hard.streamId, { mode: "hard" });
      /** A's call answers as for a stream that never was (STREAM_NOT_FOUND), or refuses the id itself. */
      const neverWas = async (call: () => Promise<unknown>, what: string) => {
        let answer: unknown;
        const error = await call().then(
          (value) => {
            answer = value;
          },
          (e: unknown) => e,
        );
        const code = (error as { code?: unknown } | undefined)?.code;
        assert(
          code === ErrorCode.StreamNotFound || code === ErrorCode.Validation,
          `${what}: ${error === undefined ? `answered ${JSON.stringify(answer)}` : String(error)}`,
        );
      };
      for (const { streamId } of [soft, hard]) {
        const what = `A, of the id of B's deleted stream ${streamId}`;
        assertEqual(await A.eventStore.streamDeletionEvent(streamId), undefined, `${what}: streamDeletionEvent`);
        assertEqual(await A.eventStore.getStreamVersion(streamId), 0, `${what}: getStreamVersion`);
        assertEqual(await A.eventStore.streamExists(streamId), false, `${what}: streamExists`);
        await neverWas(() => A.eventStore.restoreStream(streamId), `${what}: restoreStream`);
        await neverWas(() => A.eventStore.deleteStream(streamId, { mode: "hard" }), `${what}: deleteStream`);
        // The id is free for A: B's deletion, or tombstone, is B's.
        const mine = await A.eventStore.appendToStream(streamId, [event("Mine")], { expectedVersion: "no-stream" });
        assertEqual(mine.nextExpectedVersion, 1, `${what}: A's append as to a new stream`);
      }
      for (const id of craftedIds(b, live.streamId, a).slice(0, 16)) {
        const what = `A, of ${JSON.stringify(id.slice(0, 80))}`;
        await neverWas(() => A.eventStore.deleteStream(id, { mode: "soft" }), `${what}: soft deleteStream`);
        await neverWas(() => A.eventStore.deleteStream(id, { mode: "hard" }), `${what}: hard deleteStream`);
        await neverWas(() => A.eventStore.truncateStream(id, { before: 2 }), `${what}: truncateStream`);
        await neverWas(() => A.eventStore.restoreStream(id), `${what}: restoreStream`);
      }
      // B's streams are as B left them.
      const ids = (events: readonly EventEnvelope[]) => events.map((e) => e.id);
      assertEqual(ids(await collect(B.eventStore.readStream(live.streamId))), ids(live.events), "B's live stream");
      assert((await B.eventStore.streamDeletionEvent(soft.streamId)) !== undefined, "B's soft deletion is recorded");
      assert((await B.eventStore.streamDeletionEvent(hard.streamId)) !== undefined, "B's hard deletion is recorded");
      assertEqual(
        (await B.eventStore.restoreStream(soft.streamId)).changed,
        true,
        "B restores its soft-deleted stream",
      );
      assertEqual(ids(await collect(B.eventStore.readStream(soft.streamId))), ids(soft.events), "B's restored stream");
      let retired: unknown;
      await B.eventStore.appendToStream(hard.streamId, [event("Again")]).catch((e: unknown) => {
        retired = e;
      });
      assertEqual((retired as { code?: unknown })?.code, ErrorCode.StreamDeleted, "B's hard-deleted id stays retired");
      // A's appends readable first, so that the check below cannot pass on a feed that lags them.
      await untilHeadReadable(A.eventStore);
      assert(
        (await collect(B.eventStore.readAll())).every((e) => e.metadata[TENANT_METADATA_KEY] === b),
        "B's feed holds an event of A",
      );
      assertEqual(
        (await collect(A.eventStore.readStream(soft.streamId))).map((e) => [e.type, e.metadata[TENANT_METADATA_KEY]]),
        [["Mine", a]],
        "A's stream under the id of B's restored one",
      );
    },
  );

  add(
    "a tenant id A writes into metadata is overwritten: the event is A's, B never sees it",
    async ({ a, b, A, B }) => {
      const streamId = `Spoof-${ulid()}`;
      await A.eventStore.appendToStream(
        streamId,
        [{ type: "Spoofed", data: {}, metadata: { [TENANT_METADATA_KEY]: b } }],
        {
          metadata: { [TENANT_METADATA_KEY]: b },
        },
      );
      const [stored] = await collect(A.eventStore.readStream(streamId));
      assertEqual(stored?.metadata[TENANT_METADATA_KEY], a, "the stored event's tenant");
      assertEqual((await collect(B.eventStore.readStream(streamId))).length, 0, "B reads A's stream");
      // A's event readable first, so that the check below cannot pass on a feed that lags it.
      await untilHeadReadable(A.eventStore);
      assert(
        (await collect(B.eventStore.readAll())).every((e) => e.type !== "Spoofed"),
        "B's feed holds A's event",
      );
    },
  );

  add("A's feed holds A's events only, from any position: B's, B's head, beyond", async ({ a, A, B }) => {
    await A.eventStore.appendToStream(`Mine-${ulid()}`, [event("MineFirst")]);
    const { events } = await victimStream(B);
    const second = await A.eventStore.appendToStream(`Mine-${ulid()}`, [event("MineSecond")]);
    // On PostgreSQL the feed's readers stop below any transaction in flight on the server (another
    // client's): wait until A's readers see its last event, so the reads below cannot pass on an empty feed.
    await untilReadable(A.eventStore, second);
    const positions = events.map((e) => e.globalPosition ?? 0);
    const head = await B.eventStore.getLastGlobalPosition();
    const afters = [0, ...positions, ...positions.map((p) => p - 1), head, head + 1, Number.MAX_SAFE_INTEGER];
    for (const after of afters) {
      const seen = await collect(A.eventStore.readAll({ after: Math.max(0, after) }));
      assert(
        seen.every((e) => e.metadata[TENANT_METADATA_KEY] === a && e.type.startsWith("Mine")),
        `A's readAll after ${after} returned another tenant's event`,
      );
    }
    const all = await collect(A.eventStore.readAll());
    assertEqual(
      all.map((e) => e.type),
      ["MineFirst", "MineSecond"],
      "A replays its own events, all of them",
    );
  });

  add("A's subscription and after-commit steps see A's events only, from any checkpoint", async ({ a, A, B }) => {
    const { events } = await victimStream(B);
    const seen: EventEnvelope[] = [];
    const stepSeen: EventEnvelope[] = [];
    const stopStep = A.eventStore.afterEachCommit(async (committed) => {
      stepSeen.push(...committed);
    });
    const from = Math.max(0, (events[0]?.globalPosition ?? 1) - 1);
    // A subscription refused another tenant's event retries that read for ever: the case fails on
    // the first refusal instead of waiting out its deadline for A's own event (20 s, for nothing).
    let refused: string | undefined;
    const subscription = A.eventStore.subscribeToAll({
      after: from,
      pollIntervalMs: 20,
      retryDelayMs: 20,
      handler: (e) => {
        seen.push(e);
      },
      onError: (error) => {
        if (isTenantIsolationError(error)) refused ??= error.message;
      },
    });
    try {
      await B.eventStore.appendToStream(`Order-${ulid()}`, [event("Later")]);
      await A.eventStore.appendToStream(`Mine-${ulid()}`, [event("Mine")]);
      await eventually(() => {
        if (refused !== undefined) return;
        assert(
          seen.some((e) => e.type === "Mine"),
          "A's own event reached its subscription",
        );
      }, 20_000);
    } finally {
      stopStep();
      await subscription.stop();
    }
    assert(refused === undefined, `A's subscription met another tenant's event: ${refused}`);
    assert(
      seen.every((e) => e.metadata[TENANT_METADATA_KEY] === a),
      "A's subscription handled another tenant's event",
    );
    assertEqual(
      stepSeen.map((e) => e.type),
      ["Mine"],
      "A's after-commit step saw only A's append",
    );
  });

  add("A's snapshots and checkpoints are not B's", async ({ A, B }) => {
    const streamId = `Order-${ulid()}`;
    if (A.snapshotStore !== undefined && B.snapshotStore !== undefined) {
      await B.snapshotStore.save({ streamId, version: 3, state: { secret: "b" } });
      assertEqual(await A.snapshotStore.load(streamId), undefined, "A loads B's snapshot");
    }
    if (A.checkpointStore !== undefined && B.checkpointStore !== undefined) {
      const id = `projection-${ulid()}`;
      await B.checkpointStore.store(id, 42);
      assertEqual(await A.checkpointStore.load(id), undefined, "A loads B's checkpoint");
    }
  });

  return { name: options.name, cases };
}
