import { describe, expect, test } from "bun:test";
import { recordWaits } from "../../test/fixtures/contention.ts";
import {
  AggregateBrokenError,
  ConcurrencyError,
  RehydrationError,
  StreamNotFoundError,
  ValidationError,
} from "../errors.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { defineStream } from "../events/stream.js";
import { InMemorySnapshotStore } from "../snapshot/in-memory-snapshot-store.js";
import { AggregateRoot, type EventOfType } from "./aggregate-root.js";
import { AggregateRepository } from "./repository.js";

type AccountEvent = { type: "Deposited"; data: { amount: number } } | { type: "Withdrawn"; data: { amount: number } };

class Account extends AggregateRoot<{ balance: number }, AccountEvent> {
  constructor(id: string) {
    super(id, { balance: 0 });
  }
  get balance() {
    return this.state.balance;
  }
  deposit(amount: number) {
    this.raise("Deposited", { amount });
  }
  withdraw(amount: number) {
    if (amount > this.state.balance) throw new Error("insufficient funds");
    this.raise("Withdrawn", { amount });
  }
  protected onDeposited(e: EventOfType<AccountEvent, "Deposited">) {
    this.state.balance += e.data.amount;
  }
  protected onWithdrawn(e: EventOfType<AccountEvent, "Withdrawn">) {
    this.state.balance -= e.data.amount;
  }
}

const Accounts = defineStream("Account");
const setup = () => {
  const store = new InMemoryEventStore();
  const repository = new AggregateRepository({ store, stream: Accounts, create: (id) => new Account(id) });
  return { store, repository };
};

describe("AggregateRepository", () => {
  test("saves new events under the aggregate's stream and loads them back", async () => {
    const { store, repository } = setup();
    const account = new Account("a1");
    account.deposit(100);
    account.withdraw(30);
    const result = await repository.save(account, { metadata: { correlationId: "req-1" } });
    expect(result.nextExpectedVersion).toBe(2);
    expect(account.hasChanges).toBe(false);
    expect(account.persistedVersion).toBe(2);
    const loaded = await repository.load("a1");
    expect(loaded.balance).toBe(70);
    expect(loaded.version).toBe(2);
    const [first] = await Array.fromAsync(store.readStream("Account-a1"));
    expect(first?.metadata.correlationId).toBe("req-1");
  });

  test("load throws StreamNotFoundError; find returns undefined", async () => {
    const { repository } = setup();
    expect(await repository.find("missing")).toBeUndefined();
    await expect(repository.load("missing")).rejects.toBeInstanceOf(StreamNotFoundError);
  });

  test("saving a new aggregate over an existing stream is a ConcurrencyError", async () => {
    const { repository } = setup();
    const first = new Account("dup");
    first.deposit(1);
    await repository.save(first);
    const second = new Account("dup");
    second.deposit(2);
    await expect(repository.save(second)).rejects.toBeInstanceOf(ConcurrencyError);
  });

  test("a stale aggregate cannot overwrite a newer one", async () => {
    const { repository } = setup();
    const account = new Account("a2");
    account.deposit(10);
    await repository.save(account);
    const one = await repository.load("a2");
    const two = await repository.load("a2");
    one.deposit(5);
    await repository.save(one);
    two.withdraw(10);
    const error = await repository.save(two).catch((e) => e);
    expect(error).toBeInstanceOf(ConcurrencyError);
    expect((error as ConcurrencyError).actualVersion).toBe(2);
    expect((await repository.load("a2")).balance).toBe(15);
  });

  test("events raised while a save is in flight stay uncommitted, and the next save stores them", async () => {
    const { store, repository } = setup();
    const account = new Account("racing");
    account.deposit(10);
    const saving = repository.save(account);
    account.deposit(5); // raised after the append took its events, before it returned
    const result = await saving;
    expect(result.nextExpectedVersion).toBe(1);
    expect(account.persistedVersion).toBe(1);
    expect(account.version).toBe(2);
    expect(account.uncommittedEvents).toEqual([{ type: "Deposited", data: { amount: 5 } }]);
    expect((await repository.save(account)).nextExpectedVersion).toBe(2);
    expect(account.hasChanges).toBe(false);
    const loaded = await repository.load("racing");
    expect([loaded.version, loaded.balance]).toEqual([2, 15]);
    expect(await store.getStreamVersion("Account-racing")).toBe(2);
  });

  test("no snapshot is taken of a state holding events raised during the save", async () => {
    const store = new InMemoryEventStore();
    const snapshots = new InMemorySnapshotStore();
    const repository = new AggregateRepository({
      store,
      stream: Accounts,
      create: (id) => new Account(id),
      snapshots: { store: snapshots, policy: () => true },
    });
    const account = new Account("snap");
    account.deposit(10);
    const saving = repository.save(account);
    account.deposit(5);
    await saving;
    await repository.flushSnapshots();
    // A snapshot at version 1 holding 15 would outlive the unsaved deposit.
    expect(await snapshots.load("Account-snap")).toBeUndefined();
    await repository.save(account);
    await repository.flushSnapshots();
    expect(await snapshots.load("Account-snap")).toMatchObject({ version: 2, state: { balance: 15 } });
  });

  test("update retries on a concurrent change and decides again on fresh state", async () => {
    const { store, repository } = setup();
    const account = new Account("a3");
    account.deposit(50);
    await repository.save(account);
    let calls = 0;
    const outcome = await repository.update("a3", async (current) => {
      calls++;
      if (calls === 1) {
        // Someone else withdraws while we decide.
        await store.appendToStream("Account-a3", [{ type: "Withdrawn", data: { amount: 20 } }]);
      }
      current.withdraw(25);
      return current.balance;
    });
    expect(calls).toBe(2);
    expect(outcome.attempts).toBe(2);
    expect(outcome.result).toBe(5);
    expect((await repository.load("a3")).balance).toBe(5);
  });

  test("update gives up after maxAttempts with the ConcurrencyError", async () => {
    const { store, repository } = setup();
    const account = new Account("a4");
    account.deposit(1);
    await repository.save(account);
    let calls = 0;
    const attempt = repository.update(
      "a4",
      async (current) => {
        calls++;
        await store.appendToStream("Account-a4", [{ type: "Deposited", data: { amount: 1 } }]);
        current.deposit(1);
      },
      { maxAttempts: 2 },
    );
    await expect(attempt).rejects.toBeInstanceOf(ConcurrencyError);
    expect(calls).toBe(2);
  });

  test("5 and 10 concurrent updates of one aggregate all succeed with the default settings", async () => {
    const { repository } = setup();
    for (const writers of [5, 10]) {
      const id = `busy-${writers}`;
      await repository.update(id, (account) => account.deposit(1), { createIfMissing: true });
      const outcomes = await Promise.allSettled(
        Array.from({ length: writers }, () =>
          repository.update(id, async (account) => {
            await Promise.resolve(); // yield, as a handler awaiting I/O would: every writer loads the same version
            account.deposit(1);
          }),
        ),
      );
      expect(outcomes.filter((outcome) => outcome.status === "rejected")).toEqual([]);
      expect((await repository.load(id)).balance).toBe(writers + 1);
    }
  });

  test("a retry waits a random time up to baseDelayMs, doubled each retry; the first attempt never waits", async () => {
    const { store, repository } = setup();
    await repository.update("slow", (account) => account.deposit(1), { createIfMissing: true });
    const { waits, restore } = recordWaits();
    try {
      await repository.update("slow", (account) => account.deposit(1));
      expect(waits).toEqual([]);
      let calls = 0;
      const conflicting = await repository.update(
        "slow",
        async (account) => {
          // Someone else appends in between, twice.
          if (++calls <= 2) await store.appendToStream("Account-slow", [{ type: "Deposited", data: { amount: 1 } }]);
          account.deposit(1);
        },
        { baseDelayMs: 40 },
      );
      expect(conflicting.attempts).toBe(3);
      expect(waits.map(Math.round)).toEqual([40, 80]);
      waits.length = 0;
      calls = 0;
      const atOnce = await repository.update(
        "slow",
        async (account) => {
          if (++calls <= 1) await store.appendToStream("Account-slow", [{ type: "Deposited", data: { amount: 1 } }]);
          account.deposit(1);
        },
        { baseDelayMs: 0 },
      );
      expect([atOnce.attempts, waits]).toEqual([2, []]);
    } finally {
      restore();
    }
    for (const bad of [-1, Number.NaN, "10", 2 ** 31]) {
      await expect(
        repository.update("slow", (account) => account.deposit(1), { baseDelayMs: bad as number }),
      ).rejects.toMatchObject({
        code: "VALIDATION_FAILED",
        message: expect.stringMatching(/^Invalid update options: baseDelayMs: must be a number of milliseconds/),
        issues: [{ path: ["baseDelayMs"] }],
      });
    }
    expect((await repository.load("slow")).balance).toBe(7);
  });

  test("update does not retry other errors, and createIfMissing starts a new aggregate", async () => {
    const { repository } = setup();
    await expect(repository.update("none", (a) => a.deposit(1))).rejects.toBeInstanceOf(StreamNotFoundError);
    const created = await repository.update("new", (a) => a.deposit(3), { createIfMissing: true });
    expect(created.aggregate.balance).toBe(3);
    let calls = 0;
    const failing = repository.update("new", (a) => {
      calls++;
      a.withdraw(1000);
    });
    await expect(failing).rejects.toThrow("insufficient funds");
    expect(calls).toBe(1);
    await expect(repository.update("new", () => undefined, { maxAttempts: 0 })).rejects.toBeInstanceOf(ValidationError);
  });

  test("null options to save and update are no options, never a TypeError; options of another kind are refused", async () => {
    const repository = new AggregateRepository({
      store: new InMemoryEventStore(),
      stream: defineStream("Account"),
      create: (id) => new Account(id),
    });
    const account = new Account("n-1");
    account.deposit(5);
    for (const options of ["fast", 3, [], true]) {
      const refused = await repository.save(account, options as never).catch((e) => e);
      expect(refused).toBeInstanceOf(ValidationError);
    }
    expect(account.hasChanges).toBe(true);
    expect((await repository.save(account, null)).nextExpectedVersion).toBe(1);
    for (const options of ["fast", 3, [], true]) {
      const refused = await repository.update("n-1", (loaded) => loaded.deposit(1), options as never).catch((e) => e);
      expect(refused).toBeInstanceOf(ValidationError);
    }
    const updated = await repository.update("n-1", (loaded) => loaded.deposit(1), null);
    expect([updated.attempts, updated.aggregate.balance]).toEqual([1, 6]);
  });

  test("options, aggregates and decide functions of the wrong kind are ValidationErrors, never TypeErrors", async () => {
    const issuesOf = async (action: () => unknown) => {
      try {
        await action();
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues;
      }
      throw new Error("expected a ValidationError");
    };
    expect(
      await issuesOf(
        () => new AggregateRepository({ store: 5, stream: undefined, create: "new", telemetry: 1 } as never),
      ),
    ).toEqual([
      { path: ["store"], message: "must be an EventStore, got 5" },
      { path: ["stream"], message: "must be defineStream(...) or a function from id to stream name, got undefined" },
      { path: ["create"], message: 'must be a function, got "new"' },
      { path: ["telemetry"], message: "must be a boolean, got 1" },
    ]);
    expect(await issuesOf(() => new AggregateRepository(null as never))).toEqual([
      { path: [], message: "expected { store, stream, create }, got null" },
    ]);
    const store = new InMemoryEventStore();
    const junk = new AggregateRepository({ store, stream: Accounts, create: () => ({}) as Account });
    const created = [{ path: ["create"], message: "must return an aggregate (an AggregateRoot), got object" }];
    expect(await issuesOf(() => junk.find("j-1"))).toEqual(created);
    expect(await issuesOf(() => junk.update("j-1", () => undefined, { createIfMissing: true }))).toEqual(created);
    const { repository } = setup();
    expect(await issuesOf(() => repository.save(null as never))).toEqual([
      { path: [], message: "save takes an aggregate (an AggregateRoot), got null" },
    ]);
    expect(await issuesOf(() => repository.update("d-1", 5 as never, { createIfMissing: true }))).toEqual([
      { path: ["decide"], message: "must be a function, got 5" },
    ]);
    expect(await store.streamExists("Account-j-1")).toBe(false);
  });

  test("a handler that throws on a stored event fails load, find and update with a RehydrationError; nothing is written", async () => {
    const { store, repository } = setup();
    // A Withdrawn the current handler refuses: an earlier version of the code allowed overdrafts.
    class StrictAccount extends Account {
      protected override onWithdrawn(e: EventOfType<AccountEvent, "Withdrawn">) {
        if (e.data.amount > this.balance) throw new RangeError("overdrawn");
        super.onWithdrawn(e);
      }
    }
    await store.appendToStream("Account-old", [
      { type: "Deposited", data: { amount: 5 } },
      { type: "Withdrawn", data: { amount: 10 } },
    ]);
    const strict = new AggregateRepository({ store, stream: Accounts, create: (id) => new StrictAccount(id) });
    for (const attempt of [
      () => strict.load("old"),
      () => strict.find("old"),
      () => strict.update("old", (account) => account.deposit(1)),
    ]) {
      const error = await attempt().catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(RehydrationError);
      expect(error).toMatchObject({ aggregate: "StrictAccount", streamId: "Account-old", version: 2 });
    }
    expect(await store.getStreamVersion("Account-old")).toBe(2);
    expect((await repository.load("old")).balance).toBe(-5);
  });

  test("a handler that raises events fails the load: update never saves what a replay raised", async () => {
    const { store } = setup();
    // Pays interest from inside the handler of every deposit: each load would raise it again.
    class EagerAccount extends Account {
      protected override onDeposited(e: EventOfType<AccountEvent, "Deposited">) {
        super.onDeposited(e);
        if (e.data.amount > 1) this.raise("Deposited", { amount: 1 });
      }
    }
    await store.appendToStream("Account-eager", [{ type: "Deposited", data: { amount: 5 } }]);
    const eager = new AggregateRepository({ store, stream: Accounts, create: (id) => new EagerAccount(id) });
    const error = await eager.update("eager", (account) => account.withdraw(1)).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(RehydrationError);
    expect((error as RehydrationError).cause).toBeInstanceOf(ValidationError);
    expect(await store.getStreamVersion("Account-eager")).toBe(1);
    // Raised from the handler of a decision's event, it is refused there too, and nothing is recorded;
    // the handler had already added the 5 to the balance, so the aggregate refuses to go on.
    const fresh = new EagerAccount("new");
    expect(() => fresh.deposit(5)).toThrow(ValidationError);
    expect(fresh.version).toBe(0);
    expect(() => fresh.uncommittedEvents).toThrow(AggregateBrokenError);
    expect(() => fresh.deposit(1)).toThrow(AggregateBrokenError);
    const again = new EagerAccount("new");
    again.deposit(1);
    expect([again.version, again.uncommittedEvents]).toEqual([1, [{ type: "Deposited", data: { amount: 1 } }]]);
  });

  test("a function can name the streams", async () => {
    const store = new InMemoryEventStore();
    const repository = new AggregateRepository({
      store,
      stream: (id) => `acct:${id}`,
      create: (id) => new Account(id),
    });
    const account = new Account("z");
    account.deposit(1);
    await repository.save(account);
    expect(await store.streamExists("acct:z")).toBe(true);
    expect(repository.streamIdOf("z")).toBe("acct:z");
  });
});

describe("AggregateRepository: save and update refuse keys their options do not take", () => {
  const refusal = async (action: () => Promise<unknown>) => {
    const error = await action().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues;
  };

  test("a misspelt metadata is refused by name before anything is written, not saved without it", async () => {
    const { store, repository } = setup();
    const account = new Account("k-1");
    account.deposit(5);
    expect(await refusal(() => repository.save(account, { metdata: { correlationId: "r" } } as never))).toEqual([
      { path: ["metdata"], message: "is not an option (the options are metadata)" },
    ]);
    expect(account.hasChanges).toBe(true);
    expect(await store.streamExists("Account-k-1")).toBe(false);
  });

  test("update names each misspelt key (a retry setting dropped for its default), before decide runs", async () => {
    const { store, repository } = setup();
    let decided = 0;
    const issues = await refusal(() =>
      repository.update("k-2", () => decided++, { createIfMising: true, maxAttempt: 1 } as never),
    );
    expect(issues.map((issue) => issue.path)).toEqual([["createIfMising"], ["maxAttempt"]]);
    expect(issues[0]?.message).toBe(
      "is not an option (the options are metadata, maxAttempts, baseDelayMs, createIfMissing)",
    );
    expect(decided).toBe(0);
    expect(await store.streamExists("Account-k-2")).toBe(false);
    // update's own keys are still update's, not refused by the save it makes.
    const updated = await repository.update("k-2", (account) => account.deposit(1), {
      createIfMissing: true,
      maxAttempts: 2,
      baseDelayMs: 0,
      metadata: { correlationId: "r-2" },
    });
    expect(updated.aggregate.balance).toBe(1);
  });
});

describe("an aggregate whose persistedVersion is no version", () => {
  test("save is a ValidationError and appends nothing (an undefined expected version would be 'any')", async () => {
    const { store, repository } = setup();
    const account = new Account("acc-1");
    account.deposit(10);
    await repository.save(account);
    const stale = await repository.load("acc-1");
    Object.defineProperty(stale, "persistedVersion", { get: () => undefined });
    stale.deposit(5);
    await expect(repository.save(stale)).rejects.toBeInstanceOf(ValidationError);
    expect((await Array.fromAsync(store.readStream("Account-acc-1"))).length).toBe(1);
  });
});
