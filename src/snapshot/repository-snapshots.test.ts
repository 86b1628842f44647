import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { AggregateRoot, type AggregateSnapshot } from "../aggregate/aggregate-root.js";
import { AggregateRepository } from "../aggregate/repository.js";
import {
  ConcurrencyError,
  isSnapshotCorruptError,
  RehydrationError,
  SnapshotCorruptError,
  StreamNotFoundError,
  ValidationError,
} from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { defineStream } from "../events/stream.js";
import { ValueObject } from "../value-object.js";
import { InMemorySnapshotStore } from "./in-memory-snapshot-store.js";
import { jsonSerializer } from "./json-serializer.js";
import { msgpackSerializer } from "./msgpack-serializer.js";
import { allPolicies, anyPolicy, everyNEvents, olderThan, type SnapshotPolicy } from "./policies.js";
import type { SnapshotErrorContext } from "./repository-snapshots.js";
import type { SnapshotStore } from "./snapshot-store.js";
import type { StoredSnapshot } from "./types.js";

type TallyEvent = { type: "Counted"; data: { by: number; label: string } };
interface TallyState {
  total: number;
  byLabel: Map<string, number>;
  since: Date | undefined;
}

class Tally extends AggregateRoot<TallyState, TallyEvent> {
  constructor(id: string) {
    super(id, { total: 0, byLabel: new Map(), since: undefined });
  }
  count(by: number, label = "x") {
    this.raise("Counted", { by, label });
  }
  protected onCounted(event: TallyEvent & Partial<EventEnvelope>) {
    this.state.total += event.data.by;
    this.state.byLabel.set(event.data.label, (this.state.byLabel.get(event.data.label) ?? 0) + event.data.by);
    this.state.since ??= new Date(Date.UTC(2024, 0, 1));
  }
}

/** Counts the events read from streams, to show how much of a stream a load replays. */
class CountingEventStore extends InMemoryEventStore {
  eventsRead = 0;
  protected override async *readStreamEvents(
    streamId: string,
    options: Parameters<InMemoryEventStore["readStream"]>[1] = {},
  ) {
    for await (const event of super.readStreamEvents(streamId, options)) {
      this.eventsRead++;
      yield event;
    }
  }
}

/** Writes records as they are, so a test can leave one no serializer reads, as another tool might. */
class RawSnapshotStore extends InMemorySnapshotStore {
  put(record: Omit<StoredSnapshot, "payload" | "createdAt">) {
    return this.writeSnapshot({ ...record, payload: new Uint8Array([1]), createdAt: new Date(0).toISOString() }, 5);
  }
}

const Tallies = defineStream("Tally");

function setup(
  options: {
    snapshotStore?: SnapshotStore;
    policy?: SnapshotPolicy<Tally>;
    schemaVersion?: number;
    now?: () => number;
    create?: (id: string) => Tally;
    store?: CountingEventStore;
  } = {},
) {
  const store = options.store ?? new CountingEventStore();
  const snapshots = options.snapshotStore ?? new InMemorySnapshotStore();
  const errors: [unknown, SnapshotErrorContext][] = [];
  const repository = new AggregateRepository({
    store,
    stream: Tallies,
    create: options.create ?? ((id) => new Tally(id)),
    snapshots: {
      store: snapshots,
      policy: options.policy ?? everyNEvents(10),
      ...(options.schemaVersion === undefined ? {} : { schemaVersion: options.schemaVersion }),
      ...(options.now === undefined ? {} : { now: options.now }),
      onError: (error, context) => errors.push([error, context]),
    },
  });
  return { store, snapshots, repository, errors };
}

async function countTo(repository: AggregateRepository<Tally>, id: string, saves: number, perSave = 1) {
  for (let i = 0; i < saves; i++) {
    await repository.update(
      id,
      (tally) => {
        for (let j = 0; j < perSave; j++) tally.count(1, (i + j) % 2 === 0 ? "even" : "odd");
      },
      { createIfMissing: true },
    );
  }
  await repository.flushSnapshots();
}

/** A snapshot store whose writes fail or hang, as a broken backend's would. */
class FailingSnapshotStore extends InMemorySnapshotStore {
  mode: "reject" | "hang" | "ok" = "reject";
  release: () => void = () => undefined;
  writes = 0;
  protected override async writeSnapshot(record: StoredSnapshot, keepLast: number) {
    this.writes++;
    if (this.mode === "reject") throw new Error("snapshot backend down");
    if (this.mode === "hang") await new Promise<void>((resolve) => (this.release = resolve));
    return super.writeSnapshot(record, keepLast);
  }
}

describe("AggregateRepository with snapshots", () => {
  test("takes snapshots by policy after saves, and loads from the newest plus later events only", async () => {
    const { store, snapshots, repository, errors } = setup();
    await countTo(repository, "t1", 25);
    const newest = await snapshots.load<TallyState>("Tally-t1");
    expect(newest?.version).toBe(20);
    expect(newest?.state.total).toBe(20);
    store.eventsRead = 0;
    const loaded = await repository.load("t1");
    // From version 20 (to check the stream still has it) to 25.
    expect(store.eventsRead).toBe(6);
    expect(loaded.version).toBe(25);
    const replayed = new Tally("t1").rehydrate(await Array.fromAsync(store.readStream("Tally-t1")));
    expect(loaded.currentState).toEqual(replayed.currentState);
    expect(loaded.currentState.byLabel).toEqual(
      new Map([
        ["even", 13],
        ["odd", 12],
      ]),
    );
    expect([loaded.persistedVersion, loaded.hasChanges]).toEqual([25, false]);
    // The restored state is the aggregate's own: changing it leaves the stored snapshot as it was.
    loaded.count(100);
    expect((await repository.load("t1")).currentState.total).toBe(25);
    expect(errors).toEqual([]);
  });

  test("a save whose snapshot write rejects succeeds; the failure goes to onError and the next save retries", async () => {
    const snapshotStore = new FailingSnapshotStore();
    const { store, repository, errors } = setup({ snapshotStore });
    const tally = new Tally("t2");
    for (let i = 0; i < 10; i++) tally.count(1);
    const result = await repository.save(tally);
    expect(result.nextExpectedVersion).toBe(10);
    await repository.flushSnapshots();
    expect(errors).toHaveLength(1);
    expect(errors[0]?.[1]).toEqual({ operation: "save", streamId: "Tally-t2", version: 10 });
    expect(String(errors[0]?.[0])).toContain("snapshot backend down");
    expect(await store.getStreamVersion("Tally-t2")).toBe(10);
    snapshotStore.mode = "ok";
    tally.count(1);
    await repository.save(tally);
    await repository.flushSnapshots();
    expect((await snapshotStore.load("Tally-t2"))?.version).toBe(11);
  });

  test("a snapshot store whose save throws synchronously does not fail the save either", async () => {
    const snapshotStore = new InMemorySnapshotStore();
    snapshotStore.save = () => {
      throw new Error("sync failure");
    };
    const { repository, errors } = setup({ snapshotStore, policy: () => true });
    const tally = new Tally("t3");
    tally.count(1);
    await repository.save(tally);
    await repository.flushSnapshots();
    expect(errors.map(([e, c]) => [String(e), c.operation])).toEqual([["Error: sync failure", "save"]]);
  });

  test("a save does not wait for the snapshot write (a write that hangs does not block it)", async () => {
    const snapshotStore = new FailingSnapshotStore();
    snapshotStore.mode = "hang";
    const { repository } = setup({ snapshotStore, policy: () => true });
    const tally = new Tally("t4");
    tally.count(5);
    let flushed = false;
    await repository.save(tally);
    const flushing = repository.flushSnapshots().then(() => (flushed = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(flushed).toBe(false);
    expect(await snapshotStore.load("Tally-t4")).toBeUndefined();
    snapshotStore.release();
    await flushing;
    expect((await snapshotStore.load("Tally-t4"))?.version).toBe(1);
  });

  test("a command while the last snapshot is still being written counts from that snapshot: no second one a version later (a slow store, as PostgreSQL's, took one)", async () => {
    const snapshotStore = new FailingSnapshotStore();
    snapshotStore.mode = "hang";
    const { repository, errors } = setup({ snapshotStore, policy: everyNEvents(2) });
    const count = (by: number) => (tally: Tally) => {
      for (let i = 0; i < by; i++) tally.count(1);
    };
    await repository.update("t6", count(2), { createIfMissing: true });
    expect(snapshotStore.writes).toBe(1); // at version 2, hanging
    // A fresh load finds no snapshot stored yet; one event since the one being written is below 2.
    await repository.update("t6", count(1));
    expect(snapshotStore.writes).toBe(1);
    snapshotStore.mode = "ok";
    snapshotStore.release();
    await repository.flushSnapshots();
    await repository.update("t6", count(1));
    await repository.flushSnapshots();
    expect({ writes: snapshotStore.writes, newest: (await snapshotStore.load("Tally-t6"))?.version }).toEqual({
      writes: 2,
      newest: 4,
    });
    expect(errors).toEqual([]);
  });

  test("a snapshot write that failed is not counted: the next save snapshots again", async () => {
    const snapshotStore = new FailingSnapshotStore();
    snapshotStore.mode = "reject";
    const { repository, errors } = setup({ snapshotStore, policy: everyNEvents(2) });
    await repository.update(
      "t7",
      (tally) => {
        tally.count(1);
        tally.count(1);
      },
      { createIfMissing: true },
    );
    await repository.flushSnapshots();
    snapshotStore.mode = "ok";
    await repository.update("t7", (tally) => tally.count(1));
    await repository.flushSnapshots();
    expect({ writes: snapshotStore.writes, newest: (await snapshotStore.load("Tally-t7"))?.version }).toEqual({
      writes: 2,
      newest: 3,
    });
    expect(errors).toHaveLength(1);
  });

  test("waitUntil receives each background write", async () => {
    const handed: Promise<unknown>[] = [];
    const repository = new AggregateRepository({
      store: new InMemoryEventStore(),
      stream: Tallies,
      create: (id) => new Tally(id),
      snapshots: { store: new InMemorySnapshotStore(), policy: () => true, waitUntil: (p) => handed.push(p) },
    });
    const tally = new Tally("t5");
    tally.count(1);
    await repository.save(tally);
    expect(handed).toHaveLength(1);
    await Promise.all(handed);
  });

  test("a changed schema version ignores older snapshots, replays everything, and snapshots again", async () => {
    const store = new CountingEventStore();
    const snapshotStore = new InMemorySnapshotStore();
    const v1 = setup({ store, snapshotStore });
    await countTo(v1.repository, "t6", 12);
    expect((await snapshotStore.load("Tally-t6"))?.schemaVersion).toBe(1);

    const v2 = setup({ store, snapshotStore, schemaVersion: 2 });
    store.eventsRead = 0;
    const loaded = await v2.repository.load("t6");
    expect(store.eventsRead).toBe(12);
    expect(loaded.currentState.total).toBe(12);
    await v2.repository.flushSnapshots();
    const fresh = await snapshotStore.load("Tally-t6");
    expect([fresh?.version, fresh?.schemaVersion]).toEqual([12, 2]);
    store.eventsRead = 0;
    await v2.repository.load("t6");
    expect(store.eventsRead).toBe(1);
    expect(v2.errors).toEqual([]);

    // Old code still running (a rolling deploy) replays without overwriting the newer shape.
    store.eventsRead = 0;
    await v1.repository.load("t6");
    await v1.repository.flushSnapshots();
    expect(store.eventsRead).toBe(12);
    expect((await snapshotStore.load("Tally-t6"))?.schemaVersion).toBe(2);
  });

  test("old code that met a newer schema version takes no snapshot after its saves either", async () => {
    const store = new CountingEventStore();
    const snapshotStore = new InMemorySnapshotStore({ keepLast: Number.POSITIVE_INFINITY });
    const v2 = setup({ store, snapshotStore, schemaVersion: 2 });
    await countTo(v2.repository, "t6b", 25);
    expect((await snapshotStore.load("Tally-t6b"))?.schemaVersion).toBe(2);

    // everyNEvents(10) would say yes at once: an aggregate loaded without a usable snapshot counts all its events.
    const v1 = setup({ store, snapshotStore });
    await countTo(v1.repository, "t6b", 2);
    const newest = await snapshotStore.load("Tally-t6b");
    expect([newest?.version, newest?.schemaVersion]).toEqual([20, 2]);
    expect((await v2.repository.load("t6b")).currentState.total).toBe(27);
    expect([v1.errors, v2.errors]).toEqual([[], []]);
  });

  test("a snapshot that does not decode is reported; the load replays all events and snapshots again", async () => {
    const brittle = { ...jsonSerializer, name: "brittle" };
    const snapshotStore = new FailingSnapshotStore({ serializer: brittle });
    snapshotStore.mode = "ok";
    const { store, repository, errors } = setup({ snapshotStore });
    await countTo(repository, "t7", 10);
    expect(snapshotStore.writes).toBe(1);
    brittle.deserialize = () => {
      throw new SyntaxError("bit rot");
    };
    store.eventsRead = 0;
    const loaded = await repository.load("t7");
    expect(loaded.currentState.total).toBe(10);
    expect(store.eventsRead).toBe(10);
    expect(errors).toHaveLength(1);
    expect(isSnapshotCorruptError(errors[0]?.[0])).toBe(true);
    expect(errors[0]?.[1]).toEqual({ operation: "load", streamId: "Tally-t7" });
    await repository.flushSnapshots();
    expect(snapshotStore.writes).toBe(2);
    brittle.deserialize = jsonSerializer.deserialize;
    expect((await snapshotStore.load<TallyState>("Tally-t7"))?.state.total).toBe(10);
  });

  test("a snapshot ahead of its stream is reported and replaced; the load replays the stream", async () => {
    const { store, snapshots, repository, errors } = setup({ policy: () => false });
    await countTo(repository, "t8", 3);
    await snapshots.save({
      streamId: "Tally-t8",
      version: 50,
      state: { total: 999, byLabel: new Map(), since: undefined },
    });
    const loaded = await repository.load("t8");
    expect(loaded.version).toBe(3);
    expect(loaded.currentState.total).toBe(3);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.[0]).toBeInstanceOf(SnapshotCorruptError);
    expect(errors[0]?.[1]).toEqual({ operation: "restore", streamId: "Tally-t8", version: 50 });
    await repository.flushSnapshots();
    expect((await snapshots.load("Tally-t8"))?.version).toBe(3);
    store.eventsRead = 0;
    await repository.load("t8");
    expect(store.eventsRead).toBe(1);
    expect(errors).toHaveLength(1);
  });

  test("a snapshot of a stream that never had events (another store's, a wiped table) is reported and deleted, never restored once appends reach its version", async () => {
    const { snapshots, repository, errors } = setup({ policy: () => false });
    await snapshots.save({
      streamId: "Tally-t8n",
      version: 3,
      state: { total: 999, byLabel: new Map(), since: undefined },
    });
    expect(await repository.find("t8n")).toBeUndefined();
    expect(errors.map(([error, context]) => [error instanceof SnapshotCorruptError, context])).toEqual([
      [true, { operation: "restore", streamId: "Tally-t8n", version: 3 }],
    ]);
    await repository.flushSnapshots();
    expect(await snapshots.load("Tally-t8n")).toBeUndefined();
    await countTo(repository, "t8n", 3);
    const loaded = await repository.load("t8n");
    expect([loaded.version, loaded.currentState.total]).toEqual([3, 3]);
  });

  test("a deleted stream (soft or hard) loads as not found, with no snapshot report and its snapshots kept", async () => {
    const { store, snapshots, repository, errors } = setup();
    await countTo(repository, "t8d", 12);
    expect((await snapshots.load("Tally-t8d"))?.version).toBe(10);
    await store.deleteStream("Tally-t8d");
    for (let i = 0; i < 2; i++) {
      expect(await repository.find("t8d")).toBeUndefined();
      const failure = await repository.load("t8d").catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(StreamNotFoundError);
      expect((failure as StreamNotFoundError).code).toBe("STREAM_NOT_FOUND");
    }
    await repository.flushSnapshots();
    expect(errors).toEqual([]);
    // A soft delete is undone by a restore: the snapshot is still there and used.
    expect((await snapshots.load("Tally-t8d"))?.version).toBe(10);
    await store.restoreStream("Tally-t8d");
    store.eventsRead = 0;
    expect((await repository.load("t8d")).version).toBe(12);
    expect(store.eventsRead).toBe(3);
    await store.deleteStream("Tally-t8d", { mode: "hard" });
    await expect(repository.load("t8d")).rejects.toBeInstanceOf(StreamNotFoundError);
    await repository.flushSnapshots();
    expect(errors).toEqual([]);
  });

  test("a snapshot just before a truncation's cut (what applyRetention keeps) still loads, with the events after it", async () => {
    const { store, snapshots, repository, errors } = setup();
    await countTo(repository, "t8b", 13);
    expect((await snapshots.load("Tally-t8b"))?.version).toBe(10);
    await store.truncateStream("Tally-t8b", { before: 11 });
    store.eventsRead = 0;
    const loaded = await repository.load("t8b");
    expect(store.eventsRead).toBe(3);
    expect([loaded.version, loaded.currentState.total]).toEqual([13, 13]);
    expect(loaded.currentState.byLabel).toEqual(
      new Map([
        ["even", 7],
        ["odd", 6],
      ]),
    );
    await repository.flushSnapshots();
    expect(errors).toEqual([]);
    expect((await snapshots.load("Tally-t8b"))?.version).toBe(10);
  });

  test("a restoreSnapshot that throws is reported; the load replays from a fresh aggregate", async () => {
    class StrictTally extends Tally {
      override restoreSnapshot(snapshot: AggregateSnapshot<TallyState>): this {
        super.restoreSnapshot(snapshot);
        throw new Error("state shape check failed");
      }
    }
    const { repository, errors } = setup({ create: (id) => new StrictTally(id) });
    await countTo(repository, "t9", 10);
    const loaded = await repository.load("t9");
    expect([loaded.version, loaded.currentState.total]).toEqual([10, 10]);
    expect(errors.map(([, c]) => c.operation)).toContain("restore");
  });

  describe("value objects in the state", () => {
    class Money extends ValueObject<{ cents: number }> {
      static of(cents: number) {
        return new Money({ cents });
      }
      plus(cents: number) {
        return Money.of(this.props.cents + cents);
      }
    }
    type PurseEvent = { type: "Paid"; data: { cents: number } };
    interface PurseState {
      balance: Money;
      history: Map<string, Money>;
    }
    class Purse extends AggregateRoot<PurseState, PurseEvent> {
      constructor(id: string) {
        super(id, { balance: Money.of(0), history: new Map() });
      }
      pay(cents: number) {
        this.raise("Paid", { cents });
      }
      protected onPaid(event: PurseEvent) {
        const balance = this.state.balance.plus(event.data.cents);
        this.state = { balance, history: new Map(this.state.history).set(`n${this.state.history.size + 1}`, balance) };
      }
    }
    /** Converts its value objects to plain data and back, as snapshots.md shows. */
    class ConvertingPurse extends Purse {
      override toSnapshot(): AggregateSnapshot<PurseState> {
        const state = {
          balance: this.state.balance.props.cents,
          history: [...this.state.history].map(([key, money]) => [key, money.props.cents]),
        };
        return { version: this.persistedVersion, state: state as unknown as PurseState };
      }
      override restoreSnapshot(snapshot: AggregateSnapshot<PurseState>, options?: { owned?: boolean }): this {
        const plain = snapshot.state as unknown as { balance: number; history: [string, number][] };
        super.restoreSnapshot(snapshot, options);
        this.state = {
          balance: Money.of(plain.balance),
          history: new Map(plain.history.map(([key, cents]) => [key, Money.of(cents)])),
        };
        return this;
      }
    }
    const purses = (create: (id: string) => Purse, snapshots = new InMemorySnapshotStore()) => {
      const errors: [unknown, SnapshotErrorContext][] = [];
      const repository = new AggregateRepository({
        store: new InMemoryEventStore(),
        stream: defineStream("Purse"),
        create,
        snapshots: {
          store: snapshots,
          policy: everyNEvents(2),
          onError: (error, context) => errors.push([error, context]),
        },
      });
      return { repository, snapshots, errors };
    };

    test("a class instance in the state is a ValidationError naming its path, reported at snapshot time; saves and loads go on", async () => {
      const { repository, snapshots, errors } = purses((id) => new Purse(id));
      for (let i = 0; i < 4; i++) await repository.update("p1", (purse) => purse.pay(5), { createIfMissing: true });
      await repository.flushSnapshots();
      expect(await snapshots.load("Purse-p1")).toBeUndefined();
      expect(errors.map(([error, context]) => [error instanceof ValidationError, context])).toEqual([
        [true, { operation: "save", streamId: "Purse-p1", version: 2 }],
        [true, { operation: "save", streamId: "Purse-p1", version: 3 }],
        [true, { operation: "save", streamId: "Purse-p1", version: 4 }],
      ]);
      expect((errors[0] as [ValidationError, SnapshotErrorContext])[0].issues).toEqual([
        {
          path: ["balance"],
          message:
            "an instance of Money would come back a plain object, without its methods: override toSnapshot() and restoreSnapshot() to convert it",
        },
        { path: ["history", "n1"], message: expect.stringContaining("an instance of Money") },
      ]);
      // Before, the snapshot held {"props":{"cents":10}} and this load's next handler threw a TypeError.
      await repository.update("p1", (purse) => purse.pay(5));
      const loaded = await repository.load("p1");
      expect([loaded.version, loaded.currentState.balance.equals(Money.of(25))]).toEqual([5, true]);
    });

    test("an aggregate that converts them in toSnapshot and restoreSnapshot is snapshotted and restored with its classes", async () => {
      const { repository, snapshots, errors } = purses((id) => new ConvertingPurse(id));
      for (let i = 0; i < 4; i++) await repository.update("p2", (purse) => purse.pay(5), { createIfMissing: true });
      await repository.flushSnapshots();
      expect((await snapshots.load("Purse-p2"))?.state).toEqual({
        balance: 20,
        history: [
          ["n1", 5],
          ["n2", 10],
          ["n3", 15],
          ["n4", 20],
        ],
      });
      await repository.update("p2", (purse) => purse.pay(5));
      const loaded = await repository.load("p2");
      expect(loaded.currentState.balance.equals(Money.of(25))).toBe(true);
      expect(loaded.currentState.history.get("n4")?.plus(1).equals(Money.of(21))).toBe(true);
      expect(errors).toEqual([]);
    });

    test("a stored snapshot the handlers throw on (a value object saved as plain data) is reported and replaced; the load replays", async () => {
      const { repository, snapshots, errors } = purses((id) => new Purse(id));
      for (let i = 0; i < 3; i++) await repository.update("p3", (purse) => purse.pay(5), { createIfMissing: true });
      await repository.flushSnapshots();
      // What an older version stored: its structuredClone had made Money a plain object.
      await snapshots.save({
        streamId: "Purse-p3",
        version: 2,
        state: { balance: { props: { cents: 10 } }, history: new Map() },
      });
      errors.length = 0;
      const loaded = await repository.load("p3");
      expect([loaded.version, loaded.currentState.balance.equals(Money.of(15))]).toEqual([3, true]);
      // The handler's TypeError, as the cause of a RehydrationError naming the event it met.
      const described = ([error, context]: [unknown, SnapshotErrorContext]) => [
        error instanceof RehydrationError && error.cause instanceof TypeError && error.version === 3,
        context,
      ];
      expect(errors.map(described)).toEqual([
        [true, { operation: "restore", streamId: "Purse-p3", version: 2 }],
        [false, { operation: "save", streamId: "Purse-p3", version: 3 }],
      ]);
      await repository.flushSnapshots();
      expect(await snapshots.load("Purse-p3")).toBeUndefined();
      expect((await repository.load("p3")).version).toBe(3);
    });
  });

  test("a snapshot whose state a handler refuses with a library error (a ValidationError) is reported and replayed past too", async () => {
    // Checks its state with a typed error of the library's, as a value object's own constructor does.
    class CheckedTally extends Tally {
      protected override onCounted(event: TallyEvent & Partial<EventEnvelope>) {
        if (!(this.state.byLabel instanceof Map)) {
          throw new ValidationError("Invalid tally", [{ path: ["byLabel"], message: "must be a Map" }]);
        }
        super.onCounted(event);
      }
    }
    const { snapshots, repository, errors } = setup({ create: (id) => new CheckedTally(id) });
    await countTo(repository, "t-checked", 3);
    // An older shape stored without a schemaVersion bump: byLabel as a plain object.
    await snapshots.save({
      streamId: "Tally-t-checked",
      version: 2,
      state: { total: 2, byLabel: { even: 1, odd: 1 } },
    });
    const loaded = await repository.load("t-checked");
    expect([loaded.version, loaded.currentState.total, loaded.currentState.byLabel.get("even")]).toEqual([3, 3, 2]);
    expect(
      errors.map(([error, context]) => [(error as RehydrationError).cause instanceof ValidationError, context]),
    ).toEqual([[true, { operation: "restore", streamId: "Tally-t-checked", version: 2 }]]);
  });

  test("a policy that throws is reported and the save stands", async () => {
    const { repository, errors } = setup({
      policy: () => {
        throw new Error("policy bug");
      },
    });
    const tally = new Tally("t10");
    tally.count(1);
    expect((await repository.save(tally)).nextExpectedVersion).toBe(1);
    expect(errors.map(([, c]) => c)).toEqual([{ operation: "policy", streamId: "Tally-t10", version: 1 }]);
  });

  test("a policy that answers something other than true or false (an async one's promise) is reported; no snapshot is taken", async () => {
    for (const answer of [Promise.resolve(false), 1, "yes", undefined]) {
      const { snapshots, repository, errors } = setup({ policy: (() => answer) as unknown as SnapshotPolicy<Tally> });
      await countTo(repository, "t-policy", 2);
      expect(await snapshots.load("Tally-t-policy")).toBeUndefined();
      expect(errors.map(([error, context]) => [error instanceof ValidationError, context])).toEqual([
        [true, { operation: "policy", streamId: "Tally-t-policy", version: 1 }],
        [true, { operation: "policy", streamId: "Tally-t-policy", version: 2 }],
      ]);
    }
  });

  test("an async policy inside anyPolicy or allPolicies is reported as on its own; no snapshot is taken (it said yes after every save)", async () => {
    const asyncNo = (async () => false) as unknown as SnapshotPolicy<Tally>;
    for (const policy of [anyPolicy(asyncNo), allPolicies(asyncNo, () => true)]) {
      const { snapshots, repository, errors } = setup({ policy });
      await countTo(repository, "t-combined", 2);
      expect(await snapshots.load("Tally-t-combined")).toBeUndefined();
      expect(errors.map(([error, context]) => [error instanceof ValidationError, context])).toEqual([
        [true, { operation: "policy", streamId: "Tally-t-combined", version: 1 }],
        [true, { operation: "policy", streamId: "Tally-t-combined", version: 2 }],
      ]);
    }
  });

  test("the time policy measures from the snapshot an aggregate was loaded from", async () => {
    let now = Date.now();
    const { snapshots, repository } = setup({ policy: olderThan(60_000), now: () => now });
    await countTo(repository, "t11", 1);
    expect((await snapshots.load("Tally-t11"))?.version).toBe(1);
    await countTo(repository, "t11", 1);
    expect((await snapshots.load("Tally-t11"))?.version).toBe(1);
    now += 61_000;
    await countTo(repository, "t11", 1);
    expect((await snapshots.load("Tally-t11"))?.version).toBe(3);
  });

  test("the time policy measures a restored snapshot on the repository's clock, not the wall clock", async () => {
    // A test clock far from Date.now: the snapshot's createdAt must be on it, or the age of a snapshot
    // restored by another instance is clock minus wall time (negative here), and olderThan never fires again.
    let now = 0;
    const snapshotStore = new InMemorySnapshotStore();
    const store = new CountingEventStore();
    const first = setup({ policy: olderThan(60_000), now: () => now, snapshotStore, store });
    await countTo(first.repository, "t11b", 1);
    expect((await snapshotStore.load("Tally-t11b"))?.createdAt).toBe(new Date(0).toISOString());
    now += 61_000;
    const second = setup({ policy: olderThan(60_000), now: () => now, snapshotStore, store });
    await countTo(second.repository, "t11b", 1);
    expect((await snapshotStore.load("Tally-t11b"))?.version).toBe(2);
    expect(second.errors).toEqual([]);
  });

  test("an older-schema snapshot ahead of its stream is reported and deleted, not left the newest", async () => {
    // Left in place, it stayed the newest: every load replayed in full and wrote a snapshot that was
    // never read, until the stream caught up with it.
    const snapshotStore = new InMemorySnapshotStore({ keepLast: 5 });
    const { repository, errors } = setup({ snapshotStore, schemaVersion: 2, policy: everyNEvents(100) });
    await snapshotStore.save({ streamId: "Tally-t11c", version: 10, state: { total: 10 }, schemaVersion: 1 });
    await countTo(repository, "t11c", 3);
    expect(errors.map(([error, context]) => [isSnapshotCorruptError(error), context])).toEqual([
      [true, { operation: "restore", streamId: "Tally-t11c", version: 10 }],
    ]);
    const newest = await snapshotStore.load("Tally-t11c");
    expect([newest?.version, newest?.schemaVersion]).toEqual([1, 2]);
    expect((await repository.load("t11c")).currentState.total).toBe(3);
  });

  test("a snapshot that does not decode and is ahead of its stream is deleted, not left the newest", async () => {
    // The store names the version of the row it could not decode; left in place, the row stayed the
    // newest: every load reported it, replayed in full and wrote a snapshot that was never read.
    const snapshotStore = new RawSnapshotStore({ keepLast: 5 });
    const { repository, errors } = setup({ snapshotStore, policy: everyNEvents(100) });
    await snapshotStore.put({ streamId: "Tally-t11d", version: 10, schemaVersion: 1, encoding: "yaml" });
    await countTo(repository, "t11d", 3);
    // The first load found no events (nothing to compare), the second deleted it, the third restored version 1.
    expect(errors.map(([error, context]) => [isSnapshotCorruptError(error), context])).toEqual([
      [true, { operation: "load", streamId: "Tally-t11d" }],
      [true, { operation: "load", streamId: "Tally-t11d" }],
    ]);
    expect((await snapshotStore.load("Tally-t11d"))?.version).toBe(1);
    expect((await repository.load("t11d")).currentState.total).toBe(3);
  });

  test("update retries on a concurrent change, reloading through the snapshot", async () => {
    const { repository } = setup();
    await countTo(repository, "t12", 10);
    const b = await repository.load("t12");
    let interfere = true;
    const { attempts, aggregate } = await repository.update("t12", async (tally) => {
      if (interfere) {
        interfere = false;
        const other = await repository.load("t12");
        other.count(1);
        await repository.save(other);
      }
      tally.count(1);
    });
    expect([attempts, aggregate.version, aggregate.currentState.total]).toEqual([2, 12, 12]);
    b.count(1);
    await expect(repository.save(b)).rejects.toBeInstanceOf(ConcurrencyError);
  });

  test("invalid snapshot options are refused with a ValidationError", () => {
    const revoked = () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    };
    const base = { store: new InMemoryEventStore(), stream: Tallies, create: (id: string) => new Tally(id) };
    const snapshotStore = new InMemorySnapshotStore();
    for (const snapshots of [
      null,
      {},
      { store: {} },
      { store: snapshotStore, policy: 10 },
      { store: snapshotStore, schemaVersion: -1 },
      { store: snapshotStore, schemaVersion: "2" },
      { store: snapshotStore, onError: "log" },
      // Revoked Proxies: their TypeError escaped the check of the store, read before any guarded read.
      revoked(),
      { store: revoked() },
    ]) {
      expect(() => new AggregateRepository({ ...base, snapshots: snapshots as never })).toThrow(ValidationError);
    }
  });

  test("an invalid stream id still fails the load with a ValidationError, not a snapshot report", async () => {
    const { errors } = setup();
    const repository = new AggregateRepository({
      store: new InMemoryEventStore(),
      stream: () => "",
      create: (id) => new Tally(id),
      snapshots: { store: new InMemorySnapshotStore(), onError: (e, c) => errors.push([e, c]) },
    });
    await expect(repository.load("x")).rejects.toBeInstanceOf(ValidationError);
    expect(errors).toEqual([]);
  });

  test("whatever the saves, policy, retention, serializer, schema bumps and bad snapshots, a load equals a full replay", async () => {
    const step = fc.oneof(
      fc.record({
        kind: fc.constant("update" as const),
        counts: fc.array(fc.tuple(fc.integer({ min: -5, max: 5 }), fc.constantFrom("even", "odd", "other")), {
          maxLength: 12,
        }),
      }),
      fc.record({ kind: fc.constant("concurrent" as const), writers: fc.integer({ min: 2, max: 4 }) }),
      fc.record({ kind: fc.constant("flush" as const) }),
      fc.record({ kind: fc.constantFrom("ahead" as const, "older shape" as const) }),
      fc.record({ kind: fc.constant("schema" as const), version: fc.integer({ min: 0, max: 3 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { maxLength: 25 }),
        fc.integer({ min: 1, max: 7 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        async (steps, every, keepLast, msgpack) => {
          const [json, pack] = [jsonSerializer, msgpackSerializer()];
          const snapshotStore = new InMemorySnapshotStore({
            keepLast,
            serializer: msgpack ? pack : json,
            legacySerializers: [msgpack ? json : pack],
          });
          const store = new CountingEventStore();
          let schemaVersion = 1;
          let { repository } = setup({ store, snapshotStore, policy: everyNEvents(every), schemaVersion });
          const replay = new AggregateRepository({ store, stream: Tallies, create: (id) => new Tally(id) });
          for (const s of steps) {
            if (s.kind === "update") {
              await repository.update(
                "prop",
                (tally) => {
                  for (const [by, label] of s.counts) tally.count(by, label);
                },
                { createIfMissing: true },
              );
            } else if (s.kind === "concurrent") {
              const write = (i: number) =>
                repository.update(
                  "prop",
                  async (tally) => {
                    await Promise.resolve();
                    tally.count(i, "other");
                  },
                  { createIfMissing: true, maxAttempts: 20, baseDelayMs: 0 },
                );
              await Promise.all(Array.from({ length: s.writers }, (_, i) => write(i)));
            } else if (s.kind === "flush") {
              await repository.flushSnapshots();
            } else if (s.kind === "schema") {
              await repository.flushSnapshots();
              schemaVersion = s.version;
              ({ repository } = setup({ store, snapshotStore, policy: everyNEvents(every), schemaVersion }));
            } else {
              await repository.flushSnapshots();
              const head = await store.getStreamVersion("Tally-prop");
              // One ahead of the stream, or an older shape (byLabel a plain object) below its head.
              const version = s.kind === "ahead" ? head + 3 : head - 1;
              const state = { total: 1000, byLabel: s.kind === "ahead" ? new Map() : { odd: 1000 } };
              if (version > 0) await snapshotStore.save({ streamId: "Tally-prop", version, state, schemaVersion });
            }
            const [loaded, replayed] = [await repository.find("prop"), await replay.find("prop")];
            expect([loaded?.version, loaded?.currentState]).toEqual([replayed?.version, replayed?.currentState]);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
