import { type ConcurrencyError, ErrorCode, isValidationError } from "../errors.js";
import { ulid } from "../ids.js";
import { type SagaStore, sagaTimeoutId } from "../sagas/saga-store.js";
import type { SagaCommit, SagaTimeout } from "../sagas/types.js";
import { assert, assertEqual, assertRejects } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";

/** What a store under test is made with: its state limit must be this. */
export interface SagaStoreContractSettings {
  readonly maxStateBytes: number;
}

export interface SagaStoreContractOptions {
  readonly name: string;
  readonly create: (settings: SagaStoreContractSettings) => SagaStore | Promise<SagaStore>;
  /**
   * Whether the store tells when its next timeout is due (`nextDueAt`), which alarm drivers sleep
   * until (default true). A store that cannot says false: the case then checks it answers undefined.
   */
  readonly nextDue?: boolean;
  /**
   * Whether the store tells if a timeout is still pending (`isTimeoutPending`), which the runtime
   * asks before firing one it claimed (default true). A store that cannot says false: the case then
   * checks it answers undefined.
   */
  readonly timeoutPending?: boolean;
}

const MAX_STATE_BYTES = 4096;

/**
 * The behaviour every SagaStore must have. Saga names are fresh ULIDs per case, so a backend may
 * keep one table for all cases; times are the suite's, so leases need no waiting.
 */
export function sagaStoreContract(options: SagaStoreContractOptions): ContractSuite {
  checkContractOptions("sagaStoreContract", options, { values: ["nextDue", "timeoutPending"], functions: ["create"] });
  const cases: ContractCase[] = [];
  const add = (name: string, run: (store: SagaStore, saga: string) => Promise<void>, timeoutMs?: number) =>
    cases.push({
      name,
      run: async () => run(await options.create({ maxStateBytes: MAX_STATE_BYTES }), `Saga-${ulid()}`),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    });

  const first = (saga: string, key: string, extra: Partial<SagaCommit> = {}): SagaCommit => ({
    saga,
    key,
    expectedVersion: 0,
    state: { n: 1 },
    status: "running",
    step: 0,
    compensations: [],
    ...extra,
  });
  const timeout = (saga: string, key: string, name: string, dueAt: number, version = 1): SagaTimeout => ({
    id: sagaTimeoutId(saga, key, name, version),
    saga,
    key,
    name,
    dueAt,
    data: { name },
  });

  add("a new instance is saved at version 1 and loads back as saved", async (store, saga) => {
    assertEqual(await store.load(saga, "k"), undefined, "nothing before");
    const entry = { id: `${saga}/k/1`, type: "Reserve", payload: { sku: "A" }, causationId: "e1", compensation: false };
    const version = await store.commit(
      first(saga, "k", {
        state: { n: 1, name: "Zoë" },
        step: 1,
        handledId: "e1",
        outbox: [entry],
        compensations: [{ type: "Release", payload: { sku: "A" } }],
      }),
    );
    assertEqual(version, 1);
    const record = await store.load(saga, "k");
    assertEqual(record?.version, 1);
    assertEqual(record?.state, { n: 1, name: "Zoë" });
    assertEqual(record?.status, "running");
    assertEqual(record?.step, 1);
    assertEqual(record?.outbox, [entry]);
    assertEqual(record?.compensations, [{ type: "Release", payload: { sku: "A" } }]);
    assertEqual(record?.attention, undefined);
  });

  add("a commit at a stale version conflicts and writes nothing", async (store, saga) => {
    await store.commit(first(saga, "k"));
    const error = await assertRejects(
      () => store.commit(first(saga, "k", { state: { n: 2 }, handledId: "e2" })),
      ErrorCode.Concurrency,
    );
    assert(String((error as Error).message).includes(saga), "the message names the instance");
    assertEqual((await store.load(saga, "k"))?.state, { n: 1 });
    assertEqual(await store.hasHandled(saga, "k", "e2"), false, "the handled id of a refused commit");
  });

  add("of concurrent commits at one version, exactly one wins", async (store, saga) => {
    await store.commit(first(saga, "k"));
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        store.commit({ ...first(saga, "k"), expectedVersion: 1, state: { n: i }, handledId: `e${i}` }),
      ),
    );
    assertEqual(results.filter((r) => r.status === "fulfilled").length, 1, "winners");
    const record = await store.load(saga, "k");
    assertEqual(record?.version, 2);
    const handled = await Promise.all(Array.from({ length: 8 }, (_, i) => store.hasHandled(saga, "k", `e${i}`)));
    assertEqual(handled.filter(Boolean).length, 1, "handled ids recorded");
  });

  add("a handled id is remembered; committing it again conflicts even at the right version", async (store, saga) => {
    await store.commit(first(saga, "k", { handledId: "e1" }));
    assertEqual(await store.hasHandled(saga, "k", "e1"), true);
    assertEqual(await store.hasHandled(saga, "k", "e2"), false);
    assertEqual(await store.hasHandled(saga, "other", "e1"), false, "per instance");
    const error = await assertRejects(
      () => store.commit({ ...first(saga, "k"), expectedVersion: 1, handledId: "e1" }),
      ErrorCode.Concurrency,
    );
    // Nothing was written: the conflict reports the version stored, which is the one expected.
    assertEqual(
      [(error as ConcurrencyError).expectedVersion, (error as ConcurrencyError).actualVersion],
      [1, 1],
      "the conflict's expected and actual versions",
    );
    assertEqual((await store.load(saga, "k"))?.version, 1);
  });

  add("outbox entries stay until marked dispatched; marking twice is harmless", async (store, saga) => {
    const entry = (n: number) => ({
      id: `${saga}/k/${n}`,
      type: "Cmd",
      payload: { n },
      causationId: "e",
      compensation: false,
    });
    await store.commit(first(saga, "k", { outbox: [entry(1), entry(2)], step: 2 }));
    await store.commit({ ...first(saga, "k"), expectedVersion: 1, outbox: [entry(3)], step: 3 });
    assertEqual(
      (await store.load(saga, "k"))?.outbox.map((e) => e.id),
      [1, 2, 3].map((n) => `${saga}/k/${n}`),
    );
    await store.markDispatched(saga, "k", `${saga}/k/2`);
    await store.markDispatched(saga, "k", `${saga}/k/2`);
    assertEqual(
      (await store.load(saga, "k"))?.outbox.map((e) => e.id),
      [`${saga}/k/1`, `${saga}/k/3`],
    );
    assertEqual((await store.list({ saga, pendingOutbox: true })).length, 1);
    await store.markDispatched(saga, "k", `${saga}/k/1`);
    await store.markDispatched(saga, "k", `${saga}/k/3`);
    assertEqual((await store.list({ saga, pendingOutbox: true })).length, 0);
  });

  add("a state that is not JSON, or too large, is refused before anything is written", async (store, saga) => {
    const entry = { id: `${saga}/k/1`, type: "Cmd", payload: {}, causationId: "e", compensation: false };
    await assertRejects(
      () => store.commit(first(saga, "k", { state: { at: new Date() }, handledId: "e", outbox: [entry] })),
      ErrorCode.Validation,
    );
    await assertRejects(
      () =>
        store.commit(
          first(saga, "k", { state: { big: "x".repeat(MAX_STATE_BYTES) }, handledId: "e", outbox: [entry] }),
        ),
      ErrorCode.PayloadTooLarge,
    );
    await assertRejects(
      () => store.commit(first(saga, "k", { outbox: [{ ...entry, payload: { n: 1n } }], handledId: "e" })),
      ErrorCode.Validation,
    );
    await assertRejects(() => store.commit(first(saga, "", {})), ErrorCode.Validation);
    assertEqual(await store.load(saga, "k"), undefined);
    assertEqual(await store.hasHandled(saga, "k", "e"), false);
    await store.commit(first(saga, "k", { state: { big: "x".repeat(MAX_STATE_BYTES - 20) } }));
  });

  add(
    "U+0000 in a state, payload, compensation, timeout data or attention is refused by every store",
    async (store, saga) => {
      const entry = { id: `${saga}/k/1`, type: "Cmd", payload: {}, causationId: "e", compensation: false };
      const attention = {
        entryId: entry.id,
        commandType: "Cmd",
        error: "x",
        attempts: 1,
        at: "",
        resumeStatus: "running",
      };
      const nul = [
        { state: { note: "a\u0000b" } },
        { state: { "\u0000": 1 } },
        { outbox: [{ ...entry, payload: { note: "\u0000" } }] },
        { compensations: [{ type: "Undo", payload: ["\u0000"] }] },
        { schedule: [{ ...timeout(saga, "k", "a", 0), data: { note: "\u0000" } }] },
        { attention: { ...attention, error: "boom\u0000" } as SagaCommit["attention"] },
      ];
      for (const [i, extra] of nul.entries()) {
        await assertRejects(
          () => store.commit(first(saga, "k", { ...extra, handledId: "e" })),
          ErrorCode.Validation,
          `case ${i}`,
        );
      }
      assertEqual(await store.load(saga, "k"), undefined, "nothing written");
      assertEqual(await store.hasHandled(saga, "k", "e"), false);
    },
  );

  add("ids that no store can keep alike are refused before anything is written", async (store, saga) => {
    const entry = { id: `${saga}/k/1`, type: "Cmd", payload: {}, causationId: "e", compensation: false };
    const bad: Partial<SagaCommit>[] = [
      { handledId: "e\u0000" },
      { handledId: "\ud800" },
      { outbox: [{ ...entry, id: "" }] },
      { outbox: [{ ...entry, causationId: "e\u0000" }] },
      { outbox: [entry, { ...entry, payload: { n: 2 } }] },
      { schedule: [timeout(saga, "k", "a", 0), { ...timeout(saga, "k", "a", 5), id: `${saga}/k/t/a/9` }] },
      { schedule: [{ ...timeout(saga, "k", "a", 0), id: `${saga}/k/t/b/1` }] },
      // A / of the name unescaped in the id: instance k/t/x's timeout y would have the same id.
      { schedule: [{ ...timeout(saga, "k", "x/t/y", 0), id: `${saga}/k/t/x/t/y/1` }] },
      { schedule: [{ ...timeout(saga, "other", "a", 0) }] },
      { schedule: [timeout(saga, "k", "a", 1e300)] },
      // Before 1970: DynamoDB's due index sorted a negative due time's tie-breaker the wrong way.
      { schedule: [timeout(saga, "k", "a", -1000)] },
      { cancel: ["a\u0000"] },
      { firedTimeoutId: `${saga}/other/t/a/1` },
      { status: "paused" as SagaCommit["status"] },
      { step: 1.5 },
      { step: 2 ** 31 },
      { expectedVersion: 2 ** 31 },
    ];
    for (const [i, extra] of bad.entries()) {
      await assertRejects(() => store.commit(first(saga, "k", { ...extra })), ErrorCode.Validation, `case ${i}`);
    }
    assertEqual(await store.load(saga, "k"), undefined, "nothing written");
    await assertRejects(() => store.hasHandled(saga, "k", "e\u0000"), ErrorCode.Validation);
    await assertRejects(() => store.markDispatched(saga, "k", ""), ErrorCode.Validation);
    await assertRejects(() => store.dropTimeout("t\u0000"), ErrorCode.Validation);
    await assertRejects(
      () => store.claimDueTimeouts({ now: 1e300, owner: "o", leaseMs: 1, limit: 1 }),
      ErrorCode.Validation,
    );
    await assertRejects(() => store.list({ saga, status: "paused" as SagaCommit["status"] }), ErrorCode.Validation);
    const failure = { saga, key: "k", eventId: "e", eventType: "T", error: "x\u0000", at: "" };
    await assertRejects(() => store.recordFailure(failure), ErrorCode.Validation);
    assertEqual(await store.failures({ saga }), []);
  });

  add("arguments of the wrong kind (from JavaScript) are a ValidationError, not a TypeError", async (store, saga) => {
    for (const wrong of [null, "k", 42, true]) {
      await assertRejects(() => store.commit(wrong as never), ErrorCode.Validation, `commit(${String(wrong)})`);
      let thrown: unknown;
      try {
        store.check(wrong as never);
      } catch (error) {
        thrown = error;
      }
      assertEqual(isValidationError(thrown), true, `check(${String(wrong)})`);
      await assertRejects(() => store.claimDueTimeouts(wrong as never), ErrorCode.Validation, "claimDueTimeouts");
    }
    for (const wrong of ["all", 42, [saga]]) {
      await assertRejects(() => store.list(wrong as never), ErrorCode.Validation, `list(${String(wrong)})`);
      await assertRejects(() => store.failures(wrong as never), ErrorCode.Validation, `failures(${String(wrong)})`);
    }
    // No options, given as null, are the defaults as they are when left out.
    assertEqual(Array.isArray(await store.list(null)), true, "list(null)");
    assertEqual(Array.isArray(await store.failures(null)), true, "failures(null)");
    assertEqual(await store.load(saga, "k"), undefined, "nothing written");
  });

  add("an outbox entry id still pending is refused, and the commit writes nothing", async (store, saga) => {
    const entry = { id: `${saga}/k/1`, type: "Cmd", payload: {}, causationId: "e1", compensation: false };
    await store.commit(first(saga, "k", { outbox: [entry] }));
    await assertRejects(
      () =>
        store.commit({
          ...first(saga, "k"),
          expectedVersion: 1,
          handledId: "e2",
          outbox: [{ ...entry, payload: { n: 2 } }],
        }),
      ErrorCode.Validation,
    );
    const record = await store.load(saga, "k");
    assertEqual([record?.version, record?.outbox], [1, [entry]]);
    assertEqual(await store.hasHandled(saga, "k", "e2"), false, "the handled id of a refused commit");
    await store.markDispatched(saga, "k", entry.id);
    await store.commit({ ...first(saga, "k"), expectedVersion: 1, outbox: [entry] });
    assertEqual((await store.load(saga, "k"))?.outbox, [entry], "once dispatched, an id may come again");
  });

  add(
    "a timeout rescheduled under its own id replaces it, free again; dropping it then drops it",
    async (store, saga) => {
      // January 1970 (due times are not negative): before any other case's timeouts in a shared table.
      const base = 1_000_000_000 + Math.floor(Math.random() * 1_000_000);
      const due = async (at: number, owner: string) =>
        (await store.claimDueTimeouts({ now: at, owner, leaseMs: 60_000, limit: 100 })).filter((t) => t.saga === saga);
      const t = timeout(saga, "k", "a", base + 5);
      await store.commit(first(saga, "k", { schedule: [t] }));
      assertEqual((await due(base + 10, "one")).length, 1, "claimed");
      await store.commit({ ...first(saga, "k"), expectedVersion: 1, schedule: [t] });
      assertEqual(
        (await due(base + 10, "two")).map((x) => x.dueAt),
        [base + 5],
        "same id and due time: free again",
      );
      await store.commit({ ...first(saga, "k"), expectedVersion: 2, schedule: [{ ...t, dueAt: base + 7.5 }] });
      await store.dropTimeout(t.id);
      assertEqual(await due(base + 100, "three"), [], "dropped after a reschedule at another time");
      await store.commit({ ...first(saga, "k"), expectedVersion: 3, schedule: [{ ...t, dueAt: base + 7.5 }] });
      assertEqual(
        (await due(base + 7.9, "four")).map((x) => x.dueAt),
        [base + 7],
        "due times are whole milliseconds",
      );
      // Finished: nothing of this case is due in the other cases' ranges (a shared table).
      await store.commit({ ...first(saga, "k"), expectedVersion: 4, status: "completed" });
    },
  );

  add("due timeouts are claimed once per lease, oldest first; future ones wait", async (store, saga) => {
    const now = Date.now();
    await store.commit(
      first(saga, "k", {
        schedule: [
          timeout(saga, "k", "b", now - 10),
          timeout(saga, "k", "a", now - 20),
          timeout(saga, "k", "c", now + 60_000),
        ],
      }),
    );
    const claimed = (await store.claimDueTimeouts({ now, owner: "one", leaseMs: 1000, limit: 100 })).filter(
      (t) => t.saga === saga,
    );
    assertEqual(
      claimed.map((t) => t.name),
      ["a", "b"],
    );
    assertEqual(claimed[0]?.data, { name: "a" });
    const again = await store.claimDueTimeouts({ now: now + 999, owner: "two", leaseMs: 1000, limit: 100 });
    assertEqual(again.filter((t) => t.saga === saga).length, 0, "held by the lease");
    const expired = await store.claimDueTimeouts({ now: now + 1000, owner: "two", leaseMs: 1000, limit: 100 });
    assertEqual(
      expired.filter((t) => t.saga === saga).map((t) => t.name),
      ["a", "b"],
      "after the lease expires",
    );
  });

  add("a claim for some sagas takes only their timeouts and leaves the others free", async (store, saga) => {
    const now = Date.now();
    const other = `${saga}-other`;
    await store.commit(first(other, "k", { schedule: [timeout(other, "k", "a", now - 20)] }));
    await store.commit(first(saga, "k", { schedule: [timeout(saga, "k", "a", now - 10)] }));
    const mine = (claimed: readonly SagaTimeout[]) =>
      claimed.filter((t) => t.saga === saga || t.saga === other).map((t) => t.saga);
    // A limit of 1: the other saga's older timeout neither comes back nor uses it up.
    assertEqual(mine(await store.claimDueTimeouts({ now, owner: "one", leaseMs: 1000, limit: 1, sagas: [saga] })), [
      saga,
    ]);
    assertEqual(mine(await store.claimDueTimeouts({ now, owner: "two", leaseMs: 1000, limit: 100, sagas: [] })), []);
    assertEqual(
      mine(await store.claimDueTimeouts({ now, owner: "two", leaseMs: 1000, limit: 100, sagas: [other] })),
      [other],
      "free for its own deployment",
    );
    await assertRejects(
      () => store.claimDueTimeouts({ now, owner: "o", leaseMs: 1, limit: 1, sagas: "x" as never }),
      ErrorCode.Validation,
      "claimDueTimeouts sagas",
    );
  });

  add(
    "timeouts of two instances whose keys and names hold / (k: x/t/y; k/t/x: y) are both kept",
    async (store, saga) => {
      const now = Date.now();
      await store.commit(first(saga, "k", { schedule: [timeout(saga, "k", "x/t/y", now - 20)] }));
      await store.commit(first(saga, "k/t/x", { schedule: [timeout(saga, "k/t/x", "y", now - 10)] }));
      const claimed = (await store.claimDueTimeouts({ now, owner: "one", leaseMs: 1000, limit: 100 })).filter(
        (t) => t.saga === saga,
      );
      assertEqual(
        claimed.map((t) => [t.key, t.name]),
        [
          ["k", "x/t/y"],
          ["k/t/x", "y"],
        ],
      );
      await store.commit({
        ...first(saga, "k"),
        expectedVersion: 1,
        handledId: claimed[0]?.id as string,
        firedTimeoutId: claimed[0]?.id as string,
      });
      const left = await store.claimDueTimeouts({ now: now + 1000, owner: "two", leaseMs: 1000, limit: 100 });
      assertEqual(
        left.filter((t) => t.saga === saga).map((t) => [t.key, t.name]),
        [["k/t/x", "y"]],
        "firing one leaves the other",
      );
    },
  );

  add("firing, cancelling, rescheduling and finishing remove timeouts", async (store, saga) => {
    const now = Date.now() - 1000;
    await store.commit(first(saga, "k", { schedule: ["a", "b", "c"].map((n) => timeout(saga, "k", n, now)) }));
    await store.commit({
      ...first(saga, "k"),
      expectedVersion: 1,
      firedTimeoutId: timeout(saga, "k", "a", now).id,
      handledId: timeout(saga, "k", "a", now).id,
      cancel: ["b"],
      schedule: [timeout(saga, "k", "c", now + 500, 2)],
    });
    const due = async (at: number) =>
      (await store.claimDueTimeouts({ now: at, owner: ulid(), leaseMs: 1, limit: 1000 }))
        .filter((t) => t.saga === saga)
        .map((t) => t.id);
    assertEqual(await due(now + 1), [], "a fired, b cancelled, c moved later");
    assertEqual(await due(now + 600), [timeout(saga, "k", "c", 0, 2).id]);
    await store.commit({ ...first(saga, "k"), expectedVersion: 2, status: "completed" });
    assertEqual(await due(now + 10_000), [], "a final instance keeps no timeouts");
  });

  add(
    "three competing claimers over 200 due timeouts claim each exactly once",
    async (store, saga) => {
      const now = Date.now();
      for (let i = 0; i < 20; i++) {
        await store.commit(
          first(saga, `k${i}`, {
            schedule: Array.from({ length: 10 }, (_, j) => timeout(saga, `k${i}`, `t${j}`, now - j)),
          }),
        );
      }
      const claims = new Map<string, number>();
      await Promise.all(
        ["one", "two", "three"].map(async (owner) => {
          for (let round = 0; round < 20; round++) {
            const got = await store.claimDueTimeouts({ now, owner, leaseMs: 60_000, limit: 7 });
            for (const t of got) if (t.saga === saga) claims.set(t.id, (claims.get(t.id) ?? 0) + 1);
          }
        }),
      );
      assertEqual(claims.size, 200, "claimed");
      assertEqual([...claims.values()].filter((n) => n !== 1).length, 0, "claimed more than once");
    },
    60_000,
  );

  add(
    "an instance fires and clears its own timeouts only, whatever its saga name and key are a prefix of",
    async (store, saga) => {
      const now = Date.now() - 1000;
      // Keys and saga names one of which starts with the other; and two instances whose ids were one
      // before saga and key were escaped in them (saga `<s>/x` key `k`, saga `<s>` key `x/k`).
      const instances: [string, string][] = [
        [saga, "1"],
        [saga, "10"],
        [saga, "1/t/n"],
        [`${saga}-x`, "1"],
        [`${saga}/x`, "k"],
        [saga, "x/k"],
      ];
      for (const [s, k] of instances) await store.commit(first(s, k, { schedule: [timeout(s, k, "n", now)] }));
      // Each look claims every due timeout for 1 ms, later than the last look's lease.
      let at = now + 10_000_000;
      const pending = async () => {
        at += 10;
        return (await store.claimDueTimeouts({ now: at, owner: ulid(), leaseMs: 1, limit: 1000 }))
          .filter((t) => t.saga.startsWith(saga))
          .map((t) => `${t.saga} ${t.key} ${t.id}`)
          .sort();
      };
      const all = instances.map(([s, k]) => `${s} ${k} ${timeout(s, k, "n", now).id}`).sort();
      assertEqual(await pending(), all, "every instance keeps its own timeout");
      // Instance "1" commits the firing of each of the others' timeouts: refused, or accepted without removing it.
      for (const [s, k] of instances.slice(1)) {
        const version = (await store.load(saga, "1"))?.version ?? 1;
        const firedTimeoutId = timeout(s, k, "n", now).id;
        await store.commit({ ...first(saga, "1"), expectedVersion: version, firedTimeoutId }).catch(() => undefined);
      }
      assertEqual(await pending(), all, "no instance fired or cleared another's timeout");
      const version = (await store.load(saga, "1"))?.version ?? 1;
      await store.commit({
        ...first(saga, "1"),
        expectedVersion: version,
        firedTimeoutId: timeout(saga, "1", "n", now).id,
      });
      assertEqual(
        await pending(),
        all.filter((each) => each !== `${saga} 1 ${timeout(saga, "1", "n", now).id}`),
        "its own fired",
      );
    },
  );

  add("nextDueAt: the earliest pending due time, or a held timeout's lease end", async (store, saga) => {
    // Far in the past (January 1970; due times are not negative): earlier than any other case's
    // timeouts in a shared table but the case above's, which it drops.
    const base = 2_000_000_000 + Math.floor(Math.random() * 1_000_000);
    const before = await store.nextDueAt();
    if (options.nextDue === false) {
      assertEqual(before, undefined, "a store without nextDue answers undefined");
      return;
    }
    await store.commit(
      first(saga, "k", {
        schedule: [timeout(saga, "k", "a", base + 10), timeout(saga, "k", "b", base + 20)],
      }),
    );
    assertEqual(await store.nextDueAt(), base + 10);
    const claimed = await store.claimDueTimeouts({ now: base + 10, owner: "one", leaseMs: 5, limit: 1 });
    assertEqual(
      claimed.map((t) => t.name),
      ["a"],
    );
    assertEqual(await store.nextDueAt(), base + 15, "a is held until base + 15, b is due at base + 20");
    await store.commit({ ...first(saga, "k"), expectedVersion: 1, status: "completed" });
    const after = await store.nextDueAt();
    assert(after === undefined || after > base + 20, "a finished instance's timeouts are no longer due");
  });

  add("nextDueAt for some sagas counts only their timeouts, free or held", async (store, saga) => {
    // Later than the case above's times, so that it still finds its own first in a shared table.
    const base = 2_500_000_000 + Math.floor(Math.random() * 1_000_000);
    const other = `${saga}-other`;
    if (options.nextDue === false) {
      assertEqual(await store.nextDueAt({ sagas: [saga] }), undefined, "a store without nextDue answers undefined");
      return;
    }
    await store.commit(first(other, "k", { schedule: [timeout(other, "k", "a", base + 5)] }));
    await store.commit(first(saga, "k", { schedule: [timeout(saga, "k", "a", base + 30)] }));
    // Another deployment's overdue timeout would wake an alarm driver that cannot fire it.
    assertEqual(await store.nextDueAt({ sagas: [saga] }), base + 30, "not the other saga's earlier timeout");
    assertEqual(await store.nextDueAt({ sagas: [other, saga] }), base + 5);
    assertEqual(await store.nextDueAt({ sagas: [] }), undefined, "no sagas, no timeouts");
    await store.claimDueTimeouts({ now: base + 5, owner: "one", leaseMs: 100, limit: 1, sagas: [other] });
    assertEqual(await store.nextDueAt({ sagas: [other] }), base + 105, "held until its lease ends");
    assertEqual(await store.nextDueAt({ sagas: [saga] }), base + 30);
    await assertRejects(() => store.nextDueAt({ sagas: "x" as never }), ErrorCode.Validation, "nextDueAt sagas");
    // Ended: a shared table keeps nothing of this case for the others.
    for (const name of [saga, other]) {
      await store.commit({ ...first(name, "k"), expectedVersion: 1, status: "completed" });
    }
    assertEqual(await store.nextDueAt({ sagas: [saga, other] }), undefined, "ended instances have none");
  });

  add(
    "isTimeoutPending: only while scheduled and not fired, cancelled, replaced or ended; per instance",
    async (store, saga) => {
      const due = 3_000_000_000;
      const a1 = timeout(saga, "k", "a", due);
      const b1 = timeout(saga, "k", "b", due);
      const c1 = timeout(saga, "k", "c", due);
      const pending = () =>
        Promise.all([a1, b1, c1].map((t) => store.isTimeoutPending(saga, "k", t.id))) as Promise<unknown[]>;
      if (options.timeoutPending === false) {
        await store.commit(first(saga, "k", { schedule: [a1] }));
        assertEqual(await store.isTimeoutPending(saga, "k", a1.id), undefined, "a store that cannot tell");
        return;
      }
      assertEqual(await pending(), [false, false, false], "before the instance exists");
      await store.commit(first(saga, "k", { schedule: [a1, b1, c1] }));
      assertEqual(await pending(), [true, true, true], "scheduled");
      assertEqual(await store.isTimeoutPending(saga, "k2", a1.id), false, "another instance's id");
      assertEqual(await store.isTimeoutPending(`${saga}-x`, "k", a1.id), false, "another saga's");
      // Claimed is still pending: a claim is no firing.
      await store.claimDueTimeouts({ now: due, owner: "one", leaseMs: 1, limit: 1000 });
      assertEqual(await pending(), [true, true, true], "claimed");
      const a2 = timeout(saga, "k", "a", due + 5, 2);
      await store.commit({ ...first(saga, "k"), expectedVersion: 1, schedule: [a2], cancel: ["b"] });
      assertEqual(await pending(), [false, false, true], "a replaced, b cancelled");
      assertEqual(await store.isTimeoutPending(saga, "k", a2.id), true, "a's new schedule");
      await store.commit({ ...first(saga, "k"), expectedVersion: 2, handledId: c1.id, firedTimeoutId: c1.id });
      assertEqual(await pending(), [false, false, false], "c fired");
      await store.commit({ ...first(saga, "k"), expectedVersion: 3, status: "completed" });
      assertEqual(await store.isTimeoutPending(saga, "k", a2.id), false, "an ended instance has none");
      await assertRejects(() => store.isTimeoutPending(saga, "k", ""), ErrorCode.Validation, "an empty id");
      await assertRejects(
        () => store.isTimeoutPending(saga, null as unknown as string, a1.id),
        ErrorCode.Validation,
        "no key",
      );
    },
  );

  add(
    "a dropped timeout (its firing ignored, its handler gone) is no longer pending, and a later step does not bring it back",
    async (store, saga) => {
      // Past the other cases' due times (a shared table), and ended at the close.
      const due = 3_100_000_000 + Math.floor(Math.random() * 1_000_000);
      const [a1, b1, c2] = [
        timeout(saga, "k", "a", due),
        timeout(saga, "k", "b", due),
        timeout(saga, "k", "c", due, 2),
      ];
      await store.commit(first(saga, "k", { schedule: [a1, b1] }));
      // Claimed first, as the runtime drops a timeout it claimed.
      await store.claimDueTimeouts({ now: due, owner: "one", leaseMs: 1, limit: 1000, sagas: [saga] });
      await store.dropTimeout(a1.id);
      const pending = () =>
        Promise.all([a1, b1, c2].map((t) => store.isTimeoutPending(saga, "k", t.id))) as Promise<unknown[]>;
      const tellable = options.timeoutPending !== false;
      assertEqual(await pending(), tellable ? [false, true, false] : [undefined, undefined, undefined], "a dropped");
      // The drop leaves the instance's version as it was; a step that schedules another timeout keeps a dropped.
      await store.commit({ ...first(saga, "k"), expectedVersion: 1, schedule: [c2] });
      assertEqual(await pending(), tellable ? [false, true, true] : [undefined, undefined, undefined], "c scheduled");
      const claimed = await store.claimDueTimeouts({
        now: due + 10,
        owner: "two",
        leaseMs: 1,
        limit: 1000,
        sagas: [saga],
      });
      assertEqual(claimed.map((t) => t.name).sort(), ["b", "c"], "a is claimed no more");
      await store.dropTimeout(a1.id);
      await store.commit({ ...first(saga, "k"), expectedVersion: 2, status: "completed" });
      assertEqual(await pending(), tellable ? [false, false, false] : [undefined, undefined, undefined], "ended");
    },
  );

  add("instances are listed by saga and status", async (store, saga) => {
    await store.commit(first(saga, "a"));
    await store.commit(first(saga, "b", { status: "needs-attention" }));
    await store.commit(first(saga, "c", { status: "completed" }));
    assertEqual((await store.list({ saga })).map((r) => r.key).sort(), ["a", "b", "c"]);
    assertEqual(
      (await store.list({ saga, status: "needs-attention" })).map((r) => r.key),
      ["b"],
    );
    assertEqual((await store.list({ saga, limit: 2 })).length, 2);
    await assertRejects(() => store.list({ limit: 0 }), ErrorCode.Validation);
  });

  add("failures are recorded and listed per saga", async (store, saga) => {
    const failure = {
      saga,
      key: "k",
      eventId: "e1",
      eventType: "Paid",
      error: "Error: boom",
      at: new Date().toISOString(),
    };
    await store.recordFailure(failure);
    await store.recordFailure({ ...failure, key: undefined, eventId: "e2" });
    const found = await store.failures({ saga });
    assertEqual(
      found.map((f) => f.eventId),
      ["e1", "e2"],
    );
    assertEqual(found[0]?.error, "Error: boom");
    assertEqual(
      (await store.failures({ saga, limit: 1 })).map((f) => f.eventId),
      ["e1"],
      "limit 1 lists the oldest",
    );
    // Refused alike on every store, before any read: not one store's clamp and another's backend error.
    for (const limit of [-1, 0, 1.5, 10_001]) {
      await assertRejects(() => store.failures({ saga, limit }), ErrorCode.Validation, `limit ${limit}`);
      await assertRejects(() => store.failures({ limit }), ErrorCode.Validation, `limit ${limit}, every saga`);
    }
  });

  add("keys keep their exact text: case and Unicode matter", async (store, saga) => {
    await store.commit(first(saga, "Ordre-é/1"));
    assertEqual((await store.load(saga, "Ordre-é/1"))?.version, 1);
    assertEqual(await store.load(saga, "ordre-é/1"), undefined);
  });

  return { name: options.name, cases };
}
