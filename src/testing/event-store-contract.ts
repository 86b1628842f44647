import { ErrorCode, ValidationError } from "../errors.js";
import { InMemoryEventBus } from "../event-bus/in-memory-event-bus.js";
import type { EventStore, EventStoreOptions } from "../event-store/event-store.js";
import type { AppendToStreamOptions, ExpectedVersion, ReadStreamOptions } from "../event-store/types.js";
import type { EventEnvelope, NewEvent } from "../events/envelope.js";
import { HEALTH_CHECK_STREAM } from "../health/health-check.js";
import { isUlid, ulid } from "../ids.js";
import { MAX_STREAM_ID_LENGTH } from "../internal/validate.js";
import { appendWithinLimit } from "./append-within-limit.js";
import { assert, assertEqual, assertRejects, collect, eventually } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";
import { runModelSequence } from "./event-store-model.js";
import { untilHeadReadable } from "./feed.js";
import { lookAlikeIds } from "./look-alike-ids.js";
import { writesDuring } from "./writes-during.js";

export interface EventStoreContractOptions {
  /** Shown as the suite's name. */
  readonly name: string;
  /**
   * Makes a store. Cases share whatever backend it uses: each case writes only to streams of its
   * own, so a store may be shared or fresh. `options.bus` must be passed through.
   */
  readonly create: (options: EventStoreOptions) => EventStore | Promise<EventStore>;
  /** Releases a store made by `create`. */
  readonly dispose?: (store: EventStore) => void | Promise<void>;
  /** Events in the "long stream" case; enough to cross the backend's page size. Defaults to 1,000. */
  readonly longStreamLength?: number;
  /**
   * Opens a commit and holds it: appends made through the returned {@link HeldCommit} take their
   * place in the store (a transaction, a reserved position) but stay invisible until `commit()`.
   * With it, the global-order cases hold a commit open below a position a reader has passed, as a
   * slow transaction does; stores whose appends cannot be held open (one atomic request each)
   * leave it out, and those cases run with concurrent writers instead. PostgreSQL's test fixture
   * implements it with `withTransaction`.
   */
  readonly holdCommit?: (store: EventStore) => Promise<HeldCommit>;
  /**
   * Metadata keys the store adds to every event it stores, by design: a tenant's store stamps
   * `tenantId`. The cases that compare an event's metadata with what was appended check that each is
   * there, then compare the rest exactly. Defaults to none: metadata read back is what was appended.
   */
  readonly addedMetadataKeys?: readonly string[];
}

/** A commit held open by {@link EventStoreContractOptions.holdCommit}. */
export interface HeldCommit {
  /** Appends inside the held commit; resolves once the append has run there (not committed). */
  append(streamId: string, events: readonly NewEvent[], options?: AppendToStreamOptions): Promise<void>;
  /** Commits what was appended; resolves once it is committed. */
  commit(): Promise<void>;
  /** Abandons the held commit if it has not committed (cleanup after a failed case); never throws. */
  abandon(): Promise<void>;
}

/** The behaviour every EventStore must have. Capability flags select cases; nothing is skipped silently. */
export function eventStoreContract(options: EventStoreContractOptions): ContractSuite {
  checkContractOptions("eventStoreContract", options, {
    functions: ["create"],
    optionalFunctions: ["dispose", "holdCommit"],
    values: ["longStreamLength", "addedMetadataKeys"],
  });
  const added = addedMetadataKeys(options.addedMetadataKeys);
  /** Metadata as read, without the keys the store adds (each checked to be there): what was appended. */
  const appendedPart = (metadata: EventEnvelope["metadata"], where: string): Record<string, unknown> => {
    const rest: Record<string, unknown> = { ...metadata };
    for (const key of added) {
      assert(Object.hasOwn(rest, key), `${where}: the metadata the store adds (${key}) is there`);
      delete rest[key];
    }
    return rest;
  };
  const cases: ContractCase[] = [];
  const add = (
    name: string,
    run: (store: EventStore, bus: InMemoryEventBus) => Promise<void>,
    withBus = false,
    timeoutMs?: number,
  ) =>
    cases.push({
      name,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      run: async () => {
        // Stores made with a bus get one whose failures are reported in the publish result only.
        const bus = new InMemoryEventBus({ onError: () => undefined });
        const store = await options.create(withBus ? { bus } : {});
        try {
          await run(store, bus);
        } finally {
          await options.dispose?.(store);
        }
      },
    });
  const stream = (label = "s") => `Contract_${label}-${ulid()}`;
  const events = (count: number, prefix = "Happened"): NewEvent[] =>
    Array.from({ length: count }, (_, i) => ({ type: `${prefix}${i % 3}`, data: { n: i + 1 } }));

  add("appends to a new stream: versions from 1, ULID ids, ISO timestamps", async (store) => {
    const id = stream();
    const result = await store.appendToStream(id, events(3), { expectedVersion: "no-stream" });
    assertEqual(result.nextExpectedVersion, 3, "nextExpectedVersion");
    assertEqual(result.streamId, id);
    assertEqual(
      result.events.map((e) => e.version),
      [1, 2, 3],
      "versions",
    );
    for (const event of result.events) {
      assert(isUlid(event.id), `id ${event.id} is a ULID`);
      assert(!Number.isNaN(Date.parse(event.timestamp)) && event.timestamp.endsWith("Z"), "timestamp is ISO UTC");
      assertEqual(event.streamId, id);
    }
    if (store.capabilities.globalOrder) assertIncreasing(result.events, 3, "positions");
  });

  add(
    "ping answers for health checks and creates nothing",
    async (store, bus) => {
      const published: string[] = [];
      bus.subscribeToAll((event) => void published.push(`${event.streamId} ${event.type}`));
      const writes = await writesDuring(store, EVENT_STORE_WRITES, async () => {
        assertEqual(await store.ping(), undefined, "ping resolves");
      });
      assertEqual(writes, [], "write methods ping called (a ping must only read)");
      assertEqual(published, [], "events ping appended and published (a ping must only read)");
      assertEqual(await store.streamExists(HEALTH_CHECK_STREAM), false, "no stream created");
    },
    true,
  );

  add("reads back exactly what was appended, ids and metadata included", async (store) => {
    const id = stream();
    const data = { text: "quotes ' \" ; -- ünïcødé 🚀", nested: { list: [1, 2.5, true, null, "x"] }, empty: {} };
    const eventId = ulid();
    const metadata = { correlationId: "corr-1", causationId: "cause-1", schemaVersion: 2, tenant: "acme" };
    await store.appendToStream(id, [{ id: eventId, type: "Typed.Event/v2", data, metadata }]);
    const [read] = await collect(store.readStream(id));
    assert(read !== undefined, "event read back");
    assertEqual(read.id, eventId, "id");
    assertEqual(read.type, "Typed.Event/v2", "type");
    assertEqual(read.data, data, "data");
    assertEqual(appendedPart(read.metadata, "metadata"), metadata, "metadata");
    assertEqual(read.version, 1, "version");
  });

  add("keeps an event's own timestamp (copies, imports), the append's time for the others", async (store) => {
    const id = stream();
    const before = Date.now();
    const result = await store.appendToStream(id, [
      { type: "Old", data: 1, timestamp: "2019-03-04T05:06:07.089Z" },
      { type: "Older", data: 2, timestamp: "2018-01-01T00:00:00+02:00" },
      { type: "Now", data: 3 },
    ]);
    const read = await collect(store.readStream(id));
    for (const events of [result.events, read]) {
      assertEqual(events[0]?.timestamp, "2019-03-04T05:06:07.089Z", "an own timestamp");
      assertEqual(events[1]?.timestamp, "2017-12-31T22:00:00.000Z", "an own timestamp, in UTC");
      assert(Date.parse(events[2]?.timestamp ?? "") >= before - 1000, "the append's time for an event without one");
    }
    await assertRejects(
      () => store.appendToStream(id, [{ type: "Bad", data: 1, timestamp: "yesterday" }]),
      ErrorCode.Validation,
      "a timestamp that is not ISO-8601 is refused",
    );
  });

  add("stores stream ids and types verbatim: quotes, semicolons, unicode", async (store) => {
    for (const id of [
      `Q'uote"-${ulid()}`,
      `Semi;colon; DROP TABLE x;--${ulid()}`,
      `Ünï-cødé-流-${ulid()}`,
      `sp ace-${ulid()}`,
    ]) {
      await store.appendToStream(id, [{ type: 'It\'s "odd"; ok', data: { id } }], { expectedVersion: "no-stream" });
      const read = await collect(store.readStream(id));
      assertEqual(read.length, 1, `one event in ${id}`);
      assertEqual(read[0]?.streamId, id, "stream id");
      assertEqual(read[0]?.type, 'It\'s "odd"; ok', "type");
      assertEqual(await store.getStreamVersion(id), 1, "version");
    }
  });

  add(
    "keeps stream ids at the length limit, 512 UTF-16 code units (of 3-byte characters, or emoji at 2 units each); refuses one unit more",
    async (store) => {
      const prefix = `Limit-${ulid()}-`;
      // The most UTF-8 bytes an id can take (3 per unit), and astral characters (2 units, 4 bytes each).
      const widest = prefix.padEnd(MAX_STREAM_ID_LENGTH, "流");
      const astral = `${prefix}${"😀".repeat((MAX_STREAM_ID_LENGTH - prefix.length) >> 1)}`.padEnd(
        MAX_STREAM_ID_LENGTH,
        "x",
      );
      for (const id of [widest, astral]) {
        await store.appendToStream(id, [{ type: "AtTheLimit", data: { units: id.length } }], {
          expectedVersion: "no-stream",
        });
        const read = await collect(store.readStream(id));
        assertEqual(
          read.map((e) => [e.streamId === id, e.type]),
          [[true, "AtTheLimit"]],
          `the ${id.length}-unit stream id reads back`,
        );
      }
      for (const id of [`${widest}流`, `${astral.slice(0, -1)}😀`]) {
        await assertRejects(() => store.appendToStream(id, events(1)), ErrorCode.Validation, `${id.length} units`);
        await assertRejects(async () => collect(store.readStream(id)), ErrorCode.Validation, "readStream");
      }
    },
  );

  add(
    "stream ids match exactly: case, trailing spaces, Unicode forms, prefixes and LIKE wildcards are other streams",
    async (store) => {
      const base = stream("Exact");
      const ids = [base, ...lookAlikeIds(base)];
      for (const id of ids) {
        await store.appendToStream(id, [{ type: "Exact", data: { id } }], { expectedVersion: "no-stream" });
      }
      // Every way of reading a stream: a store may run another query for each (backward, from a version).
      const reads: ReadStreamOptions[] = [
        {},
        { direction: "backward" },
        { fromVersion: 1 },
        { direction: "backward", fromVersion: 1, maxCount: 2 },
      ];
      for (const id of ids) {
        for (const read of reads) {
          const events = await collect(store.readStream(id, read));
          assertEqual(
            events.map((event) => [event.streamId, event.version, (event.data as { id: string }).id]),
            [[id, 1, id]],
            `${JSON.stringify(id)} holds its own event, read ${JSON.stringify(read)}`,
          );
        }
        assertEqual(await store.getStreamVersion(id), 1, `${JSON.stringify(id)} is at version 1`);
      }
    },
  );

  add("merges append-level metadata into each event; the event's own fields win", async (store) => {
    const id = stream();
    await store.appendToStream(
      id,
      [
        { type: "A", data: 1, metadata: { correlationId: "own" } },
        { type: "B", data: 2 },
      ],
      { metadata: { correlationId: "shared", userId: "u1" } },
    );
    const read = await collect(store.readStream(id));
    assertEqual(
      read.map((e) => appendedPart(e.metadata, e.type)),
      [
        { correlationId: "own", userId: "u1" },
        { correlationId: "shared", userId: "u1" },
      ],
    );
  });

  add(
    `generated appends and reads agree with a model of the contract (${MODEL_RUNS} seeded sequences of ${MODEL_STEPS} steps; the feed's order only with globalOrder)`,
    async (store) => {
      for (let seed = 1; seed <= MODEL_RUNS; seed++) {
        await runModelSequence(store, seed, { steps: MODEL_STEPS, appendedPart });
      }
    },
    false,
    120_000,
  );

  add("reads forward and backward, from a version, with a limit", async (store) => {
    const id = stream();
    await appendWithinLimit(store, id, events(10));
    const versions = async (o: Parameters<EventStore["readStream"]>[1]) =>
      (await collect(store.readStream(id, o))).map((e) => e.version);
    assertEqual(await versions({}), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], "forward");
    assertEqual(await versions({ direction: "backward" }), [10, 9, 8, 7, 6, 5, 4, 3, 2, 1], "backward");
    assertEqual(await versions({ fromVersion: 4, maxCount: 3 }), [4, 5, 6], "forward from 4, 3 events");
    assertEqual(await versions({ direction: "backward", fromVersion: 4 }), [4, 3, 2, 1], "backward from 4");
    assertEqual(await versions({ direction: "backward", maxCount: 2 }), [10, 9], "last two");
    assertEqual(await versions({ fromVersion: 11 }), [], "past the end");
    assertEqual(await versions({ direction: "backward", fromVersion: 50, maxCount: 1 }), [10], "backward past the end");
    assertEqual(await versions({ maxCount: 0 }), [], "maxCount 0");
  });

  add("a stream that does not exist reads as empty, version 0", async (store) => {
    const id = stream();
    assertEqual(await collect(store.readStream(id)), [], "no events");
    assertEqual(await collect(store.readStream(id, { direction: "backward" })), [], "no events backward");
    assertEqual(await store.streamExists(id), false, "streamExists");
    assertEqual(await store.getStreamVersion(id), 0, "version");
  });

  add("expected version: exact, no-stream, stream-exists, any", async (store) => {
    const id = stream();
    await assertRejects(
      () => store.appendToStream(id, events(1), { expectedVersion: "stream-exists" }),
      ErrorCode.Concurrency,
    );
    await assertRejects(() => store.appendToStream(id, events(1), { expectedVersion: 1 }), ErrorCode.Concurrency);
    await store.appendToStream(id, events(2), { expectedVersion: 0 });
    await store.appendToStream(id, events(1), { expectedVersion: 2 });
    await store.appendToStream(id, events(1), { expectedVersion: "stream-exists" });
    await store.appendToStream(id, events(1), { expectedVersion: "any" });
    await store.appendToStream(id, events(1));
    const error = (await assertRejects(
      () => store.appendToStream(id, events(2), { expectedVersion: 3 }),
      ErrorCode.Concurrency,
    )) as Error & { streamId?: string; expectedVersion?: unknown; actualVersion?: unknown };
    assertEqual(
      { streamId: error.streamId, expected: error.expectedVersion, actual: error.actualVersion },
      { streamId: id, expected: 3, actual: 6 },
      "ConcurrencyError fields",
    );
    await assertRejects(
      () => store.appendToStream(id, events(1), { expectedVersion: "no-stream" }),
      ErrorCode.Concurrency,
    );
    assertEqual(await store.getStreamVersion(id), 6, "failed appends wrote nothing");
  });

  add("concurrent appends at one expected version: exactly one wins", async (store) => {
    const id = stream();
    await store.appendToStream(id, events(1));
    const attempts = Array.from({ length: 8 }, (_, i) =>
      store.appendToStream(
        id,
        [
          { type: "Raced", data: { writer: i } },
          { type: "Raced", data: { writer: i } },
        ],
        {
          expectedVersion: 1,
        },
      ),
    );
    const settled = await Promise.allSettled(attempts);
    const won = settled.filter((s) => s.status === "fulfilled");
    assertEqual(won.length, 1, "winners");
    for (const s of settled) {
      if (s.status === "rejected")
        assertEqual((s.reason as { code?: string }).code, ErrorCode.Concurrency, "loser's error");
    }
    const read = await collect(store.readStream(id));
    assertEqual(
      read.map((e) => e.version),
      [1, 2, 3],
      "one batch stored",
    );
    const writerOf = (event: EventEnvelope | undefined) => (event?.data as { writer?: number } | undefined)?.writer;
    assertEqual(writerOf(read[1]), writerOf(read[2]), "batch kept together");
  });

  add("concurrent appends with expected versions and retry: every event once, versions contiguous", async (store) => {
    const id = stream();
    const writers = 4;
    const perWriter = 5;
    await Promise.all(
      Array.from({ length: writers }, async (_, writer) => {
        for (let n = 0; n < perWriter; n++) {
          for (let attempt = 0; ; attempt++) {
            const version = await store.getStreamVersion(id);
            try {
              await store.appendToStream(id, [{ type: "Counted", data: { writer, n } }], { expectedVersion: version });
              break;
            } catch (error) {
              if ((error as { code?: string }).code !== ErrorCode.Concurrency || attempt > 200) throw error;
            }
          }
        }
      }),
    );
    const read = await collect(store.readStream(id));
    assertEqual(
      read.map((e) => e.version),
      Array.from({ length: writers * perWriter }, (_, i) => i + 1),
      "contiguous versions",
    );
    const seen = new Set(read.map((e) => JSON.stringify(e.data)));
    assertEqual(seen.size, writers * perWriter, "each event exactly once");
  });

  add("an empty append writes nothing and returns the current version", async (store) => {
    const id = stream();
    const empty = await store.appendToStream(id, []);
    assertEqual(empty.nextExpectedVersion, 0, "empty stream");
    assertEqual(empty.events.length, 0);
    await store.appendToStream(id, events(2));
    assertEqual((await store.appendToStream(id, [], { expectedVersion: 2 })).nextExpectedVersion, 2, "existing stream");
    await assertRejects(
      () => store.appendToStream(id, [], { expectedVersion: 5 }),
      ErrorCode.Concurrency,
      "still checks",
    );
    assertEqual(await store.getStreamVersion(id), 2);
  });

  add("invalid stream ids are refused with a ValidationError; nothing is written", async (store) => {
    const bad: unknown[] = ["", "   ", "tab\there", "nul\u0000byte", "x".repeat(10_000), 42, null, undefined, {}];
    for (const id of bad) {
      await assertRejects(
        () => store.appendToStream(id as string, events(1)),
        ErrorCode.Validation,
        `stream id ${String(id).slice(0, 20)}`,
      );
      await assertRejects(async () => collect(store.readStream(id as string)), ErrorCode.Validation, "readStream");
    }
  });

  add("invalid expected versions are refused; nothing is written", async (store) => {
    const id = stream();
    for (const expectedVersion of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "latest", null, "1"]) {
      await assertRejects(
        () => store.appendToStream(id, events(1), { expectedVersion: expectedVersion as ExpectedVersion }),
        ErrorCode.Validation,
        `expectedVersion ${String(expectedVersion)}`,
      );
    }
    assertEqual(await store.streamExists(id), false, "nothing written");
  });

  add(
    "append options with a key it does not take, or that are no object, are refused; nothing is written",
    async (store) => {
      // A misspelt expectedVersion would otherwise append with no version check at all.
      const id = stream();
      await store.appendToStream(id, events(1));
      for (const options of [{ expectedVerison: 5 }, { expectedVersion: 1, meta: {} }, 5, "any", [1]]) {
        await assertRejects(
          () => store.appendToStream(id, events(1), options as never),
          ErrorCode.Validation,
          `append options ${JSON.stringify(options)}`,
        );
      }
      assertEqual(await store.getStreamVersion(id), 1, "nothing written");
    },
  );

  add("payloads that are not JSON are refused; the whole batch is not written", async (store) => {
    const id = stream();
    const circular: Record<string, unknown> = { a: 1 };
    circular.self = circular;
    const bad: unknown[] = [
      { big: 10n },
      circular,
      { fn: () => 1 },
      { when: new Date(0) },
      { n: Number.NaN },
      { map: new Map() },
      { sym: Symbol("x") },
    ];
    for (const data of bad) {
      await assertRejects(
        () =>
          store.appendToStream(id, [
            { type: "Fine", data: { ok: true } },
            { type: "Bad", data },
          ]),
        ErrorCode.Validation,
        "non-JSON payload",
      );
    }
    const badEvents: unknown[] = [
      [{ data: {} }],
      [{ type: "", data: {} }],
      [{ type: "NoData" }],
      [null],
      [{ type: "X", data: {}, id: "not-a-ulid" }],
      [{ type: "X", data: {}, metadata: "nope" }],
      [{ type: "X", data: {}, metadata: { correlationId: 5 } }],
      "not an array",
    ];
    for (const batch of badEvents) {
      await assertRejects(
        () => store.appendToStream(id, batch as NewEvent[]),
        ErrorCode.Validation,
        `events ${JSON.stringify(batch)}`,
      );
    }
    assertEqual(await store.streamExists(id), false, "nothing written");
  });

  add(
    "an events array with a hole (sparse: [, e]) is refused with a ValidationError naming its index; nothing is written",
    async (store) => {
      const id = stream();
      // The events at every index but `hole`, which is left empty.
      const withHole = (length: number, hole: number): NewEvent[] => {
        const filled = events(length);
        const batch: NewEvent[] = [];
        batch.length = length;
        for (let index = 0; index < length; index++) if (index !== hole) batch[index] = filled[index] as NewEvent;
        return batch;
      };
      for (const [length, hole] of [
        [2, 0],
        [3, 1],
        [3, 2],
      ] as const) {
        const error = (await assertRejects(
          () => store.appendToStream(id, withHole(length, hole)),
          ErrorCode.Validation,
          `a hole at ${hole}`,
        )) as Error & { issues?: { path: unknown[] }[] };
        assertEqual(
          JSON.stringify(error.issues?.map((issue) => issue.path)),
          JSON.stringify([[hole]]),
          "the issue names the hole's index",
        );
      }
      assertEqual(await store.streamExists(id), false, "nothing written");
    },
  );

  add(
    "an event key that is neither a new event's nor an envelope's (a misspelt metdata) is refused naming it; nothing is written",
    async (store) => {
      const id = stream();
      const fine = { type: "Fine", data: { ok: true } };
      const error = (await assertRejects(
        () =>
          store.appendToStream(id, [
            fine,
            { type: "Noted", data: {}, metdata: { correlationId: "c-1" } } as NewEvent,
            { ...fine, streamID: "x", extra: undefined } as NewEvent,
          ]),
        ErrorCode.Validation,
        "unknown event keys",
      )) as Error & { issues?: { path: unknown[] }[] };
      assertEqual(
        JSON.stringify(error.issues?.map((issue) => issue.path)),
        JSON.stringify([
          [1, "metdata"],
          [2, "streamID"],
          [2, "extra"],
        ]),
        "one issue per unknown key, by its path",
      );
      assertEqual(await store.streamExists(id), false, "nothing written");
      // An envelope read back (streamId, version, globalPosition and all) is taken as an event: here copied to
      // another stream under a new id (ids are unique across a store).
      await store.appendToStream(id, [{ ...fine, metadata: { correlationId: "c-2" } }]);
      const [read] = await collect(store.readStream(id));
      const copy = stream();
      const newId = ulid();
      const { events: copied } = await store.appendToStream(copy, [{ ...(read as EventEnvelope), id: newId }]);
      assertEqual(copied[0]?.streamId, copy, "the copy's stream");
      assertEqual(copied[0]?.id, newId, "the id given");
      assertEqual(copied[0]?.timestamp, read?.timestamp, "the timestamp kept");
      assertEqual(copied[0]?.metadata.correlationId, "c-2", "the metadata kept");
    },
  );

  add(
    "events whose reading throws (a getter, a Proxy trap) are refused with a ValidationError that quotes nothing; nothing is written",
    async (store) => {
      const id = stream();
      const secret = "secret-in-a-thrown-error";
      const boom = (): never => {
        throw new TypeError(secret);
      };
      const fine = { type: "Fine", data: { ok: true } };
      const batches: [string, unknown, AppendToStreamOptions?][] = [
        [
          "a type getter",
          [
            fine,
            {
              get type() {
                return boom();
              },
              data: {},
            },
          ],
        ],
        [
          "a data getter",
          [
            fine,
            {
              type: "Bad",
              data: {
                get x() {
                  return boom();
                },
              },
            },
          ],
        ],
        [
          "a getter deep in data",
          [
            fine,
            {
              type: "Bad",
              data: {
                a: [
                  {
                    get b() {
                      return boom();
                    },
                  },
                ],
              },
            },
          ],
        ],
        ["a data Proxy", [fine, { type: "Bad", data: new Proxy({}, { getPrototypeOf: boom }) }]],
        [
          "a metadata getter",
          [
            fine,
            {
              type: "Bad",
              data: {},
              metadata: {
                get note() {
                  return boom();
                },
              },
            },
          ],
        ],
        ["a metadata Proxy", [fine, { type: "Bad", data: {}, metadata: new Proxy({}, { ownKeys: boom }) }]],
        [
          "an id getter",
          [
            fine,
            {
              type: "Bad",
              data: {},
              get id() {
                return boom();
              },
            },
          ],
        ],
        [
          "a timestamp getter",
          [
            fine,
            {
              type: "Bad",
              data: {},
              get timestamp() {
                return boom();
              },
            },
          ],
        ],
        ["an event Proxy", [fine, new Proxy({ type: "Bad", data: {} }, { has: boom, get: boom })]],
        ["an array Proxy", new Proxy([fine], { get: boom })],
        [
          "the append's metadata",
          [fine],
          {
            metadata: {
              get note() {
                return boom();
              },
            },
          },
        ],
      ];
      for (const [label, batch, appendOptions] of batches) {
        const error = await assertRejects(
          () => store.appendToStream(id, batch as NewEvent[], appendOptions),
          ErrorCode.Validation,
          label,
        );
        assertEqual((error as Error).name, "ValidationError", `${label}: the error`);
        assert(
          !JSON.stringify({ ...(error as object), message: (error as Error).message }).includes(secret),
          `${label}: the caller's error is not quoted`,
        );
      }
      assertEqual(await store.streamExists(id), false, "nothing written");
    },
  );

  add(
    "text no store can hold (U+0000, a lone surrogate) is refused alike, naming where and never the text; nothing is written",
    async (store) => {
      const id = stream();
      const NUL = "U+0000 (NUL), which the stores cannot hold";
      const cases: [string, Partial<NewEvent>, AppendToStreamOptions, (string | number)[], string][] = [
        ["a NUL in a data string", { data: { text: "secret\u0000text" } }, {}, [1, "data", "text"], NUL],
        ["a NUL deep in data", { data: { a: [{ b: "\u0000secret" }] } }, {}, [1, "data", "a", 0, "b"], NUL],
        ["a NUL in a data key", { data: { outer: { "secret\u0000key": 1 } } }, {}, [1, "data", "outer"], NUL],
        ["data that is one string", { data: "secret\u0000" }, {}, [1, "data"], NUL],
        ["a NUL in metadata", { data: {}, metadata: { note: "secret\u0000" } }, {}, [1, "metadata", "note"], NUL],
        ["a NUL in a metadata key", { data: {}, metadata: { "secret\u0000": "x" } }, {}, [1, "metadata"], NUL],
        [
          "a NUL in the append's metadata",
          { data: {} },
          { metadata: { note: "secret\u0000" } },
          ["options", "metadata", "note"],
          NUL,
        ],
        ["a lone surrogate", { data: { text: "secret\ud800" } }, {}, [1, "data", "text"], "lone UTF-16 surrogate"],
      ];
      for (const [label, event, appendOptions, path, message] of cases) {
        const error = (await assertRejects(
          () =>
            store.appendToStream(
              id,
              [{ type: "Fine", data: { ok: true } }, { type: "Bad", ...event } as NewEvent],
              appendOptions,
            ),
          ErrorCode.Validation,
          label,
        )) as Error & { issues?: readonly { path: readonly (string | number)[]; message: string }[] };
        assertEqual(error.name, "ValidationError", `${label}: the error`);
        assertEqual(error.message.startsWith("Invalid events: "), true, `${label}: the message (${error.message})`);
        assertEqual(
          error.issues?.map((issue) => issue.path),
          [path],
          `${label}: the issue's path`,
        );
        assert(
          error.issues?.[0]?.message.includes(message),
          `${label}: the issue says what (${error.issues?.[0]?.message})`,
        );
        const text = `${error.message} ${JSON.stringify(error)}`;
        assert(!text.includes("secret") && !text.includes("\u0000"), `${label}: the text is not quoted (${text})`);
      }
      assertEqual(await store.streamExists(id), false, "nothing written");
      // Escaped, as JSON text, it is plain text like any other.
      await store.appendToStream(id, [{ type: "Escaped", data: { text: "a literal \\u0000", "key \\u0000": 1 } }]);
      const [back] = await collect(store.readStream(id));
      assertEqual(back?.data, { text: "a literal \\u0000", "key \\u0000": 1 }, "an escaped NUL reads back as written");
    },
  );

  add("invalid read options are refused", async (store) => {
    const id = stream();
    for (const o of [
      { fromVersion: 0 },
      { fromVersion: -1 },
      { maxCount: -1 },
      { maxCount: 1.5 },
      { direction: "sideways" },
      { fromversion: 2 },
      { from: 2 },
      3,
    ]) {
      await assertRejects(
        async () => collect(store.readStream(id, o as Parameters<EventStore["readStream"]>[1])),
        ErrorCode.Validation,
        JSON.stringify(o),
      );
    }
    await assertRejects(async () => collect(store.readAll({ after: -1 })), ErrorCode.Validation, "after -1");
    for (const o of [{ afterPosition: 1 }, { limit: 1 }, "all"]) {
      await assertRejects(
        async () => collect(store.readAll(o as Parameters<EventStore["readAll"]>[0])),
        ErrorCode.Validation,
        `readAll ${JSON.stringify(o)}`,
      );
    }
  });

  add("an append returns its events as a read gives them: -0 as 0, undefined properties left out", async (store) => {
    const id = stream();
    // JSON has no -0, leaves out a property holding undefined and gives plain objects: what the append
    // returns (and publishes) must be what every reader gets later, on every store.
    const bare = Object.assign(Object.create(null) as object, { k: 1 });
    const appended = await store.appendToStream(id, [
      { type: "Odd", data: { n: -0, list: [-0], gone: undefined, bare }, metadata: { z: -0, note: undefined } },
      { type: "Zero", data: -0 },
    ]);
    const read = await collect(store.readStream(id));
    for (const [where, events] of [
      ["the append's result", appended.events],
      ["a read", read],
    ] as const) {
      const [odd, zero] = events as [EventEnvelope, EventEnvelope];
      const data = odd.data as { n: unknown; list: unknown[]; bare: object };
      assert(Object.is(data.n, 0) && Object.is(data.list[0], 0), `${where}: -0 in data as 0`);
      assert(Object.is(zero.data, 0), `${where}: -0 as the data as 0`);
      assert(!Object.hasOwn(data, "gone"), `${where}: an undefined data property left out`);
      assert(Object.getPrototypeOf(data.bare) === Object.prototype, `${where}: a plain object`);
      assert(Object.is(odd.metadata.z, 0), `${where}: -0 in metadata as 0`);
      assert(!Object.hasOwn(odd.metadata, "note"), `${where}: an undefined metadata property left out`);
    }
  });

  add("stored events do not change when the caller mutates its objects", async (store) => {
    const id = stream();
    const data = { list: [1, 2], inner: { value: "before" } };
    // The event's metadata and the append's, nested objects included.
    const metadata: { tags: string[]; nested: { n: number }; added?: boolean } = { tags: ["a"], nested: { n: 1 } };
    const shared = { nested: { n: 1 } };
    await store.appendToStream(id, [{ type: "Mutable", data, metadata }], { metadata: { shared } });
    data.list.push(3);
    data.inner.value = "after";
    metadata.tags.push("MUTATED");
    metadata.nested.n = 99;
    metadata.added = true;
    shared.nested.n = 99;
    const [read] = await collect(store.readStream(id));
    assertEqual(read?.data, { list: [1, 2], inner: { value: "before" } }, "data");
    assertEqual(
      appendedPart(read?.metadata ?? {}, "metadata"),
      { shared: { nested: { n: 1 } }, tags: ["a"], nested: { n: 1 } },
      "metadata",
    );
  });

  add(
    "a reader cannot rewrite history: mutating what an append or a read returned changes nothing stored",
    async (store) => {
      const id = stream();
      const start = store.capabilities.globalOrder ? await lastPosition(store) : 0;
      const appended = await store.appendToStream(id, [
        { type: "Kept", data: { n: 1, inner: { list: [1] } }, metadata: { tag: "stored" } },
      ]);
      const stored = structuredClone(await collect(store.readStream(id)));
      assertEqual(stored[0]?.data, { n: 1, inner: { list: [1] } }, "as appended");
      // Each reader's copy is scribbled on as a careless caller would; a frozen copy (a TypeError) is as good.
      const scribble = (list: readonly EventEnvelope[]) => {
        for (const event of list) {
          attempt(() => {
            const data = event.data as { n: number; inner: { list: number[] } };
            data.n = 99;
            data.inner.list.push(99);
          });
          attempt(() => {
            (event.metadata as Record<string, unknown>).tag = "rewritten";
          });
        }
      };
      scribble(appended.events);
      assertEqual(await collect(store.readStream(id)), stored, "after mutating what appendToStream returned");
      scribble(await collect(store.readStream(id)));
      assertEqual(await collect(store.readStream(id)), stored, "after mutating what readStream returned");
      scribble(await collect(store.readStream(id, { direction: "backward" })));
      assertEqual(await collect(store.readStream(id)), stored, "after mutating what a backward read returned");
      if (store.capabilities.globalOrder) {
        const mine = async () => (await collect(store.readAll({ after: start }))).filter((e) => e.streamId === id);
        await eventually(async () => assertEqual((await mine()).length, 1, "readAll shows the event"));
        scribble(await mine());
        assertEqual(await mine(), stored, "readAll after mutating what readAll returned");
        assertEqual(await collect(store.readStream(id)), stored, "readStream after mutating what readAll returned");
      }
    },
  );

  add("a long stream reads completely in both directions", async (store) => {
    const id = stream();
    const length = options.longStreamLength ?? 1000;
    const max = store.capabilities.maxEventsPerAppend ?? 100;
    const filler = "x".repeat(1000);
    for (let written = 0; written < length; written += Math.min(max, length - written)) {
      const batch = Array.from({ length: Math.min(max, length - written) }, (_, i) => ({
        type: "Long",
        data: { n: written + i + 1, filler },
      }));
      await store.appendToStream(id, batch, { expectedVersion: written });
    }
    assert(length > 0, "longStreamLength is positive");
    const forward = await collect(store.readStream(id));
    assertEqual(forward.length, length, "forward count");
    const firstOutOfOrder = forward.findIndex((e, i) => e.version !== i + 1 || (e.data as { n: number }).n !== i + 1);
    assertEqual(firstOutOfOrder, -1, "forward order: index of the first event out of place");
    const backward = await collect(store.readStream(id, { direction: "backward" }));
    assertEqual(backward.length, length, "backward count");
    assertEqual(
      backward.findIndex((e, i) => e.version !== length - i),
      -1,
      "backward order: index of the first event out of place",
    );
  });

  add(`reads all events in global order, after a position, with a limit ${WITHOUT_GLOBAL_ORDER}`, async (store) => {
    if (!store.capabilities.globalOrder) return assertNoGlobalOrder(store);
    const a = stream("a");
    const b = stream("b");
    const start = await lastPosition(store);
    await store.appendToStream(a, [{ type: "One", data: 1 }]);
    await store.appendToStream(b, [
      { type: "Two", data: 2 },
      { type: "Three", data: 3 },
    ]);
    await store.appendToStream(a, [{ type: "Four", data: 4 }]);
    const mine = (list: EventEnvelope[]) => list.filter((e) => e.streamId === a || e.streamId === b);
    // A store that never skips may hold committed events back while an older transaction elsewhere is
    // still open (PostgreSQL): the feed must show them, in order, once that ends; never out of order.
    let all: EventEnvelope[] = [];
    await eventually(async () => {
      all = mine(await collect(store.readAll({ after: start })));
      assert(
        all.every((e, i) => e.data === [1, 2, 3, 4][i]),
        `append order: a prefix of [1,2,3,4], got ${JSON.stringify(all.map((e) => e.data))}`,
      );
      assertEqual(
        all.map((e) => e.data),
        [1, 2, 3, 4],
        "append order",
      );
    });
    assertIncreasing(all, 4, "positions");
    const positions = all.map((e) => e.globalPosition ?? 0);
    const afterSecond = mine(await collect(store.readAll({ after: positions[1] })));
    assertEqual(
      afterSecond.map((e) => e.data),
      [3, 4],
      "after a position",
    );
    const limited = await collect(store.readAll({ after: positions[0], maxCount: 2 }));
    assertEqual(limited.length, 2, "maxCount");
    assert((limited[0]?.globalPosition ?? 0) > (positions[0] ?? 0), "after is exclusive");
  });

  const hold = options.holdCommit;
  const heldOrConcurrent = hold === undefined ? " (no holdCommit hook: checked with concurrent writers)" : "";

  add(
    `a reader never passes an event that commits later with a lower position${heldOrConcurrent} ${WITHOUT_GLOBAL_ORDER}`,
    async (store) => {
      if (!store.capabilities.globalOrder) return assertNoGlobalOrder(store);
      if (hold === undefined) return concurrentWritersNeverSkipped(store);
      const held = stream("held");
      const late = stream("late");
      const start = await lastPosition(store);
      const commit = await hold(store);
      let committed = false;
      try {
        await commit.append(held, [{ type: "Held", data: 1 }]);
        // Commits while the held append, which took its place first, is still open.
        await store.appendToStream(late, [{ type: "CommittedFirst", data: 2 }]);
        // A reader reads what it can, keeps its checkpoint, and resumes from it after the commit.
        const before = await collect(store.readAll({ after: start }));
        const checkpoint = before[before.length - 1]?.globalPosition ?? start;
        await commit.commit();
        committed = true;
        // Eventually: a store may hold readers back while other transactions (not this case's) are open.
        await eventually(async () => {
          const after = await collect(store.readAll({ after: checkpoint }));
          const read = [...before, ...after].filter((e) => e.streamId === held || e.streamId === late);
          assertEqual(
            read.map((e) => e.type).sort(),
            ["CommittedFirst", "Held"],
            "a reader resuming from its checkpoint saw each event once",
          );
        });
        const all = (await collect(store.readAll({ after: start }))).filter(
          (e) => e.streamId === held || e.streamId === late,
        );
        assertIncreasing(all, 2, "positions of both events");
      } finally {
        if (!committed) await commit.abandon();
      }
    },
  );

  add(
    `getHeadPosition counts every committed append, one that commits while an older one is open included, and feedHead gives the event there ${WITHOUT_GLOBAL_ORDER}`,
    async (store) => {
      if (!store.capabilities.globalOrder) return assertNoGlobalOrder(store);
      const id = stream("head");
      const commit = hold === undefined ? undefined : await hold(store);
      let committed = false;
      try {
        await commit?.append(stream("older"), [{ type: "Older", data: 1 }]);
        const { events } = await store.appendToStream(id, [{ type: "Newest", data: 2 }]);
        const position = events[0]?.globalPosition ?? Number.POSITIVE_INFINITY;
        const head = await store.getHeadPosition();
        assert(head >= position, `getHeadPosition (${head}) is at least the committed append's position (${position})`);
        assert(head >= (await lastPosition(store)), "getHeadPosition is never below getLastGlobalPosition");
        // feedHead gives the event at the head with it, even while a reader's feed stops below the
        // older commit still open: a tenant's store checks that event before answering getHeadPosition.
        const fed = await store.feedHead();
        assert(
          fed.position >= position,
          `feedHead's position (${fed.position}) is at least the append's (${position})`,
        );
        assertEqual(fed.event?.globalPosition, fed.position, "feedHead's event is the one at its position");
        if (fed.position === position) assertEqual(fed.event?.id, events[0]?.id, "feedHead's event is the append's");
        await commit?.commit();
        committed = true;
      } finally {
        if (commit !== undefined && !committed) await commit.abandon();
      }
    },
  );

  add(`within a stream, feed order is version order${heldOrConcurrent} ${WITHOUT_GLOBAL_ORDER}`, async (store) => {
    if (!store.capabilities.globalOrder) return assertNoGlobalOrder(store);
    if (hold === undefined) return concurrentStreamsInVersionOrder(store);
    const ordered = stream("ordered");
    const elsewhere = stream("elsewhere");
    const start = await lastPosition(store);
    const commit = await hold(store);
    let committed = false;
    try {
      // The held commit starts first (writing elsewhere), then appends version 2 after a
      // younger commit wrote version 1: its place in the feed must still follow version 1.
      await commit.append(elsewhere, [{ type: "Elsewhere", data: 0 }]);
      await store.appendToStream(ordered, [{ type: "Version1", data: 1 }], { expectedVersion: "no-stream" });
      await commit.append(ordered, [{ type: "Version2", data: 2 }], { expectedVersion: 1 });
      await commit.commit();
      committed = true;
    } finally {
      if (!committed) await commit.abandon();
    }
    // Eventually: a store may hold readers back while other transactions (not this case's) are open.
    await eventually(async () => {
      const feed = (await collect(store.readAll({ after: start }))).filter((e) => e.streamId === ordered);
      assertEqual(
        feed.map((e) => e.version),
        [1, 2],
        "the stream's versions in feed order",
      );
      assertIncreasing(feed, 2, "positions of the stream's events");
    });
  });

  add(
    "publishes committed events to the bus after the commit, and nothing for a failed append",
    async (store, bus) => {
      const published: EventEnvelope[] = [];
      const id = stream();
      bus.subscribeToAll((event) => {
        if (event.streamId === id) published.push(event);
      });
      const result = await store.appendToStream(id, events(2), { expectedVersion: "no-stream" });
      assertEqual(
        published.map((e) => [e.id, e.version]),
        result.events.map((e) => [e.id, e.version]),
        "published the committed envelopes",
      );
      assertEqual(result.published?.delivered, 2, "publish result");
      await assertRejects(() => store.appendToStream(id, events(1), { expectedVersion: 0 }), ErrorCode.Concurrency);
      await assertRejects(() => store.appendToStream(id, [{ type: "Bad", data: 1n }]), ErrorCode.Validation);
      assertEqual(published.length, 2, "nothing published for failed appends");
    },
    true,
  );

  add(
    "a bus handler that appends to the stream of the event it was handed is not held up by the publish that called it",
    async (store, bus) => {
      const id = stream();
      const seen: number[] = [];
      bus.subscribeToAll(async (event) => {
        if (event.streamId !== id) return;
        seen.push(event.version);
        // A policy reacting with an event of the same stream: an append that waited for the publish that
        // called it (as a per-stream publish order made it) waited for itself, until the bus's handler timeout.
        if (event.version === 1) await store.appendToStream(id, events(1), { expectedVersion: 1 });
      });
      await store.appendToStream(id, events(1), { expectedVersion: "no-stream" });
      assertEqual(seen, [1, 2], "both events published, the handler's within the publish that called it");
    },
    true,
  );

  add(
    "a failing subscriber neither fails the append nor stops other subscribers",
    async (store, bus) => {
      const id = stream();
      const received: string[] = [];
      bus.subscribeToAll(
        () => {
          throw new Error("subscriber broke");
        },
        { name: "broken" },
      );
      bus.subscribeToAll((event) => {
        if (event.streamId === id) received.push(event.type);
      });
      const result = await store.appendToStream(id, [{ type: "Survives", data: {} }]);
      assertEqual(received, ["Survives"], "the other subscriber ran");
      assertEqual(result.published?.failures.length, 1, "failure reported");
      assertEqual(result.published?.failures[0]?.subscription, "broken");
      assertEqual(await store.getStreamVersion(id), 1, "the append stands");
    },
    true,
  );

  add(
    "a retried append with the same event ids is not duplicated, whatever its expected version " +
      '(without idempotentAppends: not checked for "any"; a retry at the exact version is refused as a conflict)',
    async (store, bus) => {
      const id = stream();
      const published: string[] = [];
      bus.subscribeToAll((event) => {
        if (event.streamId === id) published.push(event.id);
      });
      const batch = [
        { id: ulid(), type: "Once", data: 1 },
        { id: ulid(), type: "Once", data: 2 },
      ];
      const first = await store.appendToStream(id, batch, { expectedVersion: "no-stream" });
      if (!store.capabilities.idempotentAppends) {
        for (const expectedVersion of ["no-stream", 0] as const) {
          await assertRejects(
            () => store.appendToStream(id, batch, { expectedVersion }),
            ErrorCode.Concurrency,
            `a retry expecting ${JSON.stringify(expectedVersion)}`,
          );
        }
      } else {
        for (const expectedVersion of ["no-stream", 0, "any", "stream-exists"] as const) {
          const retry = await store.appendToStream(id, batch, { expectedVersion });
          const label = `a retry expecting ${JSON.stringify(expectedVersion)}`;
          assertEqual(retry.nextExpectedVersion, first.nextExpectedVersion, `${label}: same next version`);
          assertEqual(
            retry.events.map((e) => [e.id, e.version]),
            first.events.map((e) => [e.id, e.version]),
            `${label}: the stored events`,
          );
          assertEqual(retry.retried, true, `${label}: the result says it was a retry`);
          assertEqual(retry.published, undefined, `${label}: not published twice`);
        }
        assertEqual(first.retried, undefined, "a first append is not a retry");
        const changed = await assertRejects(
          () =>
            store.appendToStream(id, [{ ...(batch[0] as NewEvent), data: 99 }, batch[1] as NewEvent], {
              expectedVersion: "no-stream",
            }),
          ErrorCode.Validation,
          "the same ids with other data",
        );
        assert(changed.message.includes("unchanged"), "says a retry must repeat the append unchanged");
        const reused = await assertRejects(
          () => store.appendToStream(stream(), [batch[0] as NewEvent]),
          ErrorCode.Validation,
          "an id reused in another stream",
        );
        assert(reused.message.includes("already"), "says the id is taken");
        // An id in use refuses the batch whatever its expected version (as the same ids with other
        // data are refused above), wherever in the batch it is.
        const mixed = {
          "behind a new one": [{ id: ulid(), type: "Once", data: 3 }, batch[1] as NewEvent],
          // The new event is the stored second one under a new id: a store that takes the batch for a
          // retry from its first id alone finds nothing changed, and drops the new event.
          "ahead of a new one": [batch[0] as NewEvent, { ...(batch[1] as NewEvent), id: ulid() }],
        };
        for (const [where, events] of Object.entries(mixed)) {
          for (const expectedVersion of ["no-stream", 2] as const) {
            await assertRejects(
              () => store.appendToStream(id, events, { expectedVersion }),
              ErrorCode.Validation,
              `an id in use ${where}, expecting ${JSON.stringify(expectedVersion)}`,
            );
          }
        }
      }
      assertEqual(await store.getStreamVersion(id), 2, "stored once");
      assertEqual(
        published,
        first.events.map((e) => e.id),
        "published once",
      );
    },
    true,
  );

  add("appends above the store's atomic limit are refused whole", async (store) => {
    const max = store.capabilities.maxEventsPerAppend;
    const id = stream();
    if (max === undefined) {
      await store.appendToStream(id, events(500));
      assertEqual(await store.getStreamVersion(id), 500, "no limit: all stored");
      return;
    }
    await assertRejects(() => store.appendToStream(id, events(max + 1)), ErrorCode.Validation);
    assertEqual(await store.streamExists(id), false, "nothing written");
  });

  add(
    `subscribeToAll catches up from a checkpoint, follows new events, and retries a failing handler ${WITHOUT_GLOBAL_ORDER}`,
    async (store) => {
      if (!store.capabilities.globalOrder) return assertNoGlobalOrder(store);
      const id = stream();
      const start = await lastPosition(store);
      await store.appendToStream(id, [{ type: "Before", data: 1 }]);
      const seen: unknown[] = [];
      let failOnce = true;
      const subscription = store.subscribeToAll({
        after: start,
        pollIntervalMs: 20,
        retryDelayMs: 5,
        onError: () => undefined,
        handler: (event) => {
          if (event.streamId !== id) return;
          if (event.type === "After" && failOnce) {
            failOnce = false;
            throw new Error("transient");
          }
          seen.push(event.data);
        },
      });
      try {
        await store.appendToStream(id, [{ type: "After", data: 2 }]);
        await eventually(() => assertEqual(seen, [1, 2], "caught up and followed"));
        assert(subscription.position > start, "position advanced");
      } finally {
        await subscription.stop();
      }
    },
  );

  return { name: options.name, cases };
}

const lastPosition = (store: EventStore) => store.getLastGlobalPosition();

/** Runs a mutation that a frozen object refuses with a TypeError, which is as good as a copy. */
function attempt(mutate: () => void): void {
  try {
    mutate();
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
  }
}

/** What the global-order cases check of a store without global order, named in each case. */
/** The model case's size: enough to meet every expected-version rule and read shape on each stream. */
const MODEL_RUNS = 30;
const MODEL_STEPS = 30;

const WITHOUT_GLOBAL_ORDER =
  "(without globalOrder: readAll, getLastGlobalPosition and subscribeToAll are refused with a ValidationError)";

async function assertNoGlobalOrder(store: EventStore): Promise<void> {
  await assertRejects(() => collect(store.readAll()), ErrorCode.Validation, "readAll");
  await assertRejects(() => store.getLastGlobalPosition(), ErrorCode.Validation, "getLastGlobalPosition");
  await assertRejects(() => store.subscribeToAll({ handler: () => undefined }), ErrorCode.Validation, "subscribeToAll");
}

/** Checks there are `count` events and their global positions strictly increase (never vacuously). */
function assertIncreasing(events: readonly EventEnvelope[], count: number, label: string): void {
  assertEqual(events.length, count, `${label}: event count`);
  const positions = events.map((e) => e.globalPosition);
  const broken = positions.findIndex(
    (p, i) => typeof p !== "number" || p <= 0 || (i > 0 && p <= (positions[i - 1] as number)),
  );
  assert(broken === -1, `${label} increase: ${JSON.stringify(positions)}`);
}

/** Writers append concurrently while a reader follows the feed from checkpoints: none is skipped. */
async function concurrentWritersNeverSkipped(store: EventStore): Promise<void> {
  const start = await lastPosition(store);
  const prefix = `Contract_race-${ulid()}`;
  const [writers, perWriter] = [8, 10];
  let writing = true;
  const written = Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let n = 0; n < perWriter; n++) {
        await store.appendToStream(`${prefix}-${writer}-${n}`, [{ type: "Raced", data: { writer, n } }]);
      }
    }),
  ).finally(() => {
    writing = false;
  });
  const seen: EventEnvelope[] = [];
  let checkpoint = start;
  // Reads until one full read after every writer finished: a reader that passed an event never sees it.
  for (let last = false; !last; ) {
    last = !writing;
    // That last read must find every event readable (PostgreSQL's readers stop below any transaction
    // in flight on the server, another client's too): else a lagging feed fails the count, not a skip.
    if (last) await untilHeadReadable(store);
    for (const event of await collect(store.readAll({ after: checkpoint }))) {
      checkpoint = event.globalPosition ?? checkpoint;
      if (event.streamId.startsWith(prefix)) seen.push(event);
    }
    // Yields to the writers between reads; the loop ends on `writing`, not on time.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await written;
  assertEqual(seen.length, writers * perWriter, "events the reader saw");
  assertEqual(new Set(seen.map((e) => e.id)).size, writers * perWriter, "each once");
}

/** Writers append to a few streams concurrently: each stream's events come in version order in the feed. */
async function concurrentStreamsInVersionOrder(store: EventStore): Promise<void> {
  const start = await lastPosition(store);
  const streams = Array.from({ length: 3 }, (_, i) => `Contract_interleaved${i}-${ulid()}`);
  const [writers, perWriter] = [6, 8];
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      for (let n = 0; n < perWriter; n++) {
        await store.appendToStream(streams[(writer + n) % streams.length] as string, [
          { type: "Interleaved", data: { writer, n } },
          { type: "Interleaved", data: { writer, n, second: true } },
        ]);
      }
    }),
  );
  // Every append readable first (see untilReadable), so that a count short of them is a lost event.
  await untilHeadReadable(store);
  const feed = await collect(store.readAll({ after: start }));
  for (const id of streams) {
    const versions = feed.filter((e) => e.streamId === id).map((e) => e.version);
    assertEqual(
      versions,
      Array.from({ length: versions.length }, (_, i) => i + 1),
      `versions of ${id} in feed order`,
    );
  }
  assertEqual(feed.filter((e) => streams.includes(e.streamId)).length, writers * perWriter * 2, "events in the feed");
}

/** The `addedMetadataKeys` option checked: an array of non-empty strings, or none (then no key). */
function addedMetadataKeys(keys: unknown): readonly string[] {
  if (keys === undefined) return [];
  if (Array.isArray(keys) && keys.every((key) => typeof key === "string" && key.length > 0)) return keys;
  throw new ValidationError("Invalid eventStoreContract options", [
    { path: ["addedMetadataKeys"], message: "must be an array of metadata keys (non-empty strings)" },
  ]);
}

/** Every write of an event store goes through one of these (the base class's after-commit step included). */
const EVENT_STORE_WRITES = [
  "appendToStream",
  "commit",
  "commitStreamChange",
  "deleteStream",
  "truncateStream",
  "restoreStream",
];
