import { ErrorCode, isProjectionFailedError, type ProjectionFailedError, ValidationError } from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { ulid } from "../ids.js";
import { type Projection, projection } from "../projections/projection.js";
import type { ProjectionLock } from "../projections/projection-lock.js";
import { ProjectionRunner, type ProjectionRunnerOptions } from "../projections/projection-runner.js";
import type { ReadModelStore, ReadModelTransaction } from "../projections/read-model-store.js";
import { assert, assertEqual, assertRejects, eventually } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";
import { untilReadable } from "./feed.js";
import { rebuildCases } from "./projection-rebuild-cases.js";

/** What one case runs on: a store to follow, where read models go, and the lock runners share. */
export interface ProjectionFixture {
  readonly eventStore: EventStore;
  readonly readModels: ReadModelStore;
  /** One lock that every runner of the case competes for (across connections where the backend has them). */
  readonly lock: ProjectionLock;
}

export interface ProjectionContractOptions {
  /** Shown as the suite's name. */
  readonly name: string;
  /** Makes a fixture. Cases use stream categories and projection names of their own, so stores may be shared. */
  readonly create: () => ProjectionFixture | Promise<ProjectionFixture>;
  /** Releases what `create` made. */
  readonly dispose?: (fixture: ProjectionFixture) => void | Promise<void>;
}

type Counted = EventEnvelope<"Counted", { readonly n: number }>;
type Other = EventEnvelope<"Other", null>;
interface Totals {
  readonly count: number;
  readonly sum: number;
}

/**
 * The behaviour every projection runner setup must have: the in-memory one and each backend's
 * read-model store and lock. Timing-sensitive cases use short polls; each case has its own time limit.
 */
export function projectionContract(options: ProjectionContractOptions): ContractSuite {
  checkContractOptions("projectionContract", options, { functions: ["create"], optionalFunctions: ["dispose"] });
  const cases: ContractCase[] = [];
  const add = (name: string, run: (fixture: ProjectionFixture) => Promise<void>) =>
    cases.push({
      name,
      timeoutMs: 20_000,
      run: async () => {
        const fixture = await options.create();
        try {
          await run(fixture);
        } finally {
          await options.dispose?.(fixture);
        }
      },
    });
  const category = () => `Pc${ulid()}`;
  const runner = <E extends EventEnvelope, S>(
    fixture: ProjectionFixture,
    defined: Projection<E, S>,
    extra: Partial<ProjectionRunnerOptions<E, S>> = {},
  ) =>
    new ProjectionRunner<E, S>({
      projection: defined,
      eventStore: fixture.eventStore,
      readModels: fixture.readModels,
      lock: fixture.lock,
      pollIntervalMs: 20,
      standbyPollMs: 20,
      retryDelayMs: 20,
      onError: () => undefined,
      onFailure: () => undefined,
      ...extra,
    });
  const totals = (cat: string, name = `totals-${ulid()}`) =>
    projection<Counted, Totals>({
      name,
      categories: [cat],
      types: ["Counted"],
      initialState: { count: 0, sum: 0 },
      handle: async (event, { state, readModels }) => {
        const doc = (await readModels.get<Totals>(cat, event.streamId)) ?? { count: 0, sum: 0 };
        await readModels.put(cat, event.streamId, { count: doc.count + 1, sum: doc.sum + event.data.n });
        return { count: state.count + 1, sum: state.sum + event.data.n };
      },
    });
  const appendOnly = (store: EventStore, stream: string, values: readonly number[]) =>
    store.appendToStream(
      stream,
      values.map((n) => ({ type: "Counted", data: { n } })),
    );
  // Cases that append and then catch up wait until the feed's readers see the append (at once but on
  // PostgreSQL while another client's transaction is open): see untilReadable.
  const append = async (store: EventStore, stream: string, values: readonly number[]) => {
    await untilReadable(store, await appendOnly(store, stream, values));
  };
  const sumOf = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
  const stateOf = (fixture: ProjectionFixture, defined: { readonly name: string }) =>
    fixture.readModels.get<Totals>("projection-state", defined.name);

  add("read-model documents: put, get, replace, delete, list by id; invalid keys refused", async (fixture) => {
    const models = fixture.readModels;
    const col = category();
    assertEqual(await models.get(col, "a"), undefined, "absent");
    await models.put(col, "b", { n: 1, tags: ["x"], nested: { ok: true } });
    await models.put(col, "a", "text");
    await models.put(col, "c", null);
    await models.put(col, "b", { n: 2 });
    assertEqual(await models.get(col, "b"), { n: 2 }, "replaced");
    assertEqual(await models.get(col, "c"), null, "null is a document");
    assertEqual(
      await models.list(col),
      [
        { id: "a", document: "text" },
        { id: "b", document: { n: 2 } },
        { id: "c", document: null },
      ],
      "listed by id",
    );
    // By code point, as UTF-8 bytes order them: U+F900 before U+10000 (which UTF-16's < puts first).
    const wide = category();
    await models.put(wide, "\u{10000}", 1);
    await models.put(wide, "\uF900", 2);
    assertEqual(
      (await models.list(wide)).map((d) => d.document),
      [2, 1],
      "ids in code point order",
    );
    await models.delete(col, "a");
    await models.delete(col, "never");
    assertEqual(await models.get(col, "a"), undefined, "deleted");
    await assertRejects(() => models.put(col, "", 1), ErrorCode.Validation, "empty id");
    await assertRejects(() => models.put(col, "d", undefined), ErrorCode.Validation, "undefined document");
    await assertRejects(() => models.get("", "d"), ErrorCode.Validation, "empty collection");
    // PostgreSQL's jsonb cannot hold U+0000: every store refuses it, so a projection moves between stores unchanged.
    for (const document of [{ text: "a\u0000b" }, { "k\u0000": 1 }, ["\u0000"]]) {
      await assertRejects(() => models.put(col, "d", document), ErrorCode.Validation, "U+0000 in a document");
      await assertRejects(
        () => models.transaction((tx) => tx.put(col, "d", document)),
        ErrorCode.Validation,
        "U+0000 in a document, in a transaction",
      );
    }
    // What a JSON round trip would change is refused as well, flat or not, on a new key and in a
    // transaction on a key it has written already (the document checked without its key).
    const throwing = {
      get n(): number {
        throw new Error("a getter that throws");
      },
    };
    const changed: unknown[] = [
      { n: Number.NaN },
      [Number.POSITIVE_INFINITY],
      [1, undefined],
      { at: new Date(0) },
      { run: () => 1 },
      { big: 1n },
      { text: "\uD800" },
      { "\uDC00": 1 },
      throwing,
      Object.create({ inherited: 1 }),
    ];
    for (const document of changed) {
      await assertRejects(() => models.put(col, "d", document), ErrorCode.Validation, "not JSON data");
      await assertRejects(
        () =>
          models.transaction(async (tx) => {
            await tx.put(col, "d", { n: 1 });
            await tx.put(col, "d", document);
          }),
        ErrorCode.Validation,
        "not JSON data, on a key the transaction wrote",
      );
    }
    assertEqual(await models.get(col, "d"), undefined, "nothing written");
  });

  add("checkPut refuses what put refuses, with the same error, and writes nothing either way", async (fixture) => {
    const models = fixture.readModels;
    const col = category();
    await models.checkPut(col, "a", { n: 1 });
    assertEqual(await models.get(col, "a"), undefined, "a document that put takes is not written by checkPut");
    for (const [collection, id, document, what] of [
      [col, "", 1, "an empty id"],
      ["", "a", 1, "an empty collection"],
      [col, "a", undefined, "an undefined document"],
      [col, "a", { n: Number.NaN }, "not JSON data"],
      [col, "a", { text: "a\u0000b" }, "U+0000"],
    ] as const) {
      const put = await models.put(collection, id, document).then(
        () => undefined,
        (error: unknown) => (error as { code?: unknown }).code,
      );
      const checked = await models.checkPut(collection, id, document).then(
        () => undefined,
        (error: unknown) => (error as { code?: unknown }).code,
      );
      assertEqual({ what, checked }, { what, checked: put }, "checkPut answers as put does");
      assert(put !== undefined, `${what}: put refuses it`);
    }
    assertEqual(await models.list(col), [], "nothing written");
  });

  add(
    "read-model documents come back as JSON keeps them, on every read, in and out of transactions",
    async (fixture) => {
      const models = fixture.readModels;
      const col = category();
      // JSON has no -0 and leaves out a property holding undefined: a store that kept either would hand
      // a projection other data than every other store does (deepEqual takes -0 for 0, so Object.is here).
      const document = () => ({ n: -0, list: [-0], gone: undefined, kept: 1 });
      const check = (read: unknown, where: string) => {
        const got = read as { n?: unknown; list?: unknown[] } | undefined;
        assert(typeof got === "object" && got !== null, `${where}: a document was read`);
        assert(Object.is(got.n, 0) && Object.is(got.list?.[0], 0), `${where}: -0 comes back as 0`);
        assert(!Object.hasOwn(got, "gone"), `${where}: a property holding undefined is left out`);
        assertEqual(got, { n: 0, list: [0], kept: 1 }, `${where}: the document`);
      };
      await models.put(col, "a", document());
      check(await models.get(col, "a"), "get after put");
      check((await models.list(col))[0]?.document, "list after put");
      await models.transaction(async (tx) => {
        await tx.put(col, "b", document());
        check(await tx.get(col, "b"), "a transaction's get of its own put");
      });
      check(await models.get(col, "b"), "get after a committed transaction");
      // Keys JavaScript gives a meaning to stay plain data and never reach Object.prototype.
      const keys = JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":2}}}') as object;
      await models.put(col, "c", keys);
      await models.transaction((tx) => tx.put(col, "d", keys));
      for (const id of ["c", "d"]) {
        const read = (await models.get(col, id)) as Record<string, unknown>;
        assert(Object.getPrototypeOf(read) === Object.prototype, `${id}: a plain object`);
        assert(Object.hasOwn(read, "__proto__"), `${id}: "__proto__" is an own key`);
        assertEqual(Object.keys(read).sort(), ["__proto__", "constructor"], `${id}: the keys`);
      }
      assert(({} as { polluted?: unknown }).polluted === undefined, "Object.prototype is untouched");
    },
  );

  add("a read-model transaction commits documents and checkpoint together, or neither", async (fixture) => {
    const models = fixture.readModels;
    const col = category();
    const checkpoint = `Contract_rm-${ulid()}`;
    await models.transaction(async (tx) => {
      await tx.put(col, "a", { n: 1 });
      assertEqual(await tx.get(col, "a"), { n: 1 }, "the transaction reads its own write");
      await tx.checkpoints.store(checkpoint, 5, { expected: 0 });
    });
    assertEqual(await models.get(col, "a"), { n: 1 }, "committed document");
    assertEqual(await models.checkpoints.load(checkpoint), 5, "committed checkpoint");
    if (!models.capabilities.atomicCheckpoints) return;
    await assertRejects(
      () =>
        models.transaction(async (tx) => {
          await tx.put(col, "a", { n: 2 });
          await tx.delete(col, "a");
          await tx.put(col, "b", { n: 3 });
          await tx.checkpoints.store(checkpoint, 9, { expected: 4 });
        }),
      ErrorCode.Concurrency,
      "a checkpoint conflict fails the transaction",
    );
    assertEqual(await models.get(col, "a"), { n: 1 }, "document unchanged");
    assertEqual(await models.get(col, "b"), undefined, "no new document");
    assertEqual(await models.checkpoints.load(checkpoint), 5, "checkpoint unchanged");
  });

  // A store may answer a transaction's reads from what it holds of its writes (PostgreSQL keeps the
  // batch's documents as objects until its one upsert): a key deleted or written again in between must
  // still read as it is now, and a malformed key is refused as the transaction's first call or after a good one.
  add("a read-model transaction reads each key as last written, whichever key came before", async (fixture) => {
    const models = fixture.readModels;
    const col = category();
    await models.put(col, "a", { n: 0 });
    await models.transaction(async (tx) => {
      await assertRejects(
        () => tx.get(undefined as never, undefined as never),
        ErrorCode.Validation,
        "a missing key, first call",
      );
      assertEqual(await tx.get(col, "a"), { n: 0 }, "a as stored");
      await tx.delete(col, "a");
      assertEqual(await tx.get(col, "a"), undefined, "a right after its delete");
      await tx.put(col, "a", { n: 1 });
      assertEqual(await tx.get(col, "a"), { n: 1 }, "a written again");
      await tx.put(col, "b", { n: 2 });
      await assertRejects(() => tx.get(col, undefined as never), ErrorCode.Validation, "a missing id after b");
      await tx.delete(col, "a");
      assertEqual(await tx.get(col, "b"), { n: 2 }, "b after a's second delete");
      assertEqual(await tx.get(col, "a"), undefined, "a after b");
      await tx.put(col, "a", { n: 3 });
      await tx.delete(col, "b");
      assertEqual(await tx.get(col, "a"), { n: 3 }, "a after b's delete");
      assertEqual(await tx.get(col, "b"), undefined, "b deleted");
    });
    assertEqual(await models.list(col), [{ id: "a", document: { n: 3 } }], "what committed");
  });

  // A transaction kept past its work wrote nothing (its writes were staged for a commit that had
  // happened) or, on PostgreSQL, ran on a connection back in the pool: every store refuses it.
  add("a read-model transaction is refused once its work has settled, and writes nothing then", async (fixture) => {
    const models = fixture.readModels;
    const col = category();
    const checkpoint = `Contract_rm-${ulid()}`;
    const committed = await models.transaction(async (tx) => {
      await tx.put(col, "a", { n: 1 });
      return tx;
    });
    let failed: ReadModelTransaction | undefined;
    await assertRejects(
      () =>
        models.transaction(async (tx) => {
          failed = tx;
          throw new ValidationError("the work failed");
        }),
      ErrorCode.Validation,
      "the work's own failure",
    );
    assert(failed !== undefined, "the failed transaction was kept");
    for (const [kept, which] of [
      [committed, "after a commit"],
      [failed, "after a rollback"],
    ] as const) {
      await assertRejects(() => kept.put(col, "a", { n: 2 }), ErrorCode.Validation, `put on a key written, ${which}`);
      await assertRejects(() => kept.put(col, "b", { n: 2 }), ErrorCode.Validation, `put on a new key, ${which}`);
      await assertRejects(() => kept.delete(col, "a"), ErrorCode.Validation, `delete ${which}`);
      await assertRejects(() => kept.get(col, "a"), ErrorCode.Validation, `get ${which}`);
      await assertRejects(
        () => kept.preload?.([{ collection: col, id: "b" }]),
        ErrorCode.Validation,
        `preload ${which}`,
      );
      await assertRejects(() => kept.checkpoints.store(checkpoint, 3), ErrorCode.Validation, `checkpoint ${which}`);
      await assertRejects(() => kept.checkpoints.load(checkpoint), ErrorCode.Validation, `checkpoint load ${which}`);
    }
    assertEqual(await models.get(col, "a"), { n: 1 }, "the committed document, unchanged");
    assertEqual(await models.get(col, "b"), undefined, "no document written after the end");
    assertEqual(await models.checkpoints.load(checkpoint), undefined, "no checkpoint written after the end");
  });

  add("catches up from zero: every event once, documents and state committed together", async (fixture) => {
    const cat = category();
    await append(fixture.eventStore, `${cat}-a`, [1, 2, 3]);
    await append(fixture.eventStore, `${cat}-b`, [10, 20]);
    const defined = totals(cat);
    const result = await runner(fixture, defined, { batchSize: 2 }).catchUp();
    assert(result !== undefined, "the lease was free, catchUp ran");
    assertEqual(await stateOf(fixture, defined), { count: 5, sum: 36 }, "state");
    assertEqual(await fixture.readModels.get(cat, `${cat}-a`), { count: 3, sum: 6 }, "document a");
    assertEqual(await fixture.readModels.get(cat, `${cat}-b`), { count: 2, sum: 30 }, "document b");
    assertEqual(result.position, await fixture.eventStore.getLastGlobalPosition(), "checkpoint at the head");
  });

  add(
    "prefetch: the batch's documents loaded ahead give the same documents and state as reading each",
    async (fixture) => {
      const cat = category();
      // A document there before the runner, one the batch creates, one it deletes and writes again.
      await fixture.readModels.put(cat, `${cat}-a`, { count: 10, sum: 100 });
      await fixture.readModels.put(cat, `${cat}-c`, { count: 1, sum: 1 });
      await append(fixture.eventStore, `${cat}-a`, [1, 2]);
      await append(fixture.eventStore, `${cat}-b`, [3]);
      await append(fixture.eventStore, `${cat}-a`, [4]);
      await append(fixture.eventStore, `${cat}-c`, [5, 6]);
      const prefetched: string[] = [];
      const base = totals(cat);
      const defined = projection<Counted, Totals>({
        name: `prefetch-${ulid()}`,
        categories: [cat],
        types: ["Counted"],
        initialState: { count: 0, sum: 0 },
        prefetch: (event) => {
          prefetched.push(event.streamId);
          return event.data.n === 4 ? undefined : [cat, event.streamId];
        },
        handle: async (event, context): Promise<Totals> => {
          // Deleted and read again within the batch: the read sees the delete, not what was loaded.
          if (event.data.n === 5) {
            await context.readModels.delete(cat, event.streamId);
            assertEqual(await context.readModels.get(cat, event.streamId), undefined, "a delete is seen in the batch");
          }
          return (await base.handle(event, context)) as Totals;
        },
      });
      const result = await runner(fixture, defined, { batchSize: 4 }).catchUp();
      assert(result !== undefined, "the lease was free, catchUp ran");
      assertEqual(prefetched.length, 6, "prefetch is asked once per event the filters take");
      assertEqual(await stateOf(fixture, defined), { count: 6, sum: 21 }, "state");
      assertEqual(
        await fixture.readModels.get(cat, `${cat}-a`),
        { count: 13, sum: 107 },
        "a: stored document counted on",
      );
      assertEqual(await fixture.readModels.get(cat, `${cat}-b`), { count: 1, sum: 3 }, "b: created");
      assertEqual(
        await fixture.readModels.get(cat, `${cat}-c`),
        { count: 2, sum: 11 },
        "c: deleted at 5, then counted anew",
      );
    },
  );

  add(
    "a prefetch that throws or returns no key fails catchUp at that event; nothing is skipped or read past",
    async (fixture) => {
      const cat = category();
      await append(fixture.eventStore, `${cat}-a`, [1, 2, 3]);
      let bad: "throws" | "not a key" | undefined = "throws";
      const base = totals(cat);
      const defined = projection<Counted, Totals>({
        name: `prefetch-fail-${ulid()}`,
        categories: [cat],
        types: ["Counted"],
        initialState: { count: 0, sum: 0 },
        prefetch: (event) => {
          if (event.data.n === 2 && bad === "throws") throw new Error("boom");
          if (event.data.n === 2 && bad === "not a key") return cat as unknown as [string, string];
          return [cat, event.streamId];
        },
        handle: base.handle,
      });
      for (const kind of ["throws", "not a key"] as const) {
        bad = kind;
        // One event a batch (no growth): the failing batch's successor is being read ahead, and must not be applied.
        const error = await runner(fixture, defined, { batchSize: 1, maxBatchSize: 1 })
          .catchUp()
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        assert(isProjectionFailedError(error), `${kind}: a ProjectionFailedError`);
        const second: EventEnvelope[] = [];
        for await (const event of fixture.eventStore.readStream(`${cat}-a`)) second.push(event);
        assertEqual(error.eventId, second[1]?.id, `${kind}: names the event`);
        assertEqual(
          await fixture.readModels.get(cat, `${cat}-a`),
          { count: 1, sum: 1 },
          `${kind}: the batch before it committed, nothing after it`,
        );
      }
      bad = undefined;
      await runner(fixture, defined, { batchSize: 1 }).catchUp();
      assertEqual(await stateOf(fixture, defined), { count: 3, sum: 6 }, "every event once after the fix");
    },
  );

  add("resumes from its checkpoint without counting anything twice", async (fixture) => {
    const cat = category();
    const defined = totals(cat);
    await append(fixture.eventStore, `${cat}-a`, [1, 2, 3]);
    await runner(fixture, defined, { batchSize: 2 }).catchUp();
    await append(fixture.eventStore, `${cat}-a`, [4]);
    await append(fixture.eventStore, `${cat}-b`, [5]);
    // A new runner (a restarted process) starts from the stored checkpoint.
    const second = runner(fixture, defined, { batchSize: 3 });
    await second.catchUp();
    await second.catchUp();
    assertEqual(await stateOf(fixture, defined), { count: 5, sum: 15 }, "state");
    assertEqual(await fixture.readModels.get(cat, `${cat}-a`), { count: 4, sum: 10 }, "document a");
  });

  add("filters by stream, category and type; the checkpoint still passes what they leave out", async (fixture) => {
    const cat = category();
    const otherCat = category();
    await append(fixture.eventStore, `${cat}-a`, [1]);
    await append(fixture.eventStore, `${cat}-b`, [2]);
    await append(fixture.eventStore, `${otherCat}-a`, [4]);
    await untilReadable(
      fixture.eventStore,
      await fixture.eventStore.appendToStream(`${cat}-a`, [{ type: "Other", data: null }]),
    );
    const seen: string[] = [];
    const byStream = projection<Counted | Other>({
      name: `streams-${ulid()}`,
      streams: [`${cat}-a`],
      types: ["Counted", "Other"],
      handle: (event) => {
        seen.push(`stream:${event.streamId}:${event.type}`);
      },
    });
    const byType = projection<Counted>({
      name: `types-${ulid()}`,
      categories: [cat, otherCat],
      types: ["Counted"],
      handle: (event) => {
        seen.push(`type:${event.streamId}:${event.data.n}`);
      },
    });
    await runner(fixture, byStream).catchUp();
    await runner(fixture, byType).catchUp();
    assertEqual(
      seen,
      [
        `stream:${cat}-a:Counted`,
        `stream:${cat}-a:Other`,
        `type:${cat}-a:1`,
        `type:${cat}-b:2`,
        `type:${otherCat}-a:4`,
      ],
      "what each filter took, in feed order",
    );
    const lag = await runner(fixture, byStream).lag();
    assertEqual(lag.behind, 0, "the checkpoint moved past the events the filters left out");
  });

  add("whenCaughtUp resolves once appends made after start are projected; lag is then 0", async (fixture) => {
    const cat = category();
    const defined = totals(cat);
    const running = runner(fixture, defined, { batchSize: 3 });
    running.start();
    try {
      await append(fixture.eventStore, `${cat}-a`, [1, 2, 3, 4, 5]);
      await running.whenCaughtUp();
      assertEqual(await stateOf(fixture, defined), { count: 5, sum: 15 }, "state after the first append");
      await append(fixture.eventStore, `${cat}-b`, [6]);
      await running.whenCaughtUp();
      assertEqual(await stateOf(fixture, defined), { count: 6, sum: 21 }, "state after the second append");
      const lag = await running.lag();
      assertEqual(lag.behind, 0, "no lag");
      assertEqual(lag.position, lag.head, "checkpoint at the head");
    } finally {
      await running.stop();
    }
  });

  add("of two competing runners one is active; the standby takes over when it stops", async (fixture) => {
    const cat = category();
    const defined = totals(cat);
    const first = runner(fixture, defined, { owner: `first-${ulid()}` });
    const second = runner(fixture, defined, { owner: `second-${ulid()}` });
    first.start();
    await eventually(() => assert(first.active, "the first runner took the lease"));
    second.start();
    try {
      await append(fixture.eventStore, `${cat}-a`, [1, 2]);
      await first.whenCaughtUp();
      assert(first.active && !second.active, "only the first is active");
      await first.stop();
      await append(fixture.eventStore, `${cat}-a`, [3]);
      await eventually(() => assert(second.active, "the standby took over"), 10_000);
      await second.whenCaughtUp();
      assertEqual(await stateOf(fixture, defined), { count: 3, sum: 6 }, "every event counted once");
    } finally {
      await first.stop();
      await second.stop();
    }
  });

  add("a failing handler stops the runner with a typed error; nothing of its batch is kept", async (fixture) => {
    const cat = category();
    await append(fixture.eventStore, `${cat}-a`, [1, 2, 3]);
    let failOn: number | undefined = 2;
    const failures: ProjectionFailedError[] = [];
    const defined = projection<Counted, Totals>({
      name: `failing-${ulid()}`,
      categories: [cat],
      types: ["Counted"],
      initialState: { count: 0, sum: 0 },
      handle: async (event, { state, readModels }) => {
        await readModels.put(cat, `seen-${event.data.n}`, true);
        if (event.data.n === failOn) throw new Error("boom");
        return { count: state.count + 1, sum: state.sum + event.data.n };
      },
    });
    const running = runner(fixture, defined, { onFailure: (error) => failures.push(error) });
    running.start();
    await eventually(() => assert(failures.length === 1, "onFailure was told"));
    await running.stop();
    const failure = failures[0] as ProjectionFailedError;
    assert(isProjectionFailedError(failure), "a ProjectionFailedError");
    assertEqual(failure.code, ErrorCode.ProjectionFailed, "its code");
    assertEqual(failure.projection, defined.name, "names the projection");
    assertEqual(failure.eventType, "Counted", "names the event type");
    assert(running.failure === failure && !running.running, "the runner stopped on it");
    await assertRejects(() => running.whenCaughtUp(), ErrorCode.ProjectionFailed, "whenCaughtUp reports it");
    const lag = await running.lag();
    assert(lag.position < failure.position, "the checkpoint stays before the failed event");
    if (fixture.readModels.capabilities.atomicCheckpoints) {
      assertEqual(await fixture.readModels.get(cat, "seen-1"), undefined, "the failed batch's writes rolled back");
    }
    failOn = undefined;
    await runner(fixture, defined).catchUp();
    assertEqual(await stateOf(fixture, defined), { count: 3, sum: 6 }, "resumed at the failed event, skipped none");
  });

  add(
    "inline: the read model is current when appendToStream returns; a handler failure stops the runner, not the append",
    async (fixture) => {
      const cat = category();
      const defined = totals(cat);
      const running = runner(fixture, defined, { inline: true, pollIntervalMs: 60_000 });
      running.start();
      try {
        // No wait for the feed's readers here: the runner's inline step must see to that itself.
        await appendOnly(fixture.eventStore, `${cat}-a`, [1, 2]);
        assertEqual(await stateOf(fixture, defined), { count: 2, sum: 3 }, "state right after the append");
        await appendOnly(fixture.eventStore, `${cat}-b`, [3]);
        assertEqual(await fixture.readModels.get(cat, `${cat}-b`), { count: 1, sum: 3 }, "document right after");
      } finally {
        await running.stop();
      }
      const failures: ProjectionFailedError[] = [];
      const failing = projection<Counted>({
        name: `inline-failing-${ulid()}`,
        categories: [cat],
        types: ["Counted"],
        handle: (event) => {
          if (event.data.n === 5) throw new Error("boom");
        },
      });
      const failingRunner = runner(fixture, failing, {
        inline: true,
        pollIntervalMs: 60_000,
        onFailure: (error) => failures.push(error),
      });
      failingRunner.start();
      try {
        const appended = await fixture.eventStore.appendToStream(`${cat}-c`, [{ type: "Counted", data: { n: 5 } }]);
        assertEqual(appended.nextExpectedVersion, 1, "the append stands");
        assertEqual(failures.length, 1, "onFailure was told before the append returned");
        assert(!failingRunner.running, "the runner stopped");
      } finally {
        await failingRunner.stop();
      }
    },
  );

  add("a stream's events reach the handler in version order, the feed in position order", async (fixture) => {
    const cat = category();
    for (let round = 0; round < 4; round++) {
      await append(fixture.eventStore, `${cat}-a`, [round * 2 + 1]);
      await append(fixture.eventStore, `${cat}-b`, [round * 2 + 2, round * 2 + 2]);
    }
    const seen: EventEnvelope[] = [];
    const ordered = projection<Counted>({
      name: `order-${ulid()}`,
      categories: [cat],
      types: ["Counted"],
      handle: (event) => {
        seen.push(event);
      },
    });
    await runner(fixture, ordered, { batchSize: 3 }).catchUp();
    assertEqual(seen.length, 12, "every event");
    const positions = seen.map((e) => e.globalPosition ?? 0);
    assertEqual(
      positions,
      [...positions].sort((a, b) => a - b),
      "global positions increase",
    );
    for (const stream of [`${cat}-a`, `${cat}-b`]) {
      const versions = seen.filter((e) => e.streamId === stream).map((e) => e.version);
      assertEqual(
        versions,
        versions.map((_, i) => i + 1),
        `${stream} in version order`,
      );
    }
    assertEqual(
      sumOf(seen.map((e) => (e.data as { n: number }).n)),
      sumOf([1, 2, 2, 3, 4, 4, 5, 6, 6, 7, 8, 8]),
      "the data as appended",
    );
  });

  rebuildCases(add);
  return { name: options.name, cases };
}
