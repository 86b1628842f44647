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
import type { AlarmLogEntry } from "./timer-worker.ts";

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
  readonly log: AlarmLogEntry[];
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
    const first = await get<{ outcome: string; alarmAt: number }>("/do/arm?id=a&after=1500");
    expect(first.outcome).toBe("started");
    const second = await get<{ alarmAt: number }>("/do/arm?id=b&after=4000");
    expect(second.alarmAt).toBe(first.alarmAt); // a later timeout leaves the earlier alarm

    // Until b has fired and the alarm is set again after it.
    const { fired, log } = await until("/do/state", (s) => s.fired.length >= 2 && "set" in (s.log.at(-1) ?? {}));
    expect(fired.map((f) => [f.key, f.outcome])).toEqual([
      ["a", "completed"],
      ["b", "completed"],
    ]);
    const [a, b] = fired as [FiredTimeoutReport, FiredTimeoutReport];
    // Each fired on its due time or after it, on the object's own clock.
    expect(a.firedAt).toBeGreaterThanOrEqual(a.dueAt);
    expect(b.firedAt).toBeGreaterThanOrEqual(b.dueAt);
    // The alarm is the next due time itself (not a minute away), and the alarm set for it is the one that
    // fires it: a's when armed, b's once a fired; with nothing pending, the longest sleep (60 s) past b's firing.
    expect(first.alarmAt).toBe(a.dueAt);
    const sleep = (log.at(-1) as { set: number }).set;
    expect(sleep).toBeGreaterThanOrEqual(b.firedAt + 60_000);
    expect(log).toEqual([
      { set: a.dueAt },
      { alarm: true },
      { fired: "a" },
      { set: b.dueAt },
      { alarm: true },
      { fired: "b" },
      { set: sleep },
    ]);
  });

  test("a Cron Trigger fires what is due at its tick, once", async () => {
    expect((await get<{ outcome: string }>("/cron/arm?id=c&after=0")).outcome).toBe("started");
    expect((await get<{ outcome: string }>("/cron/arm?id=d&after=600000")).outcome).toBe("started");
    // The Fetcher's scheduled() is there at run time; miniflare's types leave it out.
    const worker = (await miniflare.getWorker()) as unknown as { scheduled(o: { cron: string }): Promise<unknown> };
    await worker.scheduled({ cron: "* * * * *" });
    await worker.scheduled({ cron: "* * * * *" });
    const { fired } = await get<Pick<State, "fired">>("/cron/state");
    expect(fired.map((f) => [f.key, f.outcome])).toEqual([["c", "completed"]]);
  });
});
