/**
 * Schema evolution through the public API, against the same steps applied by hand: fast-check
 * generates chains of upcasts, renames and splits (types A, B and C; a rename or split only names a
 * later type, so no chain loops, and a rename lands inside its target's chain, so none has a hole),
 * an old release (a store without the registry) writes events at every version each type has, and the
 * current release (the same backend, with the registry) must yield exactly what applying the steps by
 * hand yields on every read path: `readStream` both ways and with `fromVersion`/`maxCount`, `readAll`
 * from a position with a limit, `subscribeToAll`, a projection runner, and a repository loading a
 * snapshot plus a tail. Versions, global positions and ids come from the stored events (a split's
 * parts share them, the first keeps the id), whatever the path. Test-only code.
 */
import fc from "fast-check";
import * as v from "valibot";
import {
  AggregateRepository,
  AggregateRoot,
  type AppliedEvent,
  type EventEnvelope,
  type EventRegistry,
  type EventStore,
  type EventStoreOptions,
  eventRegistry,
  InMemoryReadModelStore,
  InMemorySnapshotStore,
  ProjectionRunner,
  projection,
  splitEventId,
  ulid,
} from "../../src/index.js";
import { CartOpenedV1, CartOpenedV3, ItemPutV2 } from "../../src/testing/evolution-fixture.js";

const TYPES = ["A", "B", "C"] as const;

interface Data {
  readonly trail: readonly string[];
}

/** A type's chain: upcasts from `start` for `upcasts` versions, then maybe a rename or a split. */
interface Chain {
  readonly start: number;
  readonly upcasts: number;
  readonly end?:
    | { readonly kind: "rename"; readonly to: number; readonly toVersion: number }
    | { readonly kind: "split"; readonly parts: readonly { readonly to: number; readonly version?: number }[] };
}

type Spec = readonly Chain[];

/** The current version of each type in `spec`: the end of its chain, or a rename's target if higher. */
function currentVersions(spec: Spec): number[] {
  return spec.map((chain) => chain.start + chain.upcasts);
}

const chainArbitrary = (index: number): fc.Arbitrary<Chain> => {
  const later = TYPES.length - 1 - index;
  const base = fc.record({ start: fc.integer({ min: 1, max: 2 }), upcasts: fc.integer({ min: 0, max: 3 }) });
  if (later === 0) return base;
  const to = fc.integer({ min: index + 1, max: TYPES.length - 1 });
  // A part of a later type, at a version of its own (or the default, 1); or one that keeps the type, at the default.
  const part = fc.oneof(
    fc.record({ to, version: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }) }),
    fc.constant({ to: index, version: undefined }),
  );
  const end = fc.oneof(
    fc.constant(undefined),
    fc.record({ kind: fc.constant("rename" as const), to, toVersion: fc.integer({ min: 0, max: 10 }) }),
    fc.record({ kind: fc.constant("split" as const), parts: fc.array(part, { minLength: 1, maxLength: 3 }) }),
  );
  return fc.tuple(base, end).map(([chain, ending]) => (ending === undefined ? chain : { ...chain, end: ending }));
};

const specArbitrary: fc.Arbitrary<Spec> = fc.tuple(...TYPES.map((_, i) => chainArbitrary(i))).map((chains) => {
  // A rename's (or an explicit part's) version, within its target's chain: a version from its
  // start to its current one (the target's chain is fixed by then: targets come later).
  const current = currentVersions(chains);
  const within = (to: number, pick: number) =>
    (chains[to] as Chain).start + (pick % ((current[to] as number) - (chains[to] as Chain).start + 1));
  return chains.map((chain) => {
    const end = chain.end;
    if (end === undefined) return chain;
    if (end.kind === "rename") return { ...chain, end: { ...end, toVersion: within(end.to, end.toVersion) } };
    const parts = end.parts.map((p) => (p.version === undefined ? p : { ...p, version: within(p.to, p.version) }));
    return { ...chain, end: { ...end, parts } };
  });
});

/** The registry that `spec` describes for the types `names` (a run's own), through the public API. */
function registryOf(spec: Spec, names: readonly string[]): EventRegistry {
  const registry = eventRegistry();
  for (const [i, chain] of spec.entries()) {
    const type = names[i] as string;
    for (let v = chain.start; v < chain.start + chain.upcasts; v++) {
      registry.upcast(type, v, (data: Data) => ({ trail: [...data.trail, `${type}${v}`] }));
    }
    const at = chain.start + chain.upcasts;
    if (chain.end?.kind === "rename") registry.rename(type, at, names[chain.end.to] as string, chain.end.toVersion);
    else if (chain.end?.kind === "split") {
      const parts = chain.end.parts;
      registry.split(type, at, (event: EventEnvelope<string, Data>) =>
        parts.map((p, j) => ({
          type: names[p.to] as string,
          data: { trail: [...event.data.trail, `${type}${at}/${j}`] },
          ...(p.version === undefined ? {} : { schemaVersion: p.version }),
        })),
      );
    }
  }
  return registry;
}

interface Reached {
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: Data;
}

/** The same steps, applied by hand to one stored event. */
function byHand(spec: Spec, names: readonly string[], type: string, version: number, data: Data): Reached[] {
  const index = names.indexOf(type);
  const chain = spec[index];
  if (chain === undefined || version < chain.start) return [{ type, schemaVersion: version, data }];
  const at = chain.start + chain.upcasts;
  if (version < at) return byHand(spec, names, type, version + 1, { trail: [...data.trail, `${type}${version}`] });
  if (version > at || chain.end === undefined) return [{ type, schemaVersion: version, data }];
  if (chain.end.kind === "rename") return byHand(spec, names, names[chain.end.to] as string, chain.end.toVersion, data);
  return chain.end.parts.flatMap((p, j) =>
    byHand(spec, names, names[p.to] as string, p.version ?? (p.to === index ? at + 1 : 1), {
      trail: [...data.trail, `${type}${at}/${j}`],
    }),
  );
}

/** What a reader sees of an event, with the stored coordinates it must keep. */
const seen = (e: EventEnvelope) => ({
  id: e.id,
  streamId: e.streamId,
  version: e.version,
  globalPosition: e.globalPosition,
  type: e.type,
  schemaVersion: e.metadata.schemaVersion,
  data: e.data,
});

/** The stored events as every read path must yield them: each one's parts, in order. */
function expected(spec: Spec, names: readonly string[], stored: readonly EventEnvelope[]) {
  return stored.flatMap((e) =>
    byHand(spec, names, e.type, e.metadata.schemaVersion ?? 1, e.data as Data).map((r, j) => ({
      id: splitEventId(e.id, j),
      streamId: e.streamId,
      version: e.version,
      globalPosition: e.globalPosition,
      type: r.type,
      // No step applied: the event as stored (a type the registry does not know stays unstamped).
      // (Every step changes the type or the version: renames and splits only name later types.)
      schemaVersion:
        r.type === e.type && r.schemaVersion === (e.metadata.schemaVersion ?? 1)
          ? e.metadata.schemaVersion
          : r.schemaVersion,
      data: r.data,
    })),
  );
}

type Log = { seen: [string, number, Data][] };

/** An aggregate that records the events it is handed: one handler per type of the run. */
class Recorder extends AggregateRoot<Log, { type: string; data: Data }> {
  readonly #names: readonly string[];
  constructor(id: string, names: readonly string[]) {
    super(id, { seen: [] });
    this.#names = names;
  }
  get log() {
    return this.state.seen;
  }
  protected override get handlers() {
    const record = (state: Log, event: AppliedEvent<{ type: string; data: Data }>) => {
      state.seen.push([event.type, event.version as number, event.data]);
    };
    return Object.fromEntries(this.#names.map((name) => [name, record]));
  }
}

export interface EvolutionDifferentialOptions {
  /** Makes a store on the shared backend with the options given (`eventRegistry` must be passed through). */
  readonly create: (options: EventStoreOptions) => EventStore;
  readonly numRuns?: number;
  readonly seed?: number;
}

const storedEvent = fc.record({
  stream: fc.integer({ min: 0, max: 1 }),
  type: fc.integer({ min: 0, max: TYPES.length - 1 }),
  version: fc.nat(),
  // Appended by the current release (stamped with the current version) rather than by the old one.
  current: fc.boolean(),
});

/** Runs the property: every read path of `create({ eventRegistry })` against the steps applied by hand. */
export async function checkEvolutionPaths(options: EvolutionDifferentialOptions): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      specArbitrary,
      fc.array(storedEvent, { minLength: 1, maxLength: 12 }),
      fc.nat(),
      fc.integer({ min: 1, max: 4 }),
      async (spec, events, cut, maxCount) => {
        // The run's own type names: other runs' events on a shared backend are types this registry does not know.
        const tag = ulid().slice(-10);
        const names = TYPES.map((type) => `${type}${tag}`);
        const registry = registryOf(spec, names);
        const old = options.create({});
        const current = options.create({ eventRegistry: registry });
        const currents = currentVersions(spec);
        const category = `Evo${tag}`;
        const streams = [`${category}-0`, `${category}-1`];
        // A store without a global feed (DynamoDB without one) has no position: its streams are read alone.
        // The newest committed position, not getLastGlobalPosition: on PostgreSQL that stops below any
        // transaction in flight on the server, which can be below the last run's events (then in the bounded read).
        const start = current.capabilities.globalOrder ? await current.getHeadPosition() : 0;
        // The tail after a snapshot: the events from `cut` on are appended after the snapshot is taken.
        const split = cut % (events.length + 1);
        const append = async (batch: typeof events) => {
          for (const e of batch) {
            const type = names[e.type] as string;
            const chain = spec[e.type] as Chain;
            // Up to the type's reach: after a split of it, the version a part that keeps it is at
            // appends (and reads as it is) too.
            const reach = (currents[e.type] as number) + (chain.end?.kind === "split" ? 1 : 0);
            const version = chain.start + (e.version % (reach - chain.start + 1));
            const data: Data = { trail: [`${type}@${version}`] };
            const streamId = streams[e.stream] as string;
            // The current release names a version above the current one only at the reach (after a split).
            const named = version > (currents[e.type] as number) ? { metadata: { schemaVersion: version } } : {};
            if (e.current) await current.appendToStream(streamId, [{ type, data, ...named }]);
            else await old.appendToStream(streamId, [{ type, data, metadata: { schemaVersion: version } }]);
          }
        };
        await append(events.slice(0, split));
        const repository = new AggregateRepository({
          store: current,
          stream: (id) => id,
          create: (id) => new Recorder(id, names),
          snapshots: { store: new InMemorySnapshotStore(), policy: () => false },
        });
        const snapshots = new InMemorySnapshotStore();
        const snapshotting = new AggregateRepository({
          store: current,
          stream: (id) => id,
          create: (id) => new Recorder(id, names),
          snapshots: { store: snapshots, policy: () => false },
        });
        for (const streamId of streams) {
          const loaded = await snapshotting.find(streamId);
          if (loaded !== undefined) await snapshots.save({ streamId, ...loaded.toSnapshot(), schemaVersion: 1 });
        }
        await append(events.slice(split));

        // The run's stored events, in the feed's order.
        const mine: EventEnvelope[] = [];
        for (const streamId of streams) for await (const e of current.readStream(streamId, { raw: true })) mine.push(e);
        mine.sort((a, b) => (a.globalPosition ?? 0) - (b.globalPosition ?? 0));
        const want = expected(spec, names, mine);
        for (const streamId of streams) {
          const storedHere = mine.filter((e) => e.streamId === streamId);
          const wantHere = expected(spec, names, storedHere);
          expect(await all(current.readStream(streamId), registry), wantHere, `readStream ${streamId}`);
          expect(
            await all(current.readStream(streamId, { direction: "backward" })),
            expected(spec, names, [...storedHere].reverse()),
            "readStream backward",
          );
          const from = 1 + (cut % Math.max(storedHere.length, 1));
          expect(
            await all(current.readStream(streamId, { fromVersion: from, maxCount })),
            expected(spec, names, storedHere.filter((e) => e.version >= from).slice(0, maxCount)),
            "readStream fromVersion and maxCount (stored events)",
          );
          expect(
            await all(current.readStream(streamId, { direction: "backward", fromVersion: from, maxCount })),
            expected(
              spec,
              names,
              storedHere
                .filter((e) => e.version <= from)
                .reverse()
                .slice(0, maxCount),
            ),
            "readStream backward from a version, maxCount (stored events, newest first; parts in order)",
          );
          // The aggregate: a full load, and the snapshot (taken before the tail) plus the tail.
          const log = wantHere.map((e) => [e.type, e.version, e.data]);
          const full = await repository.find(streamId);
          expect(full?.log ?? [], log, "repository load");
          expect(full?.version ?? 0, storedHere.length, "the aggregate's version counts stored events");
          const fromSnapshot = await snapshotting.find(streamId);
          expect(fromSnapshot?.log ?? [], log, "snapshot plus tail");
          expect(fromSnapshot?.version ?? 0, storedHere.length, "the version after a snapshot plus tail");
        }
        if (current.capabilities.globalOrder) {
          // The feed hands out a position once every transaction below it has ended (on PostgreSQL, another
          // client's open transaction holds it back a while): wait until it reaches the run's last event.
          const raw = await readable(current, start, mine.length, streams);
          const feed = (await all(current.readAll({ after: start }))).filter((e) => streams.includes(e.streamId));
          expect(feed, want, "readAll");
          const bounded = await all(current.readAll({ after: start, maxCount }));
          expect(bounded, expected(spec, names, raw.slice(0, maxCount)), "readAll maxCount (stored events)");
          expect(await subscribed(current, start, streams, want.length), want, "subscribeToAll");
          expect(await projected(current, category, want.length), want, "a projection runner");
        }
        // Positions and ids: each stored event's parts share its coordinates, and no two events share an id.
        expect(new Set(want.map((e) => e.id)).size, want.length, "distinct ids");
      },
    ),
    { numRuns: options.numRuns ?? 40, ...(options.seed === undefined ? {} : { seed: options.seed }) },
  );
}

/** The events read, as seen; each must read again unchanged (the SQS consumer re-reads what a store published). */
async function all(events: AsyncIterable<EventEnvelope>, registry?: EventRegistry): Promise<ReturnType<typeof seen>[]> {
  const out: ReturnType<typeof seen>[] = [];
  for await (const e of events) {
    if (registry !== undefined && registry.upcastEvent(e) !== e) throw new Error(`${e.type} read again changed`);
    out.push(seen(e));
  }
  return out;
}

function expect(actual: unknown, wanted: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const b = JSON.stringify(wanted);
  if (a !== b) throw new Error(`${what}:\n  got  ${a}\n  want ${b}`);
}

async function readable(store: EventStore, after: number, count: number, streams: string[]) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const raw: EventEnvelope[] = [];
    for await (const e of store.readAll({ after, raw: true })) raw.push(e);
    if (raw.filter((e) => streams.includes(e.streamId)).length >= count || Date.now() > deadline) return raw;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function subscribed(store: EventStore, after: number, streams: string[], count: number) {
  const got: ReturnType<typeof seen>[] = [];
  let done: () => void = () => undefined;
  const reached = new Promise<void>((resolve) => {
    done = resolve;
  });
  if (count === 0) done();
  const subscription = store.subscribeToAll({
    after,
    pollIntervalMs: 5,
    handler: (e) => {
      if (!streams.includes(e.streamId)) return;
      got.push(seen(e));
      if (got.length >= count) done();
    },
  });
  try {
    await Promise.race([reached, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  } finally {
    await subscription.stop();
  }
  return got;
}

async function projected(store: EventStore, category: string, count: number) {
  const got: ReturnType<typeof seen>[] = [];
  const runner = new ProjectionRunner({
    projection: projection<EventEnvelope, null>({
      name: `evolution-${category}`,
      categories: [category],
      initialState: null,
      handle: (e) => {
        got.push(seen(e));
        return null;
      },
    }),
    eventStore: store,
    readModels: new InMemoryReadModelStore(),
  });
  // The feed has reached the run's events (readable): one catch-up takes them all.
  await runner.catchUp();
  if (got.length !== count) throw new Error(`projection: ${got.length} of ${count} events`);
  return got;
}

/** What each generated append names: a type, its `schemaVersion` (none: stamped), and data good or bad for it. */
const cartEvent = fc.record({
  type: fc.constantFrom("CartOpened", "ItemAdded", "ItemPut", "Unregistered"),
  version: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
  data: fc.oneof(
    fc.record(
      {
        owner: fc.constantFrom("ada", ""),
        currency: fc.constantFrom("EUR", "EURO"),
        channel: fc.constantFrom("web", "fax"),
      },
      { requiredKeys: [] },
    ),
    fc.record(
      { sku: fc.constantFrom("tea", ""), quantity: fc.constantFrom(1, 1.5), qty: fc.constant(2) },
      { requiredKeys: [] },
    ),
    fc.jsonValue(),
  ),
});

/** The evolution fixture's schemas, as checks: the oracle of which appends pass. */
export const cartSchemas: ReadonlyMap<string, ReadonlyMap<number, (data: unknown) => boolean>> = new Map([
  [
    "CartOpened",
    new Map([
      [1, (data: unknown) => v.safeParse(CartOpenedV1, data).success],
      [3, (data: unknown) => v.safeParse(CartOpenedV3, data).success],
    ]),
  ],
  ["ItemPut", new Map([[2, (data: unknown) => v.safeParse(ItemPutV2, data).success]])],
]);

export interface ValidatedAppendOptions {
  /** Makes a store on the shared backend with the options given (`eventRegistry` must be passed through). */
  readonly create: (options: EventStoreOptions) => EventStore;
  /** The fixture cart's registry (`cartRegistry` of the testing kit's evolution fixture) and its schemas by type and version. */
  readonly registry: EventRegistry;
  readonly schemas: ReadonlyMap<string, ReadonlyMap<number, (data: unknown) => boolean>>;
  readonly numRuns?: number;
}

/**
 * Appends of generated batches through a store with the fixture's registry: a batch with an event its
 * version's schema refuses, or at a version above its type's current one, is refused whole with one
 * `ValidationError` listing exactly those events, and a raw read finds nothing written; a batch that
 * passes reads back, older versions upcast to the current one.
 */
export async function checkValidatedAppends(options: ValidatedAppendOptions): Promise<void> {
  const store = options.create({ eventRegistry: options.registry });
  await fc.assert(
    fc.asyncProperty(fc.array(cartEvent, { minLength: 1, maxLength: 5 }), async (events) => {
      const streamId = `Cart-${ulid()}`;
      const bad = events.flatMap((e, i) => {
        const current = options.registry.currentVersion(e.type);
        const version = e.version ?? current ?? 1;
        if (current !== undefined && version > current) return [i];
        const check = options.schemas.get(e.type)?.get(version);
        return check === undefined || check(e.data) ? [] : [i];
      });
      let error: unknown;
      try {
        await store.appendToStream(
          streamId,
          events.map((e) => ({
            type: e.type,
            data: e.data,
            ...(e.version === undefined ? {} : { metadata: { schemaVersion: e.version } }),
          })),
        );
      } catch (caught) {
        error = caught;
      }
      const raw: EventEnvelope[] = [];
      for await (const e of store.readStream(streamId, { raw: true })) raw.push(e);
      if (bad.length > 0) {
        const issues = (error as { code?: string; issues?: { path: unknown[] }[] })?.issues ?? [];
        expect((error as { code?: string })?.code, "VALIDATION_FAILED", "a refused batch's error");
        expect([...new Set(issues.map((issue) => issue.path[0]))], bad, "the issues name the refused events");
        expect(raw.length, 0, "nothing written (raw read)");
        return;
      }
      if (error !== undefined) throw error;
      expect(raw.length, events.length, "the batch written");
      const read: EventEnvelope[] = [];
      try {
        for await (const e of store.readStream(streamId)) read.push(e);
      } catch (failed) {
        // Data no schema checked may be data an upcaster cannot take (ItemAdded's `null`): the read
        // stops with a typed error naming the event. Data a schema checked always reads.
        const unchecked = raw.some((e) => options.schemas.get(e.type)?.has(e.metadata.schemaVersion ?? 1) !== true);
        if (!unchecked || (failed as { code?: string })?.code !== "UPCAST_FAILED") throw failed;
        return;
      }
      for (const [i, e] of read.entries()) {
        const stored = raw[i] as EventEnvelope;
        // Read at its type's current version (a renamed ItemAdded as ItemPut's); an older version that
        // its schema took reads as one the current schema takes.
        const current = options.registry.currentVersion(e.type);
        if (current !== undefined)
          expect(e.metadata.schemaVersion, current, `${stored.type} read at the current version`);
        const check = options.schemas.get(e.type)?.get(current ?? 0);
        const checkedWhenStored = options.schemas.get(stored.type)?.has(stored.metadata.schemaVersion ?? 1);
        if (check !== undefined && checkedWhenStored === true && stored.type === e.type) {
          expect(
            check(e.data),
            true,
            `${e.type} v${stored.metadata.schemaVersion} read upcast fits the current schema`,
          );
        }
      }
    }),
    { numRuns: options.numRuns ?? 100 },
  );
}
