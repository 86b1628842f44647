import { AggregateRepository } from "../aggregate/repository.js";
import { ErrorCode } from "../errors.js";
import { InMemoryEventBus } from "../event-bus/in-memory-event-bus.js";
import type { EventStore, EventStoreOptions } from "../event-store/event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { eventRegistry } from "../evolution/event-registry.js";
import { splitEventId } from "../evolution/split-ids.js";
import { ulid } from "../ids.js";
import { InMemorySnapshotStore } from "../snapshot/in-memory-snapshot-store.js";
import { appendWithinLimit } from "./append-within-limit.js";
import { assert, assertEqual, assertRejects, collect, eventually } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";
import { cartHistoryV1, cartRegistry, EvolvedCart } from "./evolution-fixture.js";

export interface EventEvolutionContractOptions {
  /** Shown as the suite's name. */
  readonly name: string;
  /**
   * Makes a store on the shared backend, with the options given (`eventRegistry` and `bus` must be
   * passed through). Each case makes two: the old application's (no registry) that writes version 1
   * events, and the current one's that reads them.
   */
  readonly create: (options: EventStoreOptions) => EventStore | Promise<EventStore>;
  readonly dispose?: (store: EventStore) => void | Promise<void>;
}

/** The current shape of the fixture cart's history, as every read path must yield it. */
const CURRENT = [
  { type: "CartOpened", data: { owner: "ada", currency: "EUR", channel: "web" }, version: 1, schemaVersion: 3 },
  { type: "ItemPut", data: { sku: "tea", quantity: 2 }, version: 2, schemaVersion: 2 },
  { type: "ItemPut", data: { sku: "cup", quantity: 1 }, version: 3, schemaVersion: 2 },
  { type: "CartClosed", data: { items: 3 }, version: 4, schemaVersion: 1 },
  { type: "PaymentRequested", data: { amount: 12 }, version: 4, schemaVersion: 1 },
];

const shape = (events: readonly EventEnvelope[]) =>
  events.map((e) => ({ type: e.type, data: e.data, version: e.version, schemaVersion: e.metadata.schemaVersion }));

/**
 * Schema evolution on a store: events stored at schema version 1 read back at the current version
 * on every read path (`readStream` both ways, `readAll`, `subscribeToAll`, repository loads, snapshot
 * tails, publishing), renamed and split; `raw` reads see them as stored; an event a newer release
 * stored above its type's current version stops a read with a `ValidationError`; appends are stamped
 * and validated, and a refused append writes nothing.
 */
export function eventEvolutionContract(options: EventEvolutionContractOptions): ContractSuite {
  checkContractOptions("eventEvolutionContract", options, { functions: ["create"], optionalFunctions: ["dispose"] });
  const cases: ContractCase[] = [];
  const add = (name: string, run: (old: EventStore, current: EventStore, streamId: string) => Promise<void>) =>
    cases.push({
      name,
      run: async () => {
        const old = await options.create({});
        let current: EventStore | undefined;
        try {
          current = await options.create({ eventRegistry: cartRegistry() });
          await run(old, current, `Cart-${ulid()}`);
        } finally {
          await options.dispose?.(old);
          if (current !== undefined) await options.dispose?.(current);
        }
      },
    });
  const writeHistory = async (old: EventStore, streamId: string) =>
    appendWithinLimit(old, streamId, cartHistoryV1(), "no-stream");

  add("readStream yields v1 events at v3, renamed and split; raw reads them as stored", async (old, current, id) => {
    const stored = await writeHistory(old, id);
    assertEqual(shape(await collect(current.readStream(id))), CURRENT, "upcast forward");
    const raw = await collect(current.readStream(id, { raw: true }));
    assertEqual(
      raw.map((e) => [e.type, e.metadata.schemaVersion, e.data]),
      stored.map((e) => [e.type, undefined, e.data]),
      "raw read: as stored",
    );
    const backward = shape(await collect(current.readStream(id, { direction: "backward" })));
    assertEqual(
      backward.map((e) => e.version),
      [4, 4, 3, 2, 1],
      "backward: stored versions, newest first",
    );
    const fromTwo = await collect(current.readStream(id, { fromVersion: 2, maxCount: 2 }));
    assertEqual(
      fromTwo.map((e) => e.type),
      ["ItemPut", "ItemPut"],
      "fromVersion and maxCount count stored events",
    );
  });

  add("a split keeps the stored version and position; the first part keeps the id", async (old, current, id) => {
    const stored = await writeHistory(old, id);
    const checkout = stored[3] as EventEnvelope;
    const parts = (await collect(current.readStream(id))).slice(3);
    assertEqual(
      parts.map((e) => e.id),
      [checkout.id, splitEventId(checkout.id, 1)],
      "ids",
    );
    for (const part of parts) {
      assertEqual(part.version, checkout.version, "version");
      assertEqual(part.globalPosition, checkout.globalPosition, "globalPosition");
      assertEqual(part.streamId, id, "streamId");
    }
    assertEqual(await current.getStreamVersion(id), 4, "the stream's version counts stored events");
  });

  add("readAll yields v1 events at v3 (refused without global order)", async (old, current, id) => {
    if (!current.capabilities.globalOrder) {
      await assertRejects(() => collect(current.readAll()), ErrorCode.Validation, "readAll");
      return;
    }
    const start = await current.getLastGlobalPosition();
    await writeHistory(old, id);
    let mine: EventEnvelope[] = [];
    await eventually(async () => {
      mine = (await collect(current.readAll({ after: start }))).filter((e) => e.streamId === id);
      assertEqual(mine.length, 5, "events of the stream in the feed");
    });
    assertEqual(shape(mine), CURRENT, "upcast feed");
    const raw = (await collect(current.readAll({ after: start, raw: true }))).filter((e) => e.streamId === id);
    assertEqual(
      raw.map((e) => e.type),
      ["CartOpened", "ItemAdded", "ItemAdded", "CartCheckedOut"],
      "raw feed",
    );
  });

  add("subscribeToAll hands v3 events to the handler (refused without global order)", async (old, current, id) => {
    if (!current.capabilities.globalOrder) {
      await assertRejects(() => current.subscribeToAll({ handler: () => undefined }), ErrorCode.Validation, "sub");
      return;
    }
    const start = await current.getLastGlobalPosition();
    const stored = await writeHistory(old, id);
    const seen: EventEnvelope[] = [];
    const subscription = current.subscribeToAll({
      after: start,
      pollIntervalMs: 10,
      handler: (event) => {
        if (event.streamId === id) seen.push(event);
      },
    });
    try {
      await eventually(() => assertEqual(seen.length, 5, "events handled"), 20_000);
      assertEqual(shape(seen), CURRENT, "upcast subscription");
      const last = stored[3]?.globalPosition as number;
      await eventually(() => assert(subscription.position >= last, "the checkpoint passed the split event"));
    } finally {
      await subscription.stop();
    }
  });

  add("a repository rehydrates the current aggregate from v1 events", async (old, current, id) => {
    await writeHistory(old, id);
    const repository = new AggregateRepository({
      store: current,
      stream: (cart) => cart,
      create: (cart) => new EvolvedCart(cart),
    });
    const cart = await repository.load(id);
    assertEqual(cart.view, { owner: "ada", currency: "EUR", channel: "web", items: 3, closed: true, requested: 12 });
    assertEqual(cart.version, 4, "aggregate version: stored events");
    cart.put("pot", 1);
    const saved = await repository.save(cart);
    assertEqual(saved.nextExpectedVersion, 5, "saved after the stored events");
    const [raw] = await collect(current.readStream(id, { fromVersion: 5, raw: true }));
    assertEqual(raw?.metadata.schemaVersion, 2, "a new ItemPut is stamped with its current version");
  });

  add(
    "a snapshot taken at a split event plus a tail of v1 events loads the current state",
    async (old, current, id) => {
      await writeHistory(old, id);
      const snapshots = new InMemorySnapshotStore();
      const repository = new AggregateRepository({
        store: current,
        stream: (cart) => cart,
        create: (cart) => new EvolvedCart(cart),
        snapshots: { store: snapshots, policy: () => false },
      });
      const replayed = await repository.load(id);
      // At version 4, the split CartCheckedOut: its second part is in the snapshot and must not apply again.
      await snapshots.save({ streamId: id, ...replayed.toSnapshot(), schemaVersion: 1 });
      await old.appendToStream(id, [{ type: "ItemAdded", data: { sku: "pot", qty: 5 } }], { expectedVersion: 4 });
      const loaded = await repository.load(id);
      assertEqual(loaded.view, {
        owner: "ada",
        currency: "EUR",
        channel: "web",
        items: 8,
        closed: true,
        requested: 12,
      });
      assertEqual(loaded.version, 5, "version");
    },
  );

  add("publishes what readers see: an append at an old schema version reaches the bus upcast", async (_old, _c, id) => {
    const bus = new InMemoryEventBus();
    const seen: EventEnvelope[] = [];
    bus.subscribeToAll((event) => {
      seen.push(event);
    });
    const store = await options.create({ bus, eventRegistry: cartRegistry() });
    try {
      const appended = await store.appendToStream(id, [
        { type: "CartOpened", data: { owner: "bo" }, metadata: { schemaVersion: 1 } },
      ]);
      assertEqual(appended.events[0]?.data, { owner: "bo" }, "the append result is what was stored");
      const upcast = { type: "CartOpened", data: { owner: "bo", currency: "EUR", channel: "web" }, version: 1 };
      await eventually(() => assertEqual(shape(seen), [{ ...upcast, schemaVersion: 3 }], "published"));
    } finally {
      await options.dispose?.(store);
    }
  });

  add(
    "appends are checked against the schema of their version: a bad batch writes nothing",
    async (_o, current, id) => {
      const error = await assertRejects(
        () =>
          current.appendToStream(id, [
            { type: "CartOpened", data: { owner: "ada", currency: "EURO", channel: "web" } },
            { type: "CartOpened", data: { owner: "" }, metadata: { schemaVersion: 1 } },
            { type: "ItemPut", data: { sku: "tea", quantity: 1.5 } },
          ]),
        ErrorCode.Validation,
        "invalid batch",
      );
      const paths = ((error as unknown as { issues: { path: unknown[] }[] }).issues ?? []).map((i) => i.path.join("."));
      assertEqual(paths, ["0.data.currency", "1.data.owner", "2.data.quantity"], "one issue per problem");
      assertEqual(await current.getStreamVersion(id), 0, "nothing written");
      const ok = await current.appendToStream(id, [
        { type: "CartOpened", data: { owner: "ada", currency: "GBP", channel: "store" } },
        { type: "CartOpened", data: { owner: "bo" }, metadata: { schemaVersion: 1 } },
      ]);
      assertEqual(
        ok.events.map((e) => e.metadata.schemaVersion),
        [3, 1],
        "stamped current, or kept",
      );
      assertEqual(
        (await collect(current.readStream(id))).map((e) => e.data),
        [
          { owner: "ada", currency: "GBP", channel: "store" },
          { owner: "bo", currency: "EUR", channel: "web" },
        ],
        "an older valid version still reads, upcast",
      );
    },
  );

  add(
    "validateOnRead refuses a stored event that breaks its schema; a raw read still returns it",
    async (old, _c, id) => {
      await old.appendToStream(id, [{ type: "CartOpened", data: { owner: "ada" }, metadata: { schemaVersion: 3 } }]);
      const strict = await options.create({ eventRegistry: cartRegistry({ validateOnRead: true }) });
      try {
        await assertRejects(() => collect(strict.readStream(id)), ErrorCode.Validation, "validateOnRead");
        assertEqual((await collect(strict.readStream(id, { raw: true }))).length, 1, "raw read");
      } finally {
        await options.dispose?.(strict);
      }
    },
  );

  add(
    "an event a newer release stored above its type's current version stops reads with a ValidationError; raw reads it",
    async (old, current, id) => {
      // The newer release's CartOpened v4 and a type this release does not know yet, written next to a v1 event.
      await old.appendToStream(id, [
        { type: "CartOpened", data: { owner: "ada" } },
        { type: "CartOpened", data: { owner: "ada", locale: "fr" }, metadata: { schemaVersion: 4 } },
        { type: "CartShared", data: { with: "bo" }, metadata: { schemaVersion: 2 } },
      ]);
      const error = await assertRejects(() => collect(current.readStream(id)), ErrorCode.Validation, "newer version");
      assert(/newer than the event registry knows/.test(String(error.message)), `names the cause: ${error.message}`);
      assertEqual(
        (await collect(current.readStream(id, { maxCount: 1 }))).map((e) => e.metadata.schemaVersion),
        [3],
        "the events before it still read, upcast",
      );
      const repository = new AggregateRepository({
        store: current,
        stream: (cart) => cart,
        create: (cart) => new EvolvedCart(cart),
      });
      await assertRejects(() => repository.load(id), ErrorCode.Validation, "a load");
      assertEqual(
        (await collect(current.readStream(id, { raw: true }))).map((e) => e.metadata.schemaVersion),
        [undefined, 4, 2],
        "raw read: as stored",
      );
      assertEqual(
        (await collect(current.readStream(id, { fromVersion: 3 }))).map((e) => [e.type, e.metadata.schemaVersion]),
        [["CartShared", 2]],
        "a type the registry does not know reads as stored",
      );
    },
  );

  add(
    "an upcaster whose output JSON cannot hold (a Date) stops reads with a ValidationError naming the event and the step; raw reads it",
    async (old, _c, id) => {
      const [event] = (await old.appendToStream(id, [{ type: "CartOpened", data: { owner: "ada" } }])).events;
      // As appends refuse a Date, so do reads: handlers, snapshots and read models get JSON only.
      const dated = eventRegistry().upcast("CartOpened", 1, (data: { owner: string }) => ({
        ...data,
        at: new Date(0),
      }));
      const reader = await options.create({ eventRegistry: dated });
      try {
        const named = `The upcaster of "CartOpened" v1 returned data that is not JSON for event ${event?.id} (stream "${id}", version 1)`;
        const error = await assertRejects(() => collect(reader.readStream(id)), ErrorCode.Validation, "readStream");
        assert(String(error.message).startsWith(named), `names the event and the step: ${error.message}`);
        if (reader.capabilities.globalOrder) {
          const start = (event?.globalPosition ?? 1) - 1;
          // The feed may not show an append at once (PostgreSQL's, while older transactions are in
          // flight): an empty read is retried, not taken for a read that did not fail.
          await eventually(async () => {
            await assertRejects(() => collect(reader.readAll({ after: start })), ErrorCode.Validation, "readAll");
          });
        }
        const repository = new AggregateRepository({
          store: reader,
          stream: (cart) => cart,
          create: (cart) => new EvolvedCart(cart),
        });
        await assertRejects(() => repository.load(id), ErrorCode.Validation, "a load");
        assertEqual(
          (await collect(reader.readStream(id, { raw: true }))).map((e) => e.data),
          [{ owner: "ada" }],
          "raw read: as stored",
        );
      } finally {
        await options.dispose?.(reader);
      }
    },
  );

  return { name: options.name, cases };
}
