import { ErrorCode } from "../errors.js";
import { InMemoryEventBus } from "../event-bus/in-memory-event-bus.js";
import type { EventStore, EventStoreOptions } from "../event-store/event-store.js";
import { applyRetention, retention } from "../event-store/retention.js";
import {
  isStreamLifecycleEvent,
  STREAM_LIFECYCLE_STREAM,
  type StreamChangeResult,
  type StreamLifecycleEvent,
} from "../event-store/stream-deletion.js";
import type { EventEnvelope, NewEvent } from "../events/envelope.js";
import { ulid } from "../ids.js";
import { assert, assertEqual, assertRejects, collect, eventually } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";
import { untilReadable } from "./feed.js";

export interface StreamDeletionContractOptions {
  /** Shown as the suite's name. */
  readonly name: string;
  /**
   * Makes a store; cases write only to streams of their own. `options.bus` must be passed through.
   * A store without `capabilities.streamDeletion` is checked to refuse every operation, typed.
   */
  readonly create: (options: EventStoreOptions) => EventStore | Promise<EventStore>;
  /** Releases a store made by `create`. */
  readonly dispose?: (store: EventStore) => void | Promise<void>;
}

/**
 * The behaviour of `deleteStream`, `restoreStream`, `truncateStream` and `applyRetention` every store
 * with `capabilities.streamDeletion` must have: what reads see, what appends get, the lifecycle
 * events in the feed, a feed that followers pass through whatever was removed, concurrent appends.
 */
export function streamDeletionContract(options: StreamDeletionContractOptions): ContractSuite {
  checkContractOptions("streamDeletionContract", options, { functions: ["create"], optionalFunctions: ["dispose"] });
  const cases: ContractCase[] = [];
  const add = (name: string, run: (store: EventStore, bus: InMemoryEventBus) => Promise<void>, withBus = false) =>
    cases.push({
      name,
      run: async () => {
        const bus = new InMemoryEventBus({ onError: () => undefined });
        const store = await options.create(withBus ? { bus } : {});
        try {
          // Without the capability every case checks the refusal instead: typed, and nothing changed.
          await (store.capabilities.streamDeletion === true ? run(store, bus) : refuses(store));
        } finally {
          await options.dispose?.(store);
        }
      },
    });
  const stream = (category = "Deletion") => `${category}_${ulid()}-${ulid()}`;
  const events = (count: number): NewEvent[] =>
    Array.from({ length: count }, (_, i) => ({ type: "Happened", data: { n: i + 1 } }));
  const versions = async (store: EventStore, id: string) => (await collect(store.readStream(id))).map((e) => e.version);
  /**
   * Waits until readers may see `position`: on PostgreSQL the feed shows a commit only once every older
   * transaction has ended, and other work on the database may hold one open for a while.
   */
  const visibleThrough = (store: EventStore, position: number | undefined) => untilReadable(store, position ?? 0);
  /** The events of `ids` in the feed after `after`, and the lifecycle events about them. */
  const feedOf = async (store: EventStore, after: number, ids: readonly string[]) => {
    const wanted = new Set(ids);
    const all = await collect(store.readAll({ after }));
    return {
      events: all.filter((e) => wanted.has(e.streamId)),
      lifecycle: all.filter((e): e is StreamLifecycleEvent => isStreamLifecycleEvent(e) && wanted.has(e.data.streamId)),
    };
  };

  add(
    "soft delete hides the stream from every read, refuses appends, records $stream-deleted; restore undoes it",
    async (store, bus) => {
      const published: EventEnvelope[] = [];
      bus.subscribe({ type: "$stream-deleted" }, async (event) => void published.push(event));
      const id = stream();
      const other = stream();
      const start = await store.getLastGlobalPosition();
      await store.appendToStream(id, events(3));
      await store.appendToStream(other, events(1));
      const deleted = await store.deleteStream(id, { expectedVersion: 3 });
      assertEqual([deleted.operation, deleted.changed, deleted.version, deleted.removed], ["soft-delete", true, 3, 0]);
      assertEqual(deleted.event?.type, "$stream-deleted", "the lifecycle event");
      assertEqual(deleted.event?.streamId, STREAM_LIFECYCLE_STREAM);
      assertEqual(deleted.event?.data, { streamId: id, mode: "soft", version: 3, removed: 0 });
      assertEqual(await versions(store, id), [], "readStream yields nothing");
      assertEqual(await collect(store.readStream(id, { direction: "backward" })), [], "nor backward");
      await visibleThrough(store, deleted.event?.globalPosition);
      const feed = await feedOf(store, start, [id, other]);
      assertEqual(
        feed.events.map((e) => e.streamId),
        [other],
        "readAll passes the soft-deleted stream by",
      );
      assertEqual(
        feed.lifecycle.map((e) => e.type),
        ["$stream-deleted"],
      );
      await assertRejects(
        () => store.appendToStream(id, events(1)),
        ErrorCode.StreamDeleted,
        "append to a soft-deleted stream",
      );
      await eventually(() => assertEqual(published.length, 1, "the lifecycle event is published"));
      const again = await store.deleteStream(id);
      assertEqual([again.changed, again.event], [false, undefined], "deleting again changes nothing");

      const restored = await store.restoreStream(id, { expectedVersion: 3 });
      assertEqual([restored.operation, restored.changed, restored.event?.type], ["restore", true, "$stream-restored"]);
      assertEqual(await versions(store, id), [1, 2, 3], "the events read again");
      const appended = await store.appendToStream(id, events(1), { expectedVersion: 3 });
      assertEqual(appended.nextExpectedVersion, 4, "appends continue the version");
      assertEqual((await store.restoreStream(id)).changed, false, "restoring a live stream changes nothing");
      await visibleThrough(store, appended.events[0]?.globalPosition);
      const after = await feedOf(store, start, [id]);
      assertEqual(
        after.events.map((e) => e.version),
        [1, 2, 3, 4],
        "the feed shows the stream again",
      );
    },
    true,
  );

  add("hard delete removes the events, retires the id, and is idempotent", async (store) => {
    const id = stream();
    // Ids a prefix match (LIKE id || '%') or a case-insensitive key would take for this one: never touched.
    const neighbours = [`${id}1`, `${id} `, id.toLowerCase()];
    for (const neighbour of neighbours) await store.appendToStream(neighbour, events(1));
    const start = await store.getLastGlobalPosition();
    await store.appendToStream(id, events(2));
    await store.appendToStream(id, events(3));
    const deleted = await store.deleteStream(id, { mode: "hard", expectedVersion: 5 });
    for (const neighbour of neighbours) {
      assertEqual(await versions(store, neighbour), [1], `${JSON.stringify(neighbour)} keeps its event`);
    }
    assertEqual([deleted.operation, deleted.changed, deleted.version, deleted.removed], ["hard-delete", true, 5, 5]);
    assertEqual(deleted.event?.data, { streamId: id, mode: "hard", version: 5, removed: 5 });
    assertEqual(await versions(store, id), []);
    assertEqual(await store.getStreamVersion(id), 0, "a hard-deleted stream has no events");
    await visibleThrough(store, deleted.event?.globalPosition);
    const feed = await feedOf(store, start, [id]);
    assertEqual(feed.events, [], "the feed holds none of its events");
    assertEqual(
      feed.lifecycle.map((e) => [e.type, e.data.mode]),
      [["$stream-deleted", "hard"]],
    );
    await assertRejects(
      () => store.appendToStream(id, events(1)),
      ErrorCode.StreamDeleted,
      "append after a hard delete",
    );
    await assertRejects(
      () => store.appendToStream(id, events(1), { expectedVersion: "no-stream" }),
      ErrorCode.StreamDeleted,
      "nor as a new stream",
    );
    await assertRejects(() => store.restoreStream(id), ErrorCode.StreamDeleted, "restore after a hard delete");
    await assertRejects(
      () => store.truncateStream(id, { before: 2 }),
      ErrorCode.StreamDeleted,
      "truncate after a hard delete",
    );
    const again = await store.deleteStream(id, { mode: "hard", expectedVersion: 5 });
    assertEqual([again.changed, again.removed, again.version], [false, 0, 5], "a retried hard delete changes nothing");
    assertEqual((await store.deleteStream(id)).changed, false, "a soft delete of it neither");
  });

  // An empty append writes nothing, but it is still an append: a caller that checks with one whether
  // it may write (or a command that produced no events) must hear what a non-empty one would.
  const expectations = [undefined, "any", "stream-exists", "no-stream", 0, 2, 7] as const;
  /** Every expectation: an empty append is refused with the StreamDeletedError a one-event append gets. */
  const refusedAlike = async (store: EventStore, id: string, mode: "soft" | "hard") => {
    for (const expectedVersion of expectations) {
      const options = expectedVersion === undefined ? undefined : { expectedVersion };
      const label = `${mode}-deleted, expectedVersion ${String(expectedVersion)}`;
      const full = await assertRejects(() => store.appendToStream(id, events(1), options), ErrorCode.StreamDeleted);
      const empty = await assertRejects(
        () => store.appendToStream(id, [], options),
        ErrorCode.StreamDeleted,
        `an empty append, ${label}`,
      );
      assertEqual(
        [(empty as { mode?: unknown }).mode, (empty as { streamId?: unknown }).streamId],
        [(full as { mode?: unknown }).mode, id],
        `the refusal a non-empty append gets, ${label}`,
      );
    }
  };

  add(
    "an empty append to a soft-deleted stream is refused as a non-empty one is, and writes nothing",
    async (store) => {
      const id = stream();
      await store.appendToStream(id, events(2));
      await store.deleteStream(id);
      const lifecycle = await store.getStreamVersion(STREAM_LIFECYCLE_STREAM);
      await refusedAlike(store, id, "soft");
      assertEqual(await store.getStreamVersion(id), 2, "the stream keeps its version");
      assertEqual(await store.getStreamVersion(STREAM_LIFECYCLE_STREAM), lifecycle, "no lifecycle event recorded");
      await store.restoreStream(id);
      assertEqual(await versions(store, id), [1, 2], "nothing was written to it");
      assertEqual(
        (await store.appendToStream(id, [], { expectedVersion: 2 })).nextExpectedVersion,
        2,
        "restored, an empty append answers its version",
      );
      await assertRejects(
        () => store.appendToStream(id, [], { expectedVersion: 5 }),
        ErrorCode.Concurrency,
        "and checks",
      );
    },
  );

  add("an empty append to a hard-deleted stream is refused, even as no-stream, and writes nothing", async (store) => {
    const id = stream();
    await store.appendToStream(id, events(2));
    await store.deleteStream(id, { mode: "hard" });
    const lifecycle = await store.getStreamVersion(STREAM_LIFECYCLE_STREAM);
    await refusedAlike(store, id, "hard");
    assertEqual(await store.getStreamVersion(id), 0, "the stream has no events");
    assertEqual(await versions(store, id), [], "nor reads any");
    assertEqual(await store.getStreamVersion(STREAM_LIFECYCLE_STREAM), lifecycle, "no lifecycle event recorded");
  });

  add("a soft-deleted stream can be hard-deleted", async (store) => {
    const id = stream();
    await store.appendToStream(id, events(2));
    await store.deleteStream(id);
    const hard = await store.deleteStream(id, { mode: "hard" });
    assertEqual([hard.changed, hard.removed], [true, 2]);
    await assertRejects(() => store.restoreStream(id), ErrorCode.StreamDeleted);
  });

  add("truncate removes events below a version; the stream keeps its version and later events", async (store) => {
    const id = stream();
    const start = await store.getLastGlobalPosition();
    await store.appendToStream(id, events(5));
    const cut = await store.truncateStream(id, { before: 3, expectedVersion: 5 });
    assertEqual([cut.operation, cut.changed, cut.version, cut.removed], ["truncate", true, 5, 2]);
    assertEqual(cut.event?.data, { streamId: id, version: 5, before: 3, removed: 2 });
    assertEqual(await versions(store, id), [3, 4, 5]);
    assertEqual(
      (await collect(store.readStream(id, { direction: "backward" }))).map((e) => e.version),
      [5, 4, 3],
    );
    assertEqual(
      (await collect(store.readStream(id, { fromVersion: 1, maxCount: 2 }))).map((e) => e.version),
      [3, 4],
      "maxCount counts stored events",
    );
    assertEqual(await store.getStreamVersion(id), 5, "the version stays");
    const appended = await store.appendToStream(id, events(1), { expectedVersion: 5 });
    assertEqual(appended.nextExpectedVersion, 6);
    await visibleThrough(store, appended.events[0]?.globalPosition);
    const feed = await feedOf(store, start, [id]);
    assertEqual(
      feed.events.map((e) => e.version),
      [3, 4, 5, 6],
    );
    assertEqual(
      feed.lifecycle.map((e) => e.type),
      ["$stream-truncated"],
    );
    assertEqual((await store.truncateStream(id, { before: 3 })).changed, false, "truncating again removes nothing");
    assertEqual((await store.truncateStream(id, { before: 1 })).changed, false, "before 1 removes nothing");
    assertEqual((await store.truncateStream(id, { before: 6 })).removed, 3, "up to the last event");
    assertEqual(await versions(store, id), [6]);
    await assertRejects(() => store.truncateStream(id, { before: 7 }), ErrorCode.Validation, "past the last event");
    await store.deleteStream(id);
    await assertRejects(() => store.truncateStream(id, { before: 6 }), ErrorCode.StreamDeleted, "a deleted stream");
  });

  add(
    "a retried append that a truncation or deletion overtook is refused typed, retried, or (all its events removed) a new append, alike on every store",
    async (store) => {
      const idempotent = store.capabilities.idempotentAppends;
      /** A stream of one batch (the append a retry repeats, at versions 1 and 2) and one event after it. */
      const written = async () => {
        const id = stream();
        const batch: NewEvent[] = [
          { id: ulid(), type: "Once", data: 1 },
          { id: ulid(), type: "Once", data: 2 },
        ];
        await store.appendToStream(id, batch, { expectedVersion: "no-stream" });
        await store.appendToStream(id, events(1), { expectedVersion: 2 });
        return { id, batch };
      };
      for (const expectedVersion of ["no-stream", 0, "any", "stream-exists"] as const) {
        const label = `a retry expecting ${JSON.stringify(expectedVersion)}`;
        // The version it names has passed; "any" and "stream-exists" name none.
        const exact = expectedVersion === "no-stream" || expectedVersion === 0;
        const retry = (id: string, batch: readonly NewEvent[]) => store.appendToStream(id, batch, { expectedVersion });

        const part = await written();
        await store.truncateStream(part.id, { before: 2 });
        if (idempotent || exact) {
          // One id stored, one not: no retry, and no second copy of the stored one.
          const code = idempotent ? ErrorCode.Validation : ErrorCode.Concurrency;
          await assertRejects(() => retry(part.id, part.batch), code, `${label}, half its events removed`);
          assertEqual(await versions(store, part.id), [2, 3], `${label}, half removed: nothing written`);
        } else {
          // Without idempotent appends a retry at "any" is never recognised: stored again, as documented.
          assertEqual((await retry(part.id, part.batch)).nextExpectedVersion, 5, `${label}, half removed`);
        }

        const all = await written();
        await store.truncateStream(all.id, { before: 3 });
        if (exact) {
          await assertRejects(() => retry(all.id, all.batch), ErrorCode.Concurrency, `${label}, all removed`);
          assertEqual(await versions(store, all.id), [3], `${label}, all removed: nothing written`);
        } else {
          // Their ids are stored no longer: a new append of them, after the stream's version.
          const again = await retry(all.id, all.batch);
          assertEqual([again.nextExpectedVersion, again.retried], [5, undefined], `${label}, all removed`);
          assertEqual(await versions(store, all.id), [3, 4, 5], `${label}, all removed: stored after the cut`);
        }

        for (const mode of ["soft", "hard"] as const) {
          const deleted = await written();
          await store.deleteStream(deleted.id, { mode });
          await assertRejects(
            () => retry(deleted.id, deleted.batch),
            ErrorCode.StreamDeleted,
            `${label}, the stream ${mode}-deleted`,
          );
        }
      }
      if (idempotent) {
        // A retry of only the events a truncation kept is still a retry: nothing written.
        const { id, batch } = await written();
        await store.truncateStream(id, { before: 2 });
        const kept = await store.appendToStream(id, batch.slice(1), { expectedVersion: "any" });
        assertEqual(
          [kept.retried, kept.events.map((e) => [e.id, e.version])],
          [true, [[batch[1]?.id, 2]]],
          "a retry of the kept events",
        );
        assertEqual(await versions(store, id), [2, 3], "the kept events' retry wrote nothing");
      }
    },
  );

  add("every operation checks the expected version and changes nothing on a conflict", async (store) => {
    const id = stream();
    await store.appendToStream(id, events(2));
    await assertRejects(() => store.deleteStream(id, { expectedVersion: 1 }), ErrorCode.Concurrency, "soft");
    await assertRejects(
      () => store.deleteStream(id, { mode: "hard", expectedVersion: "no-stream" }),
      ErrorCode.Concurrency,
    );
    await assertRejects(() => store.truncateStream(id, { before: 2, expectedVersion: 3 }), ErrorCode.Concurrency);
    assertEqual(await versions(store, id), [1, 2], "nothing changed");
    await store.deleteStream(id, { expectedVersion: "stream-exists" });
    await assertRejects(() => store.restoreStream(id, { expectedVersion: 1 }), ErrorCode.Concurrency, "restore");
    assertEqual(await versions(store, id), [], "still deleted");
  });

  add("bad input is refused with typed errors before anything changes", async (store) => {
    const id = stream();
    await store.appendToStream(id, events(2));
    for (const bad of ["", " ", 42, null, "a\u0000b"]) {
      await assertRejects(() => store.deleteStream(bad as string), ErrorCode.Validation, `stream id ${String(bad)}`);
    }
    await assertRejects(() => store.deleteStream(STREAM_LIFECYCLE_STREAM), ErrorCode.Validation, "the system stream");
    // Only the store writes lifecycle events: a forged $stream-deleted would make projections drop a live stream.
    const lifecycle = await store.getStreamVersion(STREAM_LIFECYCLE_STREAM);
    const forged = [{ type: "$stream-deleted", data: { streamId: id, mode: "hard", version: 2, removed: 2 } }];
    await assertRejects(
      () => store.appendToStream(STREAM_LIFECYCLE_STREAM, forged),
      ErrorCode.Validation,
      "an append to the system stream",
    );
    await assertRejects(() => store.appendToStream(STREAM_LIFECYCLE_STREAM, []), ErrorCode.Validation, "an empty one");
    assertEqual(await store.getStreamVersion(STREAM_LIFECYCLE_STREAM), lifecycle, "nothing appended to $streams");
    await assertRejects(() => store.deleteStream(id, { mode: "purge" as "hard" }), ErrorCode.Validation, "mode");
    // A key an operation does not take was dropped: `{ mdoe: "hard" }` soft-deleted the stream the caller meant to
    // erase, and a misspelt expected version changed the stream at any version.
    for (const [change, what] of [
      [() => store.deleteStream(id, { mdoe: "hard" } as never), "deleteStream with mdoe"],
      [() => store.deleteStream(id, "hard" as never), "deleteStream with options that are not an object"],
      [() => store.restoreStream(id, { expectedVerison: 2 } as never), "restoreStream with expectedVerison"],
      [
        () => store.truncateStream(id, { before: 2, expectedVerison: 2 } as never),
        "truncateStream with expectedVerison",
      ],
    ] as const) {
      await assertRejects(change, ErrorCode.Validation, what);
    }
    await assertRejects(
      () => store.deleteStream(id, { expectedVersion: -1 }),
      ErrorCode.Validation,
      "expected version",
    );
    for (const before of [0, -1, 1.5, "2", undefined, Number.NaN]) {
      await assertRejects(
        () => store.truncateStream(id, { before: before as number }),
        ErrorCode.Validation,
        `before ${String(before)}`,
      );
    }
    await assertRejects(() => store.truncateStream(id, undefined as never), ErrorCode.Validation, "no options");
    // Metadata no store can hold (U+0000: not in PostgreSQL's jsonb) is refused by every store, naming where only.
    for (const [metadata, path] of [
      [{ reason: "secret\u0000" }, ["metadata", "reason"]],
      [{ "secret\u0000": "x" }, ["metadata"]],
    ] as const) {
      for (const change of [
        () => store.deleteStream(id, { metadata }),
        () => store.deleteStream(id, { mode: "hard", metadata }),
        () => store.truncateStream(id, { before: 2, metadata }),
      ]) {
        const error = (await assertRejects(change, ErrorCode.Validation, "metadata with U+0000")) as Error & {
          issues?: readonly { path: readonly (string | number)[] }[];
        };
        assertEqual(
          error.issues?.map((issue) => issue.path),
          [path],
          "the issue's path",
        );
        assert(!`${error.message} ${JSON.stringify(error)}`.includes("secret"), "the text is not quoted");
      }
    }
    await assertRejects(() => store.deleteStream(stream()), ErrorCode.StreamNotFound, "a stream that never was");
    await assertRejects(() => store.restoreStream(stream()), ErrorCode.StreamNotFound);
    await assertRejects(() => store.truncateStream(stream(), { before: 1 }), ErrorCode.StreamNotFound);
    assertEqual(await versions(store, id), [1, 2], "nothing changed");
  });

  add(
    "each lifecycle event carries the metadata its call gave (who asked, why), as returned and as read from $streams; streamDeletionEvent names a deleted stream's",
    async (store) => {
      const id = stream();
      await store.appendToStream(id, events(3));
      assertEqual(await store.streamDeletionEvent(id), undefined, "a live stream has no deletion event");
      const changes = [
        await store.truncateStream(id, { before: 2, metadata: { reason: "retention", by: "ops" } }),
        await store.deleteStream(id, { metadata: { reason: "gdpr", tenantId: "acme" } }),
        await store.restoreStream(id, { metadata: { reason: "appeal" } }),
        await store.deleteStream(id, { mode: "hard", metadata: { reason: "erase", requestId: "r-1" } }),
      ];
      const given = [
        { reason: "retention", by: "ops" },
        { reason: "gdpr", tenantId: "acme" },
        { reason: "appeal" },
        { reason: "erase", requestId: "r-1" },
      ];
      const recorded = (await collect(store.readStream(STREAM_LIFECYCLE_STREAM))).filter(
        (e) => isStreamLifecycleEvent(e) && e.data.streamId === id,
      );
      for (const [i, metadata] of given.entries()) {
        assertEqual(changes[i]?.event?.metadata, metadata, `the metadata of change ${i + 1} as returned`);
        assertEqual(recorded[i]?.metadata, metadata, `the metadata of change ${i + 1} as read from $streams`);
      }
      const deletion = await store.streamDeletionEvent(id);
      assertEqual(deletion?.id, changes[3]?.event?.id, "the deletion event of the hard-deleted stream");
      assertEqual(deletion?.metadata, given[3], "its metadata");
      assertEqual(await store.streamDeletionEvent(stream()), undefined, "a stream that never was has none");
    },
  );

  add(
    "followers pass through hidden and removed events: a paged read and a subscription never stall",
    async (store) => {
      const hidden = stream();
      const removed = stream();
      const live = stream();
      const start = await store.getLastGlobalPosition();
      await store.appendToStream(hidden, events(25));
      await store.appendToStream(removed, events(25));
      await store.appendToStream(live, events(3));
      await store.deleteStream(hidden);
      const gone = await store.deleteStream(removed, { mode: "hard" });
      await visibleThrough(store, gone.event?.globalPosition);
      // A follower reading pages of 2 from `start`: every page but the last is full (hidden events do not
      // count), none holds an event of the deleted streams, and it reaches the live stream. Other writers
      // may add events of their own in between; they are read past like any other.
      const followed: EventEnvelope[] = [];
      let at = start;
      for (let pages = 0; followed.filter((e) => e.streamId === live).length < 3; pages++) {
        assert(pages < 200, "a follower reading pages of 2 reaches the live stream");
        const page = await collect(store.readAll({ after: at, maxCount: 2 }));
        assert(page.length > 0, `a page after ${at} is not empty while the live stream is ahead`);
        followed.push(...page);
        at = page[page.length - 1]?.globalPosition ?? at;
        if (followed.filter((e) => e.streamId === live).length < 3) assertEqual(page.length, 2, "a full page");
      }
      assert(
        !followed.some((e) => e.streamId === hidden || e.streamId === removed),
        "no event of the deleted streams is read",
      );
      assertEqual(
        followed.filter((e) => e.streamId === live).map((e) => e.version),
        [1, 2, 3],
      );
      const seen: EventEnvelope[] = [];
      const subscription = store.subscribeToAll({
        after: start,
        batchSize: 5,
        pollIntervalMs: 20,
        handler: async (event) => void seen.push(event),
      });
      try {
        await eventually(() => {
          assertEqual(
            seen.filter((e) => e.streamId === live).map((e) => e.version),
            [1, 2, 3],
            "the subscription reaches the live stream",
          );
          assertEqual(
            seen.filter((e) => isStreamLifecycleEvent(e) && [hidden, removed].includes(e.data.streamId)).length,
            2,
            "and both lifecycle events",
          );
        }, 10_000);
        assert(!seen.some((e) => e.streamId === hidden || e.streamId === removed), "nothing of the deleted streams");
      } finally {
        await subscription.stop();
      }
    },
  );

  add("a projection kept live across deletes equals one built from the feed afterwards", async (store) => {
    const category = `Projected_${ulid()}`;
    const ids = Array.from({ length: 4 }, () => `${category}-${ulid()}`);
    const start = await store.getLastGlobalPosition();
    // The last version and data per stream; a deleted stream's entry goes. (A model that depends only on the
    // events a truncation keeps rebuilds the same; one that counted every event ever seen could not.)
    const apply = (model: Map<string, number>, event: EventEnvelope) => {
      if (isStreamLifecycleEvent(event)) {
        if (event.type === "$stream-deleted" && event.data.streamId.startsWith(`${category}-`)) {
          model.delete(event.data.streamId);
        }
        return;
      }
      if (event.streamId.startsWith(`${category}-`)) model.set(event.streamId, event.version);
    };
    const live = new Map<string, number>();
    let position = start;
    const subscription = store.subscribeToAll({
      after: start,
      batchSize: 3,
      pollIntervalMs: 20,
      handler: async (event) => {
        apply(live, event);
        position = event.globalPosition ?? position;
      },
    });
    try {
      for (const id of ids) await store.appendToStream(id, events(4));
      await store.deleteStream(ids[0] as string, { mode: "hard" });
      await store.truncateStream(ids[1] as string, { before: 3 });
      await store.appendToStream(ids[2] as string, events(2));
      const last = (await store.deleteStream(ids[3] as string, { mode: "hard" })).event?.globalPosition ?? 0;
      await eventually(() => assert(position >= last, `the subscription reached ${last} (at ${position})`), 10_000);
    } finally {
      await subscription.stop();
    }
    const fresh = new Map<string, number>();
    for await (const event of store.readAll({ after: start })) apply(fresh, event);
    assertEqual([...live].sort(), [...fresh].sort(), "live and fresh models agree");
    assertEqual(
      [...fresh].sort(),
      [
        [ids[1], 4],
        [ids[2], 6],
      ].sort(),
    );
  });

  add("an append racing a hard delete either lands before it (and is removed) or is refused", async (store) => {
    const id = stream();
    await store.appendToStream(id, events(1));
    const appends = Array.from({ length: 6 }, () => store.appendToStream(id, events(1)).then(ok, fail));
    const deletion = store.deleteStream(id, { mode: "hard" });
    const outcomes = await Promise.all(appends);
    const result = await deletion;
    for (const outcome of outcomes) {
      assert(
        outcome === "ok" || outcome === ErrorCode.StreamDeleted || outcome === ErrorCode.Concurrency,
        `an append ends committed, refused or in conflict, got ${outcome}`,
      );
    }
    const committed = outcomes.filter((o) => o === "ok").length;
    assert(
      result.removed >= 1 + committed,
      `the delete removed every committed event (${result.removed}, ${committed})`,
    );
    assertEqual(await versions(store, id), [], "nothing of the stream reads");
    await assertRejects(() => store.appendToStream(id, events(1)), ErrorCode.StreamDeleted);
  });

  add("retention hard-deletes expired streams and truncates long ones, in the named categories only", async (store) => {
    const suffix = ulid();
    const expiring = `Expiring${suffix}-${ulid()}`;
    const long = `Long${suffix}-${ulid()}`;
    const other = `Other${suffix}-${ulid()}`;
    await store.appendToStream(expiring, events(2));
    await store.appendToStream(long, events(5));
    const written = await store.appendToStream(other, events(5));
    // Retention finds streams through the feed: wait until readers may see them.
    await visibleThrough(store, written.events[4]?.globalPosition);
    const policies = retention({ [`Expiring${suffix}`]: { maxAgeMs: 60_000 }, [`Long${suffix}`]: { keepLast: 2 } });
    const early = await applyRetention({ store, policies });
    assertEqual(early.deleted, [], "nothing has expired yet");
    assertEqual(
      early.truncated.map((r: StreamChangeResult) => [r.streamId, r.removed]),
      [[long, 3]],
    );
    const later = await applyRetention({ store, policies, now: new Date(Date.now() + 120_000) });
    assertEqual(
      later.deleted.map((r: StreamChangeResult) => [r.streamId, r.removed]),
      [[expiring, 2]],
    );
    assertEqual(later.truncated, [], "the long stream is within its limit now");
    assertEqual(await versions(store, long), [4, 5]);
    assertEqual(await versions(store, expiring), []);
    assertEqual(await versions(store, other), [1, 2, 3, 4, 5], "another category is never touched");
    const again = await applyRetention({ store, policies, now: new Date(Date.now() + 120_000) });
    assertEqual([again.deleted, again.truncated, again.skipped], [[], [], []], "a second run changes nothing");
  });

  return { name: options.name, cases };
}

/** A store without the capability: each operation throws STREAM_DELETION_NOT_SUPPORTED and the stream reads as before. */
async function refuses(store: EventStore): Promise<void> {
  const id = `Unsupported-${ulid()}`;
  await store.appendToStream(id, [{ type: "Kept", data: {} }]);
  const code = ErrorCode.StreamDeletionNotSupported;
  await assertRejects(() => store.deleteStream(id), code, "soft delete");
  await assertRejects(() => store.deleteStream(id, { mode: "hard" }), code, "hard delete");
  await assertRejects(() => store.restoreStream(id), code, "restore");
  await assertRejects(() => store.truncateStream(id, { before: 1 }), code, "truncate");
  assertEqual(
    (await collect(store.readStream(id))).map((e) => e.version),
    [1],
    "the stream is unchanged",
  );
}

const ok = () => "ok";
const fail = (error: unknown) => String((error as { code?: unknown })?.code ?? error);
