/**
 * The Workers timer drivers in workerd (miniflare): a Durable Object's alarm set to the next due time
 * fires each timeout then and re-arms for the following one; a Cron Trigger fires what is due. The
 * Worker is test/sagas/timer-worker.ts, bundled as wrangler bundles it.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import type { FiredTimeoutReport } from "../../src/index.js";
import { bundleWorkerTemplate } from "../../worker-template/test/bundle.ts";
import { repoRoot } from "../services/common.ts";

setDefaultTimeout(60_000);

let miniflare: Miniflare;

beforeAll(async () => {
  const bundle = await bundleWorkerTemplate(join(repoRoot, "test", "sagas", "timer-worker.ts"));
  miniflare = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.mjs", contents: bundle.code }],
    compatibilityDate: "2025-01-01",
    durableObjects: { SAGA_TIMER: "SagaTimer" },
  });
});

afterAll(async () => {
  await miniflare?.dispose();
});

interface State {
  readonly fired: FiredTimeoutReport[];
  readonly alarmAt: number | null;
  readonly now: number;
}

const get = async <T>(path: string): Promise<T> =>
  (await (await miniflare.dispatchFetch(`http://worker.test${path}`)).json()) as T;

async function until(path: string, done: (state: State) => boolean, ms = 15_000): Promise<State> {
  const deadline = Date.now() + ms;
  for (;;) {
    const state = await get<State>(path);
    if (done(state) || Date.now() > deadline) return state;
    await Bun.sleep(50);
  }
}

describe("saga timers on Cloudflare Workers (miniflare)", () => {
  test("a Durable Object alarm sleeps until the next due time, fires it then, and re-arms for the following one", async () => {
    const first = await get<{ outcome: string; alarmAt: number; now: number }>("/do/arm?id=a&after=1500");
    expect(first.outcome).toBe("started");
    // The alarm is the timeout's due time (within the clock drift between the two calls), not a minute away.
    expect(first.alarmAt - first.now).toBeGreaterThan(1000);
    expect(first.alarmAt - first.now).toBeLessThanOrEqual(1600);
    const second = await get<{ alarmAt: number; now: number }>("/do/arm?id=b&after=4000");
    expect(second.alarmAt).toBe(first.alarmAt); // a later timeout leaves the earlier alarm

    const afterA = await until("/do/state", (s) => s.fired.length >= 1);
    expect(afterA.fired.map((f) => f.key)).toEqual(["a"]);
    expect(afterA.fired[0]?.outcome).toBe("completed");
    expect(afterA.fired[0]?.latenessMs).toBeLessThan(1000);
    // Re-armed for b's due time.
    const bDue = second.now + 4000;
    expect(Math.abs((afterA.alarmAt ?? 0) - bDue)).toBeLessThan(200);

    const afterB = await until("/do/state", (s) => s.fired.length >= 2);
    expect(afterB.fired.map((f) => f.key)).toEqual(["a", "b"]);
    expect(afterB.fired[1]?.latenessMs).toBeLessThan(1000);
    // Nothing pending: the object sleeps its longest (60 s).
    expect((afterB.alarmAt ?? 0) - afterB.now).toBeGreaterThan(50_000);
  });

  test("a Cron Trigger fires what is due at its tick, once", async () => {
    expect((await get<{ outcome: string }>("/cron/arm?id=c&after=0")).outcome).toBe("started");
    expect((await get<{ outcome: string }>("/cron/arm?id=d&after=600000")).outcome).toBe("started");
    // The Fetcher's scheduled() is there at run time; miniflare's types leave it out.
    const worker = (await miniflare.getWorker()) as unknown as { scheduled(o: { cron: string }): Promise<unknown> };
    await worker.scheduled({ cron: "* * * * *" });
    await worker.scheduled({ cron: "* * * * *" });
    const { fired } = await get<State>("/cron/state");
    expect(fired.map((f) => [f.key, f.outcome])).toEqual([["c", "completed"]]);
  });
});
