/**
 * Three schedulers (three runtimes, each with a store of its own from `makeStore`) tick over the same
 * 200 due timeouts: 20 instances of a saga that schedules ten each. Every timeout fires exactly once,
 * every firing is applied, and each instance's state counts its ten. Run on each SQL saga store.
 */
import { expect } from "bun:test";
import { defineSaga, type FiredTimeoutReport, SagaRuntime, type SagaStore, ulid } from "../../src/index.js";
import { orderEvent, recordingBus } from "./order-saga.ts";

export interface CompetingSchedulersOptions {
  /** The runtimes' "now": the timeouts are due one second after it. */
  readonly at: number;
  /** Also require that more than one scheduler fired some (a store whose claims interleave). */
  readonly spread?: boolean;
}

export async function checkCompetingSchedulers(
  makeStore: () => SagaStore,
  { at, spread = false }: CompetingSchedulersOptions,
): Promise<void> {
  const name = `Armed-${ulid()}`;
  const saga = defineSaga<{ type: "Arm"; data: { id: string } }, { fired: number }>({
    name,
    startedBy: ["Arm"],
    correlate: (event) => event.data.id,
    initialState: { fired: 0 },
    on: {
      Arm: (state, _event, ctx) => {
        for (let i = 0; i < 10; i++) ctx.schedule({ after: i, name: `t${i}` });
        return state;
      },
    },
    onTimeout: Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [
        `t${i}`,
        // May run again after a conflict with a sibling timeout's firing; only one run is saved.
        (state: { fired: number }) => ({ fired: state.fired + 1 }),
      ]),
    ),
  });
  const commands = recordingBus().bus;
  const runtimes = ["a", "b", "c"].map(
    (owner) => new SagaRuntime({ store: makeStore(), commands, sagas: [saga], now: () => at, owner, tickLimit: 9 }),
  );
  const [first] = runtimes;
  await Promise.all(
    Array.from({ length: 20 }, (_, i) => first?.handle(orderEvent("Arm" as never, `i${i}`, { id: `i${i}` }))),
  );
  const reports = await Promise.all(
    runtimes.map(async (runtime) => {
      const mine: FiredTimeoutReport[] = [];
      for (let round = 0; round < 12; round++) mine.push(...(await runtime.tick(at + 1000)).fired);
      return mine;
    }),
  );
  const firings = new Map<string, number>();
  for (const report of reports.flat()) {
    const id = `${report.key}/${report.name}`;
    firings.set(id, (firings.get(id) ?? 0) + 1);
  }
  expect(firings.size).toBe(200);
  expect([...firings.values()].filter((n) => n !== 1)).toEqual([]);
  expect(reports.flat().filter((r) => r.outcome !== "applied")).toEqual([]);
  if (spread) expect(reports.filter((mine) => mine.length > 0).length).toBeGreaterThan(1);
  const states = await makeStore().list({ saga: name, limit: 100 });
  expect(states.map((r) => (r.state as { fired: number }).fired)).toEqual(Array(20).fill(10));
}
