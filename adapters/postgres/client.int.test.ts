import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ensurePostgres, postgresTestClient } from "../../test/services/postgres.ts";
import { isPostgresJs4 } from "./client.js";
import { createPostgresClient, type PostgresSql } from "./index.js";

let url: string;
let observer: PostgresSql;

beforeAll(async () => {
  url = await ensurePostgres();
  observer = await postgresTestClient({ max: 2 });
});
afterAll(async () => {
  await observer.end();
});

/** `url` with `query` added to its own. */
function withQuery(base: string, query: string): string {
  return `${base}${base.includes("?") ? "&" : "?"}${query}`;
}

/** Backends of `application` that wait for a lock, from pg_stat_activity. */
async function lockWaiters(application: string): Promise<number> {
  const [row] = await observer<{ n: number }[]>`
    select count(*)::int as n from pg_stat_activity
    where application_name = ${application} and wait_event_type = 'Lock'`;
  return row?.n ?? 0;
}

describe("createPostgresClient against a real server", () => {
  // The client used to pass its own max (10) and connect_timeout (10 s) as options, which postgres.js
  // ranks over the URL's query: `?max=2&connect_timeout=1` was silently ignored.
  // postgres.js 4 pipelines a statement behind a busy connection's (up to max_pipeline, 100), so it
  // waits for a connection only when none can take one more: max_pipeline=1 makes that so here. Its
  // queue_timeout (which the client sets to connect_timeout) then rejects it with QUEUE_TIMEOUT, as
  // the client's own bound rejects it with CONNECT_TIMEOUT on 3.4.
  test("a URL's max and connect_timeout are the pool's: two connections, and a third statement gives up waiting (CONNECT_TIMEOUT, or QUEUE_TIMEOUT on postgres.js 4)", async () => {
    const application = `eventflows-url-max-${crypto.randomUUID().slice(0, 8)}`;
    const key = Math.floor(Math.random() * 1_000_000_000);
    const query = `max=2&connect_timeout=1&application_name=${application}`;
    const fourth = isPostgresJs4(observer);
    const client = createPostgresClient(withQuery(url, fourth ? `${query}&max_pipeline=1` : query));
    const holder = await observer.reserve();
    try {
      await holder`select pg_advisory_lock(${key})`;
      const blocked = [1, 2].map(() => client`select pg_advisory_xact_lock(${key}), 1 as done`);
      for (const statement of blocked) statement.catch(() => undefined);
      // Both held statements reach the server, each on a connection of its own.
      while ((await lockWaiters(application)) < 2) await Bun.sleep(20);
      let third: unknown;
      const settled = client`select 1 as done`.then(
        () => "resolved",
        (error: { code?: unknown }) => error.code,
      );
      settled.then((outcome) => {
        third = outcome;
      });
      // Until it settles, no third connection may run anything (the 10 connections of old would run it at once).
      while (third === undefined) {
        expect(await lockWaiters(application)).toBeLessThanOrEqual(2);
        await Bun.sleep(20);
      }
      expect(third).toBe(fourth ? "QUEUE_TIMEOUT" : "CONNECT_TIMEOUT");
      const [row] = await observer<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where application_name = ${application}`;
      expect(row?.n).toBe(2);
      await holder`select pg_advisory_unlock(${key})`;
      for (const statement of blocked) expect([...(await statement)]).toEqual([{ pg_advisory_xact_lock: "", done: 1 }]);
      expect([...(await client`select 1 as done`)]).toEqual([{ done: 1 }]);
    } finally {
      await holder`select pg_advisory_unlock_all()`;
      holder.release();
      await client.end({ timeout: 0 });
    }
  }, 60_000);

  test("a URL's max=1: two concurrent pg_sleep statements run one after the other on one backend", async () => {
    const application = `eventflows-url-one-${crypto.randomUUID().slice(0, 8)}`;
    const client = createPostgresClient(withQuery(url, `max=1&application_name=${application}`));
    try {
      const backends = await Promise.all(
        [1, 2].map(() => client<{ pid: number }[]>`select pg_backend_pid() as pid, pg_sleep(0.2)`),
      );
      const [first, second] = backends.map((rows) => rows[0]);
      expect(first?.pid).toBe(second?.pid as number);
      const [row] = await observer<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity where application_name = ${application}`;
      expect(row?.n).toBe(1);
    } finally {
      await client.end({ timeout: 0 });
    }
  }, 60_000);
});
