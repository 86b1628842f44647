/**
 * A fast-check property shared by the saga stores' tests: events delivered to several runtimes over
 * one store, concurrently, some more than once, ticks at random times, and runtimes that crash (their
 * command dispatch never returns, after the command may have taken effect). After a restart (the feed
 * delivers every event again, `redrive`, ticks until nothing is due) every instance ends as a
 * sequential run over a fresh store ends, and each command the sequential run sent was sent under one
 * id (at least once: a crash or two runtimes may send it again under that id).
 */
import { expect } from "bun:test";
import fc from "fast-check";
import { defineSaga, type EventEnvelope, type SagaOutcome, SagaRuntime, type SagaStore } from "../../src/index.js";

const KEYS = ["a", "b/c", "d"];
const TIMEOUTS = 6;
// Long enough that no firing on a loaded machine outlives it (a tick stops waiting for a firing after leaseMs).
const LEASE_MS = 30_000;
/** The last time an op ticks at: the restart's ticks start past every lease taken until then. */
const LAST_TICK = 6000;

type Mesh = { type: "Noted"; data: { key: string; arm?: { name: string; at: number } } };
type MeshState = { seen: string[]; fired: string[] };

const insert = (list: readonly string[], item: string) => [...new Set([...list, item])].sort();

/**
 * Order-free on purpose: whatever order the steps take, each instance's end state is the same.
 * `stall`, when given, may hold a run of the event's handler up: until the promise it returns settles.
 */
function meshSaga(name: string, stall?: (eventId: string) => Promise<void> | undefined) {
  const fire = (
    state: MeshState,
    fired: { name: string },
    ctx: { key: string; dispatch(t: string, p: unknown): void },
  ) => {
    ctx.dispatch("Alarm", { of: `${ctx.key}:${fired.name}` });
    return { ...state, fired: insert(state.fired, fired.name) };
  };
  return defineSaga<Mesh, MeshState>({
    name,
    startedBy: ["Noted"],
    correlate: (event) => event.data.key,
    initialState: { seen: [], fired: [] },
    on: {
      Noted: (state, event, ctx) => {
        const decide = () => {
          ctx.dispatch("Note", { of: event.id });
          if (event.data.arm !== undefined) ctx.schedule({ at: event.data.arm.at, name: event.data.arm.name });
          return { ...state, seen: insert(state.seen, event.id) };
        };
        const held = stall?.(event.id);
        return held === undefined ? decide() : held.then(decide);
      },
    },
    onTimeout: Object.fromEntries(Array.from({ length: TIMEOUTS }, (_, i) => [`t${i}`, fire])),
  });
}

type Op =
  | { readonly kind: "deliver"; readonly runtime: number; readonly event: number; readonly copies: number }
  | { readonly kind: "tick"; readonly runtime: number; readonly at: number }
  | { readonly kind: "crash"; readonly runtime: number };

// Each event: its instance and, maybe, a timeout (names unique per instance, so none replaces another).
const plannedEvents = fc.array(
  fc.record({ key: fc.constantFrom(...KEYS), at: fc.option(fc.integer({ min: 0, max: 5000 }), { nil: undefined }) }),
  { minLength: 1, maxLength: 12 },
);

const plan = fc.record({
  events: plannedEvents,
  ops: fc.array(
    fc.oneof(
      fc.record({
        kind: fc.constant("deliver" as const),
        runtime: fc.nat(2),
        event: fc.nat(11),
        copies: fc.integer({ min: 1, max: 2 }),
      }),
      fc.record({ kind: fc.constant("tick" as const), runtime: fc.nat(2), at: fc.integer({ min: 0, max: LAST_TICK }) }),
      fc.record({ kind: fc.constant("crash" as const), runtime: fc.nat(2) }),
    ),
    { maxLength: 30 },
  ),
  // How many ops start together before the next batch waits for them.
  batch: fc.integer({ min: 1, max: 6 }),
  // Every runtime dies while the last batch runs (its steps saved or not, their commands pending).
  lastBatchCrashes: fc.boolean(),
  // Whether a crashed runtime's command took effect before it died, or never left.
  effectBeforeCrash: fc.boolean(),
});

/**
 * Runs the property over stores `create` makes (one per run and side); `runs` cases. `processes`:
 * each runtime gets a store of its own from `create` (over the same data, as separate processes
 * would: a store's caches are its own), not one shared store.
 */
export async function checkInterleavings(
  create: () => SagaStore | Promise<SagaStore>,
  runs: number,
  { processes = false }: { readonly processes?: boolean } = {},
): Promise<void> {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(plan, async ({ events: drawn, ops, batch, lastBatchCrashes, effectBeforeCrash }) => {
      // Names of their own per run and side: stores over one database keep every run's instances apart.
      const name = `Mesh-${Date.now().toString(36)}-${run++}`;
      const saga = meshSaga(name);
      const events = meshEvents(drawn);

      const expected = await sequential(await create(), meshSaga(`${name}-sequential`), events);

      const store = await create();
      const stores = processes ? await Promise.all([0, 1, 2, 3].map(() => create())) : [store, store, store, store];
      const sent: { id: string; of: string }[] = [];
      const crashed = new Set<number>();
      // Ops started and neither settled nor stuck in a crashed runtime's dispatch.
      let inflight = 0;
      const track = (started: Promise<unknown>) => {
        inflight++;
        started.then(
          () => inflight--,
          () => inflight--,
        );
      };
      const quiet = async () => {
        for (let i = 0; inflight > 0; i++) {
          if (i > 2000) throw new Error(`${inflight} saga operations neither finished nor crashed`);
          await settle();
        }
      };
      const runtime = (index: number) =>
        new SagaRuntime({
          store: stores[index] as SagaStore,
          sagas: [saga],
          now: () => 0,
          leaseMs: LEASE_MS,
          retryDelayMs: 0,
          onError: () => {},
          commands: {
            execute: async (_type, payload, options) => {
              const dead = crashed.has(index);
              if (!dead || effectBeforeCrash) sent.push({ id: options?.id ?? "", of: (payload as { of: string }).of });
              // Crashed: the process died before it heard the outcome. The op dispatching it never
              // settles: it counts as done.
              if (dead) {
                inflight--;
                return new Promise(() => {});
              }
              return undefined;
            },
          },
        });
      const runtimes = [runtime(0), runtime(1), runtime(2)];
      const outcomes: SagaOutcome[] = [];
      for (let i = 0; i < ops.length; i += batch) {
        for (const op of ops.slice(i, i + batch) as Op[]) {
          const target = runtimes[op.runtime] as SagaRuntime;
          if (crashed.has(op.runtime)) continue; // a dead process does nothing more
          if (op.kind === "crash") crashed.add(op.runtime);
          else if (op.kind === "tick") track(target.tick(op.at));
          else {
            const event = events[op.event % events.length] as EventEnvelope;
            for (let c = 0; c < op.copies; c++) track(target.handle(event).then((each) => outcomes.push(...each)));
          }
        }
        if (lastBatchCrashes && i + batch >= ops.length) for (const r of [0, 1, 2]) crashed.add(r);
        await quiet();
      }
      // A crashed runtime fails neither the saga nor the store.
      expect(outcomes.filter((o) => o.outcome === "failed" && o.retryable !== true)).toEqual([]);

      // The restart: every event again (the feed from before the crash), the outbox, then time passes.
      const restarted = runtime(3);
      for (const event of events) {
        const [outcome] = await restarted.handle(event);
        expect(outcome?.outcome).not.toBe("failed");
      }
      await restarted.redrive();
      // Past every lease: ticks until one fires nothing (the store may hold other tests' timeouts).
      const first = LAST_TICK + LEASE_MS + 1;
      for (let at = first; (await restarted.tick(at)).fired.length > 0; at += LEASE_MS + 1) {
        if (at > first + 20 * (LEASE_MS + 1)) throw new Error("timeouts still firing after 20 ticks");
      }

      for (const key of KEYS) {
        const record = await store.load(saga.name, key);
        expect({ key, state: record?.state, outbox: record?.outbox ?? [] }).toEqual({
          key,
          state: expected.states.get(key),
          outbox: [],
        });
      }
      // Each command once in effect: one id per command, and the same commands as the sequential run.
      const ids = new Map<string, Set<string>>();
      for (const { id, of } of sent) ids.set(of, (ids.get(of) ?? new Set()).add(id));
      expect([...ids.keys()].sort()).toEqual(expected.commands);
      expect([...ids.entries()].filter(([, each]) => each.size !== 1)).toEqual([]);
      expect(new Set(sent.map((s) => s.id)).size).toBe(expected.commands.length);
    }),
    { numRuns: runs },
  );
}

const stallPlan = fc.record({
  events: plannedEvents,
  ops: fc.array(
    fc.oneof(
      fc.record({
        kind: fc.constant("deliver" as const),
        runtime: fc.nat(1),
        event: fc.nat(11),
        copies: fc.integer({ min: 1, max: 2 }),
        // This delivery's handler does not return within the bound: released after its batch, or never.
        stall: fc.constantFrom("none", "none", "released", "never"),
      }),
      // The runtime's command bus does not answer until the batch ends (those attempts never take effect).
      fc.record({ kind: fc.constant("silence" as const), runtime: fc.nat(1) }),
    ),
    { maxLength: 24 },
  ),
  batch: fc.integer({ min: 1, max: 6 }),
});

/**
 * A fast-check property: two runtimes over one store get the same events, concurrently, some more
 * than once, while some runs of a handler do not return within the runtimes' bound (`leaseMs`,
 * `boundMs` here; released later, or never) and a runtime's command bus stops answering for a while.
 * Every `handle` returns; a run given up saves nothing, even once its handler returns. After a restart
 * (every event again, parked instances resumed, the outbox re-driven, the timeouts fired) every
 * instance ends as a sequential run ends, and each command it sent was sent under one id.
 */
export async function checkStalledSteps(
  create: () => SagaStore | Promise<SagaStore>,
  runs: number,
  { boundMs = 40 }: { readonly boundMs?: number } = {},
): Promise<void> {
  let run = 0;
  await fc.assert(
    fc.asyncProperty(stallPlan, async ({ events: drawn, ops, batch }) => {
      const name = `Stall-${Date.now().toString(36)}-${run++}`;
      const events = meshEvents(drawn);
      const expected = await sequential(await create(), meshSaga(`${name}-sequential`), events);

      const store = await create();
      // Runs of a handler to hold up, per event id, each with when it is let go.
      const stalls = new Map<string, ("released" | "never")[]>();
      const released: (() => void)[] = [];
      const saga = meshSaga(name, (eventId) => {
        const kind = stalls.get(eventId)?.shift();
        if (kind === undefined) return undefined;
        return new Promise<void>((resolve) => {
          if (kind === "released") released.push(resolve);
        });
      });
      const sent: { id: string; of: string }[] = [];
      const silent = new Set<number>();
      const runtime = (index: number, leaseMs: number) =>
        new SagaRuntime({
          store,
          sagas: [saga],
          now: () => 0,
          leaseMs,
          retryDelayMs: 0,
          maxAttempts: 2,
          onError: () => {},
          commands: {
            execute: async (_type, payload, options) => {
              if (silent.has(index)) return new Promise(() => {});
              sent.push({ id: options?.id ?? "", of: (payload as { of: string }).of });
              return undefined;
            },
          },
        });
      const runtimes = [runtime(0, boundMs), runtime(1, boundMs)];
      const outcomes: SagaOutcome[] = [];
      for (let i = 0; i < ops.length; i += batch) {
        const started: Promise<unknown>[] = [];
        for (const op of ops.slice(i, i + batch)) {
          if (op.kind === "silence") {
            silent.add(op.runtime);
            continue;
          }
          const event = events[op.event % events.length] as EventEnvelope;
          if (op.stall !== "none") stalls.set(event.id, [...(stalls.get(event.id) ?? []), op.stall]);
          const target = runtimes[op.runtime] as SagaRuntime;
          for (let c = 0; c < op.copies; c++) started.push(target.handle(event).then((each) => outcomes.push(...each)));
        }
        // Every handle returns, stalled or not: within the bound.
        await Promise.all(started);
        stalls.clear();
        silent.clear();
        for (const release of released.splice(0)) release();
      }
      // A stalled step is failed and retryable; nothing else fails.
      expect(outcomes.filter((o) => o.outcome === "failed" && o.retryable !== true)).toEqual([]);
      expect(
        outcomes.filter((o) => o.outcome === "failed" && (o.error as { code?: string })?.code !== "SAGA_STEP_TIMEOUT"),
      ).toEqual([]);
      // Runs given up and let go, dispatch loops still retrying: what they do now happens before the restart.
      await new Promise((resolve) => setTimeout(resolve, 4 * boundMs));

      const restarted = runtime(2, LEASE_MS);
      for (const event of events) {
        const [outcome] = await restarted.handle(event);
        expect(outcome?.outcome).not.toBe("failed");
      }
      // Parked by a command that did not answer twice: resumed, as an operator would; then the outbox.
      for (let round = 0; round < 20; round++) {
        const parked = await restarted.needsAttention(name);
        for (const record of parked) await restarted.resume(name, record.key);
        await restarted.redrive();
        const pending = (await store.list({ saga: name, pendingOutbox: true })).length;
        if (parked.length === 0 && pending === 0) break;
        await new Promise((resolve) => setTimeout(resolve, boundMs));
      }
      const first = LAST_TICK + LEASE_MS + 1;
      for (let at = first; (await restarted.tick(at)).fired.length > 0; at += LEASE_MS + 1) {
        if (at > first + 20 * (LEASE_MS + 1)) throw new Error("timeouts still firing after 20 ticks");
      }

      for (const key of KEYS) {
        const record = await store.load(name, key);
        expect({ key, state: record?.state, outbox: record?.outbox ?? [], status: record?.status }).toEqual({
          key,
          state: expected.states.get(key),
          outbox: [],
          status: record === undefined ? undefined : "running",
        });
      }
      const ids = new Map<string, Set<string>>();
      for (const { id, of } of sent) ids.set(of, (ids.get(of) ?? new Set()).add(id));
      expect([...ids.keys()].sort()).toEqual(expected.commands);
      expect([...ids.entries()].filter(([, each]) => each.size !== 1)).toEqual([]);
    }),
    { numRuns: runs },
  );
}

/** The events of a run: each of an instance, and maybe arming a timeout (names unique per instance, so none replaces another). */
function meshEvents(drawn: readonly { readonly key: string; readonly at: number | undefined }[]): EventEnvelope[] {
  // Timeout names per instance, in order of the instance's events that arm one.
  const armed = new Map<string, number>();
  return drawn.map((each, i) => {
    const n = armed.get(each.key) ?? 0;
    const arm = each.at !== undefined && n < TIMEOUTS ? { name: `t${n}`, at: each.at } : undefined;
    if (arm !== undefined) armed.set(each.key, n + 1);
    return {
      id: `e${i}`,
      type: "Noted",
      streamId: `Mesh-${each.key}`,
      version: i + 1,
      timestamp: new Date(0).toISOString(),
      data: { key: each.key, ...(arm === undefined ? {} : { arm }) },
      metadata: {},
    };
  });
}

/** One runtime, one event at a time, each once; then every timeout fires. */
async function sequential(store: SagaStore, saga: ReturnType<typeof meshSaga>, events: readonly EventEnvelope[]) {
  const commands: string[] = [];
  const runtime = new SagaRuntime({
    store,
    sagas: [saga],
    now: () => 0,
    onError: () => {},
    commands: { execute: async (_type, payload) => void commands.push((payload as { of: string }).of) },
  });
  for (const event of events) await runtime.handle(event);
  await runtime.tick(10_000);
  const states = new Map<string, unknown>();
  for (const key of KEYS) states.set(key, (await store.load(saga.name, key))?.state);
  return { states, commands: commands.sort() };
}

/** Lets what is in flight settle: a few turns of the event loop. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 5));
