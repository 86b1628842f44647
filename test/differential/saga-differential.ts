/**
 * Differential testing of saga stores through the public API (see event-store-differential.ts):
 * generated sequences of every operation the port has (commits at the right, a stale or a bad
 * version, with state, status, step, compensations, attention, a handled id, outbox entries,
 * timeouts scheduled, cancelled and fired; loads; handled-id checks; outbox entries marked
 * dispatched; timeout claims with leases by competing owners; the next due time; timeouts dropped;
 * listings by saga, status and pending outbox; failures recorded and read), with generated JSON
 * values and generated names and ids (any code point, empty, long: the invalid ones must be refused
 * alike). Each sequence runs on the store under test and on a fresh `InMemorySagaStore` (the
 * reference); every answer must be the same.
 *
 * One store serves every run: a run's saga names are its own, its timeouts are due in a range of
 * times of its own, earlier than every earlier run's (claims are by time, across sagas), and what it
 * scheduled is dropped when it ends (so the next due time is the run's own). Test-only code.
 */
import fc from "fast-check";
import {
  InMemorySagaStore,
  type SagaCommit,
  type SagaRecord,
  type SagaStatus,
  type SagaStore,
  type SagaTimeout,
  ulid,
} from "../../src/index.js";
import { anyJson, assertSameAnswer, canonical, outcomeOf } from "./event-store-differential.ts";

const SAGAS = 2;
const KEYS = 4;
const STATUSES: readonly SagaStatus[] = ["running", "compensating", "completed", "compensated", "needs-attention"];

/** Text of any code point, empty or long: names and ids a run uses, the invalid ones included. */
const anyText = fc.oneof(
  { arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 5 }), weight: 3 },
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 3 }),
  fc.constantFrom("", " ", "x".repeat(600), "a\u0000b", "\ud800", "e\u001f"),
);

/**
 * A run's names: in each pool two ordinary ones, used most (see `pick`), and a generated one; the
 * second saga name has a generated suffix.
 */
const pools = fc.record({
  sagaSuffix: fc.oneof(fc.constant(""), fc.string({ unit: "binary", maxLength: 4 })),
  keys: fc.tuple(fc.constant("k"), fc.constant("Ordre-é/1"), anyText, anyText),
  handled: fc.tuple(fc.constant("e1"), fc.constant("e2"), anyText),
  entries: fc.tuple(fc.constant("c1"), fc.constant("c2"), anyText),
  names: fc.tuple(fc.constant("a"), fc.constant("b"), anyText),
  owners: fc.tuple(fc.constant("one"), fc.constant("two"), anyText),
  texts: fc.tuple(fc.constant("Cmd"), fc.constant("Cmd.v2"), anyText),
});

/** An index into a pool: mostly an ordinary name, now and then the generated one. */
const pick = fc.oneof(
  { arbitrary: fc.constant(0), weight: 6 },
  { arbitrary: fc.constant(1), weight: 4 },
  { arbitrary: fc.constant(2), weight: 1 },
);

/** JSON values, now and then holding U+0000 (which no store takes) in a string or a key. */
const withNul = fc.constantFrom<unknown>("\u0000", { a: "x\u0000y" }, [{ "\u0000": 1 }]);
type Pools = typeof pools extends fc.Arbitrary<infer T> ? T : never;

interface Instance {
  readonly saga: number;
  readonly key: number;
}

/**
 * A time: `at` thousands of milliseconds after the run's base, plus `tick` (so that each scheduling
 * is due at a time of its own and claims with a limit pick the same ones everywhere), maybe a
 * fraction; or a value that is not a time a store can keep.
 */
type Time = { readonly at: number; readonly tick: number; readonly fraction: number } | { readonly raw: number };

/** A timeout id: as the runtime makes them (`<saga>/<key>/t/<name>/<version>`), or any text. */
type TimeoutId = { readonly name: number; readonly version: number } | { readonly odd: number };

interface Scheduled {
  readonly name: number;
  readonly id: TimeoutId;
  readonly due: Time;
  readonly data: unknown;
  /** The timeout's saga and key: the commit's own, or another instance's. */
  readonly other?: Instance;
}

export type SagaOperation =
  | {
      readonly kind: "commit";
      readonly instance: Instance;
      readonly expected: { readonly offset: -1 | 0 | 1 } | { readonly raw: number };
      readonly state: unknown;
      readonly status: number;
      readonly step: number;
      readonly compensations: readonly { readonly type: number; readonly payload: unknown }[];
      readonly attention?: { readonly entry: number; readonly error: string; readonly attempts: number };
      readonly handled?: number;
      readonly outbox: readonly {
        readonly id: number;
        readonly type: number;
        readonly payload: unknown;
        readonly causation: number;
        readonly compensation: boolean;
        readonly traceparent?: string;
      }[];
      readonly schedule: readonly Scheduled[];
      readonly cancel: readonly number[];
      readonly fired?: TimeoutId;
    }
  | { readonly kind: "load"; readonly instance: Instance }
  | { readonly kind: "hasHandled"; readonly instance: Instance; readonly handled: number }
  | { readonly kind: "markDispatched"; readonly instance: Instance; readonly entry: number }
  | {
      readonly kind: "claim";
      readonly now: Time;
      readonly owner: number;
      readonly leaseMs: number;
      readonly limit: number;
    }
  | { readonly kind: "nextDue" }
  | { readonly kind: "drop"; readonly instance: Instance; readonly id: TimeoutId }
  | {
      readonly kind: "list";
      readonly saga: number;
      readonly status?: number;
      readonly pendingOutbox?: boolean;
      readonly limit?: number;
    }
  | {
      readonly kind: "recordFailure";
      readonly instance: Instance;
      readonly withKey: boolean;
      readonly handled: number;
      readonly type: number;
      readonly error: string;
    }
  | { readonly kind: "failures"; readonly saga: number; readonly limit?: number };

function operations(maxOperations: number, values: fc.Arbitrary<unknown>): fc.Arbitrary<SagaOperation[]> {
  values = fc.oneof({ arbitrary: values, weight: 30 }, withNul);
  const instance = fc.record({ saga: fc.nat({ max: SAGAS - 1 }), key: fc.nat({ max: KEYS - 1 }) });
  // Mostly the first instances, so that sequences build on what they wrote.
  const usual = fc.oneof(
    { arbitrary: fc.constant({ saga: 0, key: 0 }), weight: 6 },
    { arbitrary: fc.constant({ saga: 0, key: 1 }), weight: 3 },
    instance,
  );
  const three = pick;
  const time: fc.Arbitrary<Time> = fc.oneof(
    {
      arbitrary: fc.record({
        at: fc.nat({ max: 6 }),
        tick: fc.nat({ max: 300 }),
        fraction: fc.oneof({ arbitrary: fc.constant(0), weight: 4 }, fc.constantFrom(0.25, 0.75)),
      }),
      weight: 30,
    },
    fc
      .constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 1e300, -1e300, 2 ** 53 + 2, 9.3e18, -0)
      .map((raw) => ({ raw })),
  );
  const timeoutId: fc.Arbitrary<TimeoutId> = fc.oneof(
    { arbitrary: fc.record({ name: three, version: fc.nat({ max: 3 }) }), weight: 30 },
    fc.record({ odd: fc.nat({ max: 1 }) }),
  );
  const scheduled = fc.record(
    {
      name: three,
      id: timeoutId,
      due: time,
      data: values,
      other: fc.oneof({ arbitrary: fc.constant(undefined), weight: 30 }, instance),
    },
    { requiredKeys: ["name", "id", "due", "data"] },
  );
  const entry = fc.record(
    {
      id: three,
      type: fc.nat({ max: 1 }),
      payload: values,
      causation: three,
      compensation: fc.boolean(),
      traceparent: fc.string({ unit: "binary", maxLength: 4 }),
    },
    { requiredKeys: ["id", "type", "payload", "causation", "compensation"] },
  );
  const commit = fc
    .record(
      {
        kind: fc.constant("commit" as const),
        instance: usual,
        expected: fc.oneof(
          { arbitrary: fc.constant({ offset: 0 as const }), weight: 20 },
          fc.constantFrom(-1 as const, 1 as const).map((offset) => ({ offset })),
          fc.constantFrom(-1, 1.5, Number.NaN, 2 ** 31, 2 ** 53 - 1).map((raw) => ({ raw })),
        ),
        state: values,
        status: fc.oneof(
          { arbitrary: fc.constant(0), weight: 6 },
          fc.nat({ max: STATUSES.length }), // the last is not a status
        ),
        step: fc.oneof(
          { arbitrary: fc.nat({ max: 20 }), weight: 30 },
          fc.constantFrom(-1, 1.5, 2 ** 31, 2 ** 53 - 1, Number.NaN),
        ),
        compensations: fc.array(fc.record({ type: fc.nat({ max: 1 }), payload: values }), { maxLength: 2 }),
        attention: fc.record({
          entry: three,
          error: fc.string({ unit: "binary", maxLength: 6 }),
          attempts: fc.nat({ max: 4 }),
        }),
        handled: three,
        // Now and then two of one id (refused alike).
        outbox: fc.oneof(
          { arbitrary: fc.uniqueArray(entry, { maxLength: 2, selector: (e) => e.id }), weight: 6 },
          fc.array(entry, { minLength: 2, maxLength: 2 }),
        ),
        // Now and then two of one name (refused alike).
        schedule: fc.oneof(
          { arbitrary: fc.constant([]), weight: 4 },
          { arbitrary: fc.uniqueArray(scheduled, { minLength: 1, maxLength: 2, selector: (t) => t.name }), weight: 4 },
          fc.array(scheduled, { minLength: 2, maxLength: 2 }),
        ),
        cancel: fc.array(three, { maxLength: 2 }),
        fired: timeoutId,
      },
      {
        requiredKeys: [
          "kind",
          "instance",
          "expected",
          "state",
          "status",
          "step",
          "compensations",
          "outbox",
          "schedule",
        ],
      },
    )
    .map((op) => ({ ...op, schedule: op.schedule ?? [], cancel: op.cancel ?? [] }));
  return fc.array(
    fc.oneof(
      { arbitrary: commit, weight: 10 },
      { arbitrary: fc.record({ kind: fc.constant("load" as const), instance: usual }), weight: 3 },
      fc.record({ kind: fc.constant("hasHandled" as const), instance: usual, handled: three }),
      fc.record({ kind: fc.constant("markDispatched" as const), instance: usual, entry: three }),
      {
        arbitrary: fc.record({
          kind: fc.constant("claim" as const),
          now: time,
          owner: three,
          leaseMs: fc.oneof({ arbitrary: fc.constantFrom(1, 500, 2000), weight: 15 }, fc.constantFrom(0, 1.5)),
          limit: fc.oneof({ arbitrary: fc.constantFrom(1, 2, 100), weight: 15 }, fc.constantFrom(0, 10_001)),
        }),
        weight: 4,
      },
      fc.record({ kind: fc.constant("nextDue" as const) }),
      fc.record({ kind: fc.constant("drop" as const), instance: usual, id: timeoutId }),
      fc.record(
        {
          kind: fc.constant("list" as const),
          saga: fc.nat({ max: SAGAS - 1 }),
          status: fc.nat({ max: STATUSES.length }),
          pendingOutbox: fc.boolean(),
          limit: fc.constantFrom(1, 2, 100, 0),
        },
        { requiredKeys: ["kind", "saga"] },
      ),
      fc.record({
        kind: fc.constant("recordFailure" as const),
        instance: usual,
        withKey: fc.boolean(),
        handled: three,
        type: fc.nat({ max: 1 }),
        error: fc.string({ unit: "binary", maxLength: 6 }),
      }),
      fc.record(
        { kind: fc.constant("failures" as const), saga: fc.nat({ max: SAGAS - 1 }), limit: fc.constantFrom(1, 2, 0) },
        { requiredKeys: ["kind", "saga"] },
      ),
    ),
    { minLength: 1, maxLength: maxOperations, size: "max" },
  );
}

/** Each run's times are earlier than every earlier run's: a claim never reaches another run's timeouts. */
let runs = 0;
const RUN_SPAN = 10_000_000;

interface Run {
  readonly sagas: readonly string[];
  readonly keys: readonly string[];
  readonly pools: Pools;
  readonly base: number;
  readonly run: string;
}

/**
 * Runs generated sequences on `create()`'s store and on the reference; throws at the first answer
 * that differs (fast-check's report holds the shrunk sequence).
 */
export async function checkSagasAgainstReference(
  create: () => SagaStore,
  options: {
    readonly numRuns?: number;
    readonly maxOperations?: number;
    readonly values?: fc.Arbitrary<unknown>;
    readonly seed?: number;
    /**
     * A store with timeout shards claims oldest first within each shard (DynamoDB with
     * `timeoutShards` > 1, as dynamodb.md says): its claims are made with a limit no run reaches, so
     * which timeouts a claim takes does not depend on the shards. Defaults to false.
     */
    readonly sharded?: boolean;
  } = {},
): Promise<void> {
  const limitOf = (limit: number) => (options.sharded === true && limit >= 1 && limit <= 100 ? 100 : limit);
  await fc.assert(
    fc.asyncProperty(
      pools,
      operations(options.maxOperations ?? 25, options.values ?? anyJson),
      async (p, generated) => {
        const ops = generated.map((op) => (op.kind === "claim" ? { ...op, limit: limitOf(op.limit) } : op));
        runs += 1;
        const run = ulid().slice(-8).toLowerCase();
        const names: Run = {
          sagas: [`Saga_${run}`, `Saga_${run}${p.sagaSuffix}`],
          keys: p.keys,
          pools: p,
          // From 2001 down, run by run: before any timeout other tests schedule at today's time, never below 0.
          base: 1_000_000_000_000 - runs * RUN_SPAN,
          run,
        };
        const reference = new InMemorySagaStore();
        const subject = create();
        const scheduled = new Set<string>();
        try {
          for (const [step, op] of ops.entries()) {
            // The version a commit expects is the reference's (the store answered alike so far).
            const version =
              op.kind === "commit"
                ? ((await reference.load(sagaOf(names, op.instance), keyOf(names, op.instance)).catch(() => undefined))
                    ?.version ?? 0)
                : 0;
            const want = await outcomeOf(() => apply(reference, op, names, step, version));
            const got = await outcomeOf(() => apply(subject, op, names, step, version));
            if (op.kind === "commit" && "ok" in got) {
              for (const t of commitOf(op, names, step, 0).schedule ?? []) scheduled.add(t.id);
            }
            assertSameAnswer(step, op, want, got);
          }
        } finally {
          // What the run left pending is not due in later runs' ranges, but would be their next due time.
          for (const id of scheduled) await subject.dropTimeout(id).catch(() => undefined);
        }
      },
    ),
    { numRuns: options.numRuns ?? 25, ...(options.seed === undefined ? {} : { seed: options.seed }) },
  );
}

const sagaOf = (names: Run, i: Instance) => names.sagas[i.saga] as string;
const keyOf = (names: Run, i: Instance) => names.keys[i.key] as string;

function timeOf(time: Time, names: Run): number {
  return "raw" in time ? time.raw : names.base + time.at * 1000 + time.tick + time.fraction;
}

function timeoutIdOf(id: TimeoutId, instance: Instance, names: Run): string {
  if ("odd" in id) return `${names.run}:${id.odd}:${names.pools.texts[1]}`;
  return `${sagaOf(names, instance)}/${keyOf(names, instance)}/t/${names.pools.names[id.name]}/${id.version}`;
}

function commitOf(
  op: Extract<SagaOperation, { kind: "commit" }>,
  names: Run,
  step: number,
  version: number,
): SagaCommit {
  const { pools: p } = names;
  const saga = sagaOf(names, op.instance);
  const key = keyOf(names, op.instance);
  const expectedVersion = "raw" in op.expected ? op.expected.raw : version + op.expected.offset;
  const schedule = op.schedule.map(
    (t, i): SagaTimeout => ({
      // As the runtime makes them, with the timeout's own name (or any text).
      id: timeoutIdOf("odd" in t.id ? t.id : { name: t.name, version: t.id.version }, t.other ?? op.instance, names),
      saga: sagaOf(names, t.other ?? op.instance),
      key: keyOf(names, t.other ?? op.instance),
      name: p.names[t.name] as string,
      // Each scheduling due at a time of its own (see Time).
      dueAt: "raw" in t.due ? t.due.raw : timeOf({ ...t.due, tick: t.due.tick + step * 4 + i }, names),
      data: t.data,
    }),
  );
  return {
    saga,
    key,
    expectedVersion,
    state: op.state,
    status: (STATUSES[op.status] ?? "paused") as SagaStatus,
    step: op.step,
    compensations: op.compensations.map((c) => ({ type: p.texts[c.type] as string, payload: c.payload })),
    ...(op.attention === undefined
      ? {}
      : {
          attention: {
            entryId: p.entries[op.attention.entry] as string,
            commandType: "Cmd",
            error: op.attention.error,
            attempts: op.attention.attempts,
            at: new Date(0).toISOString(),
            resumeStatus: "running",
          },
        }),
    ...(op.handled === undefined ? {} : { handledId: p.handled[op.handled] as string }),
    outbox: op.outbox.map((e) => ({
      id: p.entries[e.id] as string,
      type: p.texts[e.type] as string,
      payload: e.payload,
      causationId: p.handled[e.causation] as string,
      compensation: e.compensation,
      ...(e.traceparent === undefined ? {} : { traceparent: e.traceparent }),
    })),
    schedule,
    cancel: op.cancel.map((n) => p.names[n] as string),
    ...(op.fired === undefined ? {} : { firedTimeoutId: timeoutIdOf(op.fired, op.instance, names) }),
  };
}

/** A record as compared: everything the port returns. */
const recordOf = (r: SagaRecord | undefined) => (r === undefined ? null : { ...r, attention: r.attention ?? null });

async function apply(store: SagaStore, op: SagaOperation, names: Run, step: number, version: number): Promise<unknown> {
  const { pools: p } = names;
  switch (op.kind) {
    case "commit":
      return store.commit(commitOf(op, names, step, version));
    case "load":
      return recordOf(await store.load(sagaOf(names, op.instance), keyOf(names, op.instance)));
    case "hasHandled":
      return store.hasHandled(sagaOf(names, op.instance), keyOf(names, op.instance), p.handled[op.handled] as string);
    case "markDispatched":
      return store.markDispatched(sagaOf(names, op.instance), keyOf(names, op.instance), p.entries[op.entry] as string);
    case "claim": {
      const claimed = await store.claimDueTimeouts({
        now: timeOf(op.now, names),
        owner: p.owners[op.owner] as string,
        leaseMs: op.leaseMs,
        limit: op.limit,
      });
      // Oldest first; timeouts due at the same time may come in any order.
      return claimed.sort((a, b) => a.dueAt - b.dueAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    }
    case "nextDue":
      return (await store.nextDueAt()) ?? null;
    case "drop":
      return store.dropTimeout(timeoutIdOf(op.id, op.instance, names));
    case "list": {
      const listed = await store.list({
        saga: names.sagas[op.saga] as string,
        ...(op.status === undefined ? {} : { status: (STATUSES[op.status] ?? "paused") as SagaStatus }),
        ...(op.pendingOutbox === undefined ? {} : { pendingOutbox: op.pendingOutbox }),
        ...(op.limit === undefined ? {} : { limit: op.limit }),
      });
      // Instances created in the same millisecond may be listed in any order, and a limit may then
      // cut the list at a different one: the count is compared, and the instances when all are listed.
      const all = op.limit === undefined || listed.length < op.limit;
      return all
        ? listed.map(recordOf).sort((a, b) => (canonical(a) < canonical(b) ? -1 : 1))
        : { count: listed.length };
    }
    case "recordFailure":
      return store.recordFailure({
        saga: sagaOf(names, op.instance),
        ...(op.withKey ? { key: keyOf(names, op.instance) } : {}),
        eventId: p.handled[op.handled] as string,
        eventType: p.texts[op.type] as string,
        error: op.error,
        at: new Date(0).toISOString(),
      });
    case "failures":
      return store.failures({
        saga: names.sagas[op.saga] as string,
        ...(op.limit === undefined ? {} : { limit: op.limit }),
      });
  }
}
