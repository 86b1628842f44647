/**
 * The kill-and-resume run of a PostgreSQL projection rebuild, shared by the integration test (a small
 * feed) and `bench/rebuild-kill.ts` (1,000,000 events, by hand): seeds a feed, gives the projection an
 * old live generation, starts the rebuild in a child process, SIGKILLs it half-way, resumes it here
 * and swaps, and meanwhile queries the live read model. Returns what a test checks and the figures.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { PostgresEventStore, PostgresReadModelStore, type PostgresSql } from "../../adapters/postgres/index.ts";
import {
  PROJECTION_STATE_COLLECTION,
  ProjectionRunner,
  projectionCheckpointId,
  rebuildCheckpointId,
  rebuildProjection,
  ulid,
} from "../../src/index.ts";
import { untilHeadReadable } from "../../src/testing/index.ts";
import { countingProjection } from "./counting-projection.ts";

export interface RebuildKillOptions {
  readonly sql: PostgresSql;
  readonly url: string;
  /** A migrated schema whose feed holds nothing else. */
  readonly schema: string;
  readonly events: number;
  readonly streams: number;
  readonly batchSize: number;
  readonly log?: (line: string) => void;
}

export interface RebuildKillResult {
  readonly head: number;
  /** The shadow's checkpoint when the child was killed. */
  readonly killedAt: number;
  /** Events after `killedAt` in the feed, and how many the resumed rebuild read (equal when nothing is read twice). */
  readonly leftAtKill: number;
  readonly resumedRead: number;
  /** Shadow events/s the child reported last. */
  readonly childEventsPerSecond: number;
  readonly seedMs: number;
  readonly resumeMs: number;
  readonly freshMs: number;
  /** The swapped live documents and state, and a fresh run's. */
  readonly swapped: { readonly documents: unknown; readonly state: unknown };
  readonly fresh: { readonly documents: unknown; readonly state: unknown };
  readonly liveCheckpoint: number | undefined;
  readonly shadowCheckpoint: number | undefined;
  /** Live queries made during the rebuild, and the snapshots they saw that were neither the old generation nor the swapped one. */
  readonly liveQueries: number;
  readonly liveFailures: readonly string[];
  readonly liveMaxMs: number;
}

export async function rebuildKillRun(options: RebuildKillOptions): Promise<RebuildKillResult> {
  const { sql, schema, events, streams, batchSize } = options;
  const log = options.log ?? (() => undefined);
  const store = new PostgresEventStore({ sql, schema });
  const readModels = new PostgresReadModelStore({ sql, schema });
  const name = `rebuilt-${ulid()}`;
  const collection = `counts-${ulid()}`;

  let started = performance.now();
  const perAppend = 500;
  const appends = Math.ceil(events / perAppend);
  for (let a = 0; a < appends; a += 4) {
    await Promise.all(
      Array.from({ length: Math.min(4, appends - a) }, (_, k) => {
        const j = a + k;
        const count = Math.min(perAppend, events - j * perAppend);
        return store.appendToStream(
          `Rebuilt-${j % streams}`,
          Array.from({ length: count }, (_, n) => ({ type: "Counted", data: { i: j, n: n % 7 } })),
        );
      }),
    );
  }
  const seedMs = performance.now() - started;
  // The head as committed, and readable: getLastGlobalPosition alone stops below any other client's
  // transaction still open on the server, and the run checks that the rebuild ends exactly here.
  const head = await untilHeadReadable(store);
  log(`seeded ${events} events in ${seedMs.toFixed(0)} ms (head ${head})`);

  // The old generation: what the live read model serves until the swap.
  for (let s = 0; s < streams; s++) await readModels.put(collection, `Rebuilt-${s}`, { count: -1, sum: -1 });
  await readModels.checkpoints.store(projectionCheckpointId(name), head);
  const old = JSON.stringify(await readModels.list(collection));

  // Queries against the live read model all along: each must see a whole generation.
  const seen = new Set<string>();
  let liveQueries = 0;
  let liveMaxMs = 0;
  let querying = true;
  const queries = (async () => {
    while (querying) {
      const at = performance.now();
      seen.add(JSON.stringify(await readModels.list(collection)));
      liveMaxMs = Math.max(liveMaxMs, performance.now() - at);
      liveQueries++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();

  const worker = spawn(
    process.execPath,
    [join(import.meta.dirname, "rebuild-worker.ts"), options.url, schema, name, collection, String(batchSize)],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  worker.stderr.on("data", (chunk) => {
    stderr += String(chunk);
  });
  const exited = new Promise((resolve) => worker.once("exit", resolve));
  let childEventsPerSecond = 0;
  await new Promise<void>((resolve, reject) => {
    const early = (code: number | null) => reject(new Error(`rebuild worker exited early (${code}): ${stderr}`));
    worker.once("exit", early);
    let pending = "";
    worker.stdout.on("data", (chunk) => {
      pending += String(chunk);
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const [word, done, , rate] = line.split(" ");
        if (word !== "progress") continue;
        childEventsPerSecond = Number(rate);
        // Global positions need not start at 1 (the sequence may be shared): half-way is by events.
        if (Number(done) >= events / 2) {
          worker.off("exit", early);
          worker.kill("SIGKILL");
          resolve();
        }
      }
    });
  });
  await exited;
  const killedAt = (await readModels.checkpoints.load(rebuildCheckpointId(name))) ?? 0;
  let leftAtKill = 0;
  for await (const _ of store.readAll({ after: killedAt })) leftAtKill++;
  log(
    `killed at shadow position ${killedAt} of ${head}, ${leftAtKill} events left (child at ${childEventsPerSecond} events/s)`,
  );

  started = performance.now();
  const resumed = await rebuildProjection({
    projection: countingProjection(name, collection),
    eventStore: store,
    readModels,
    collections: [collection],
    batchSize,
  });
  const resumeMs = performance.now() - started;
  log(`resumed: ${resumed.read} events in ${resumeMs.toFixed(0)} ms, swapped ${resumed.swapped}`);
  querying = false;
  await queries;

  const scratch = `fresh-${ulid()}`;
  const scratchCollection = `fresh-${ulid()}`;
  started = performance.now();
  await new ProjectionRunner({
    projection: countingProjection(scratch, scratchCollection),
    eventStore: store,
    readModels,
    batchSize,
  }).catchUp();
  const freshMs = performance.now() - started;
  log(`fresh run: ${events} events in ${freshMs.toFixed(0)} ms`);

  const swappedDocuments = await readModels.list(collection);
  const now = JSON.stringify(swappedDocuments);
  const liveFailures = [...seen].filter((s) => s !== old && s !== now).map((s) => s.slice(0, 200));
  return {
    head,
    killedAt,
    leftAtKill,
    resumedRead: resumed.read,
    childEventsPerSecond,
    seedMs,
    resumeMs,
    freshMs,
    swapped: { documents: swappedDocuments, state: await readModels.get(PROJECTION_STATE_COLLECTION, name) },
    fresh: {
      documents: await readModels.list(scratchCollection),
      state: await readModels.get(PROJECTION_STATE_COLLECTION, scratch),
    },
    liveCheckpoint: await readModels.checkpoints.load(projectionCheckpointId(name)),
    shadowCheckpoint: await readModels.checkpoints.load(rebuildCheckpointId(name)),
    liveQueries,
    liveFailures,
    liveMaxMs,
  };
}
