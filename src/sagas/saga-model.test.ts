/**
 * A fast-check model test: 100 saga instances, their events delivered interleaved, concurrently,
 * some more than once and in any order. The model says what each instance must end as; every
 * event must be applied once and its command dispatched once.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { withFakeClock } from "../../test/fixtures/fake-clock.ts";
import { checkInterleavings, checkStalledSteps } from "../../test/sagas/interleavings.ts";
import type { EventEnvelope } from "../events/envelope.js";
import { CommandBus } from "../messaging/command-bus.js";
import { defineSaga } from "./define-saga.js";
import { InMemorySagaStore } from "./in-memory-saga-store.js";
import { SagaRuntime } from "./saga-runtime.js";

type TallyEvent = { type: "Counted"; data: { tally: string; n: number; of: number } };

// Order-free on purpose: whatever order the deliveries take, the model's answer is the same.
const tally = defineSaga<TallyEvent, { total: number; count: number }>({
  name: "Tally",
  startedBy: ["Counted"],
  correlate: (event) => event.data.tally,
  initialState: { total: 0, count: 0 },
  on: {
    Counted: (state, event, ctx) => {
      ctx.dispatch("Record", { n: event.data.n });
      const next = { total: state.total + event.data.n, count: state.count + 1 };
      if (next.count === event.data.of) ctx.complete();
      return next;
    },
  },
});

const INSTANCES = 100;

describe("saga model", () => {
  test("100 concurrent instances with interleaved, duplicated, reordered events end as the model says", async () => {
    const plan = fc.array(
      fc.record({
        values: fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 5 }),
        copies: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 5, maxLength: 5 }),
      }),
      { minLength: INSTANCES, maxLength: INSTANCES },
    );
    await fc.assert(
      fc.asyncProperty(plan, fc.infiniteStream(fc.nat()), async (instances, randomness) => {
        const store = new InMemorySagaStore();
        const executed = new Map<string, number>();
        const commands = new CommandBus<{ Record: { payload: { n: number }; result: undefined } }>();
        commands.register("Record", async (_payload, message) => {
          executed.set(message.id, (executed.get(message.id) ?? 0) + 1);
          return undefined;
        });
        const runtime = new SagaRuntime({ store, commands, sagas: [tally], onError: () => {} });
        const deliveries: EventEnvelope[] = [];
        let id = 0;
        for (const [i, instance] of instances.entries()) {
          for (const [j, n] of instance.values.entries()) {
            const event: EventEnvelope = {
              id: `e${id++}`,
              type: "Counted",
              streamId: `Tally-${i}`,
              version: j + 1,
              timestamp: new Date(0).toISOString(),
              data: { tally: `t${i}`, n, of: instance.values.length },
              metadata: {},
            };
            for (let c = 0; c < (instance.copies[j] ?? 1); c++) deliveries.push(event);
          }
        }
        // A shuffle drawn by fast-check, so a failure shrinks and replays.
        const order = randomness.take(deliveries.length);
        const keyed = [...order].map((r, index) => ({ r, event: deliveries[index] as EventEnvelope }));
        keyed.sort((a, b) => a.r - b.r);
        const outcomes = (await Promise.all(keyed.map(({ event }) => runtime.handle(event)))).flat();

        expect(outcomes.filter((o) => o.outcome === "failed")).toEqual([]);
        const records = await store.list({ saga: "Tally", limit: 1000 });
        expect(records).toHaveLength(INSTANCES);
        for (const [i, instance] of instances.entries()) {
          const record = records.find((r) => r.key === `t${i}`);
          const expected = instance.values.reduce((sum, n) => sum + n, 0);
          expect(record?.state).toEqual({ total: expected, count: instance.values.length });
          expect(record?.status).toBe("completed");
          expect(record?.outbox).toEqual([]);
        }
        const events = instances.reduce((sum, instance) => sum + instance.values.length, 0);
        expect(executed.size).toBe(events);
        expect([...executed.values()].every((count) => count === 1)).toBe(true);
      }),
      { numRuns: 15 },
    );
  }, 60_000);

  test("several runtimes, duplicated deliveries, ticks and crashes end as a sequential run, each command once in effect", async () => {
    await checkInterleavings(() => new InMemorySagaStore(), 100);
  }, 120_000);

  test("two runtimes handling the same events while handlers and command buses stall past leaseMs end as a sequential run (property)", async () => {
    // On a fake clock: the stalls are given up at leaseMs of the runtimes' time, whatever the machine's load.
    await withFakeClock((clock) => clock.until(checkStalledSteps(() => new InMemorySagaStore(), 40)));
  }, 120_000);
});
