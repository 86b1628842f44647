import { ErrorCode } from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import type { AppendToStreamOptions, ExpectedVersion, ReadStreamOptions } from "../event-store/types.js";
import type { EventEnvelope, EventMetadata, NewEvent } from "../events/envelope.js";
import { ulid } from "../ids.js";
import { assert, assertEqual, collect, eventually } from "./assert.js";

/**
 * Generated operation sequences run against a store and against a model of the contract written
 * here (a list of events per stream and the expected-version rules), compared after every step:
 * the outcome of each append (version, events, or a ConcurrencyError that wrote nothing), each read
 * (direction, start, limit), each version and existence check, and at the end the feed's order of
 * the run's events. Seeded, so a failure names the seed and step that reproduce it.
 *
 * The contract's own model, for every implementation (yours too) on every runtime, with no test
 * library: the repository's test/differential/event-store-model.ts is a fuller one (fast-check,
 * deletions, positions, error fields) that runs on this package's stores under Bun only.
 */
export interface ModelRunOptions {
  /** Operations per sequence. */
  readonly steps: number;
  /** The metadata of an event read back, without the keys the store adds by design. */
  readonly appendedPart: (metadata: EventMetadata, where: string) => Record<string, unknown>;
}

interface Stored {
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Record<string, unknown>;
}

/** A small deterministic generator (mulberry32): the same seed gives the same sequence on every runtime. */
function random(seed: number): {
  int(max: number): number;
  pick<T>(list: readonly T[]): T;
  chance(p: number): boolean;
} {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (max) => Math.floor(next() * max),
    pick: (list) => list[Math.floor(next() * list.length)] as (typeof list)[number],
    chance: (p) => next() < p,
  };
}

type Random = ReturnType<typeof random>;

const TEXTS = ["", "plain", "流れ", "😀 emoji", 'q"uote\\', "line\nbreak\ttab", "Ünïcødé", "<b>&amp;</b>"];

/** JSON data as applications store it: objects, arrays, strings, integers, decimals, booleans, null. */
function jsonValue(rnd: Random, depth: number): unknown {
  const kind = rnd.int(depth > 0 ? 7 : 5);
  if (kind === 0) return rnd.pick(TEXTS);
  if (kind === 1) return rnd.int(2_000_001) - 1_000_000;
  if (kind === 2) return (rnd.int(20_001) - 10_000) / 4;
  if (kind === 3) return rnd.chance(0.5);
  if (kind === 4) return null;
  if (kind === 5) return Array.from({ length: rnd.int(4) }, () => jsonValue(rnd, depth - 1));
  return jsonObject(rnd, depth - 1);
}

function jsonObject(rnd: Random, depth: number): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (let i = rnd.int(4); i > 0; i--)
    object[rnd.pick(["a", "zeta", "Ä", "k-1", "data", "nested value"])] = jsonValue(rnd, depth);
  return object;
}

/** The versions a read with these options gives, by the contract's rules, from a stream of `length` events. */
function versionsRead(length: number, options: ReadStreamOptions): number[] {
  const backward = options.direction === "backward";
  const from = options.fromVersion ?? (backward ? length : 1);
  const versions: number[] = [];
  if (backward) for (let v = Math.min(from, length); v >= 1; v--) versions.push(v);
  else for (let v = Math.max(from, 1); v <= length; v++) versions.push(v);
  return options.maxCount === undefined ? versions : versions.slice(0, options.maxCount);
}

function allows(expected: ExpectedVersion | undefined, version: number): boolean {
  if (expected === undefined || expected === "any") return true;
  if (expected === "no-stream") return version === 0;
  if (expected === "stream-exists") return version > 0;
  return expected === version;
}

/** One seeded sequence against `store`; throws an AssertionError naming the seed and step that differ. */
export async function runModelSequence(store: EventStore, seed: number, options: ModelRunOptions): Promise<void> {
  const rnd = random(seed);
  const run = ulid();
  const ids = [`Model_a-${run}`, `Model_流 b-${run}`, `Model_c'd;-${run}`];
  const model = new Map<string, Stored[]>(ids.map((id) => [id, []]));
  const start = store.capabilities.globalOrder ? await store.getLastGlobalPosition() : 0;
  /** The run's events in the order they were appended: what the feed must show of them. */
  const appended: string[] = [];
  const seen = (e: EventEnvelope, where: string) => ({
    type: e.type,
    data: e.data,
    metadata: options.appendedPart(e.metadata, where),
  });
  for (let step = 1; step <= options.steps; step++) {
    const id = rnd.pick(ids);
    const stored = model.get(id) as Stored[];
    const where = `seed ${seed}, step ${step}`;
    const op = rnd.int(10);
    if (op < 5) {
      const expected = rnd.pick<ExpectedVersion | undefined>([
        undefined,
        "any",
        "no-stream",
        "stream-exists",
        stored.length,
        stored.length,
        stored.length + 1,
        Math.max(stored.length - 1, 0),
      ]);
      const common = rnd.chance(0.3) ? { tag: rnd.pick(TEXTS), source: "model" } : undefined;
      const events: NewEvent[] = Array.from({ length: rnd.int(4) }, () => ({
        type: rnd.pick(["Opened", "ItemAdded", "Closed"]),
        data: rnd.chance(0.2) ? jsonValue(rnd, 2) : jsonObject(rnd, 2),
        ...(rnd.chance(0.3) ? { metadata: { source: "event", n: rnd.int(100) } } : {}),
      }));
      const appendOptions: AppendToStreamOptions = {
        ...(expected === undefined ? {} : { expectedVersion: expected }),
        ...(common === undefined ? {} : { metadata: common }),
      };
      const what = `${where}: append of ${events.length} to ${id} (${JSON.stringify(expected)}) at version ${stored.length}`;
      if (!allows(expected, stored.length)) {
        let code: unknown;
        try {
          await store.appendToStream(id, events, appendOptions);
        } catch (error) {
          code = (error as { code?: unknown }).code;
        }
        assertEqual(code, ErrorCode.Concurrency, `${what}: refused as a concurrency conflict`);
        continue;
      }
      const result = await store.appendToStream(id, events, appendOptions);
      const expectedEvents = events.map((e) => ({
        type: e.type,
        data: e.data,
        metadata: { ...common, ...e.metadata },
      }));
      assertEqual(result.nextExpectedVersion, stored.length + events.length, `${what}: next expected version`);
      assertEqual(
        result.events.map((e) => e.version),
        expectedEvents.map((_, i) => stored.length + i + 1),
        `${what}: versions`,
      );
      assertEqual(
        result.events.map((e) => seen(e, what)),
        expectedEvents,
        `${what}: the events the append returns`,
      );
      stored.push(...expectedEvents);
      for (let i = 0; i < events.length; i++) appended.push(`${id}#${stored.length - events.length + i + 1}`);
    } else if (op < 8) {
      const readOptions: ReadStreamOptions = {
        ...(rnd.chance(0.5) ? { direction: "backward" as const } : {}),
        ...(rnd.chance(0.5) ? { fromVersion: 1 + rnd.int(stored.length + 2) } : {}),
        ...(rnd.chance(0.5) ? { maxCount: rnd.int(5) } : {}),
      };
      const what = `${where}: readStream(${id}, ${JSON.stringify(readOptions)}) of ${stored.length} events`;
      const read = await collect(store.readStream(id, readOptions));
      const versions = versionsRead(stored.length, readOptions);
      assertEqual(
        read.map((e) => e.version),
        versions,
        `${what}: versions`,
      );
      assertEqual(
        read.map((e) => seen(e, what)),
        versions.map((v) => stored[v - 1]),
        `${what}: events`,
      );
      assert(
        read.every((e) => e.streamId === id),
        `${what}: every event names the stream`,
      );
    } else {
      const what = `${where}: ${id} at version ${stored.length}`;
      assertEqual(await store.getStreamVersion(id), stored.length, `${what}: getStreamVersion`);
      assertEqual(await store.streamExists(id), stored.length > 0, `${what}: streamExists`);
    }
  }
  if (!store.capabilities.globalOrder) return;
  // The feed holds the run's events in append order. A store that never skips may hold committed
  // events back while a transaction elsewhere is open (PostgreSQL), so this waits for all of them.
  await eventually(async () => {
    const feed = (await collect(store.readAll({ after: start }))).filter((e) => model.has(e.streamId));
    assertEqual(
      feed.map((e) => `${e.streamId}#${e.version}`),
      appended,
      `seed ${seed}: the feed's order of the run's events`,
    );
  });
}
