/**
 * DynamoDB event store bench (issue 4): appends and stream reads of `DynamoDbEventStore` (aws4fetch,
 * no SDK) against Castore 2.4's `DynamoDBSingleTableEventStorageAdapter` with @aws-sdk/client-dynamodb,
 * on the same DynamoDB Local, in the same run; plus the bundle size of each for Workers.
 *
 * Ours runs twice: with the global feed (the default: one transaction per append that also moves
 * the commit counter and writes a commit marker; concurrent appends of the process share one) and
 * without it (what Castore offers: no global order). Castore appends one event with PutItem and
 * several atomically with `EventStore.pushEventGroup` (TransactWriteItems), the version chosen by the
 * caller; it checks that the version is free, not that the previous one exists (we check both: a
 * one-event append after a version the store has seen is a PutItem too).
 *
 * Workloads: batches of 1, 10, 25 and 98 events (98: the most one of our appends carries with the
 * feed; 100 transaction actions minus the marker and the version check), on one hot stream
 * sequentially, and on new streams 16 at a time; 16 writers contending for one stream (read the
 * version, append, retry on conflict); reading a 1,000-event stream. "ceiling" rows are the bare
 * request through aws4fetch; "ceiling, feed's transaction" is the transaction an append with the feed
 * sends, by hand (the true ceiling of that design), and the 1-event cross-check also times the
 * floor of any transactional append.
 *
 * Run: `bun bench/dynamodb.bench.ts`, or `bun run bench dynamodb` to also refresh bench/RESULTS.md.
 */
import { gzipSync } from "node:zlib";
import { EventStore as CastoreEventStore, EventType } from "@castore/core";
import { build } from "esbuild";
import { bench, group, summary } from "mitata";
import { createDynamoDbClient, DynamoDbEventStore } from "../adapters/dynamodb/index.js";
import { isConcurrencyError, type NewEvent, ulid } from "../src/index.js";
import { castoreCreateTable, castoreStorage } from "../test/fixtures/castore-table.js";
import { ensureDynamoDb } from "../test/services/dynamodb.ts";
import { type InterleavedResult, interleaved } from "./lib/interleave.js";
import { runAndReport } from "./lib/report.js";

const local = await ensureDynamoDb();
const client = createDynamoDbClient(local);
const run = ulid().slice(-8).toLowerCase();

// --- Tables -------------------------------------------------------------------------------------------

const feedStore = new DynamoDbEventStore({ ...local, client, tableName: `bench_feed_${run}` });
const plainStore = new DynamoDbEventStore({ ...local, client, tableName: `bench_plain_${run}`, globalFeed: false });
await feedStore.ensureTable();
await plainStore.ensureTable();

const castoreTable = `bench_castore_${run}`;
await client.send("CreateTable", castoreCreateTable(castoreTable));
const ceilingTable = `bench_ceiling_${run}`;
await client.send("CreateTable", {
  TableName: ceilingTable,
  BillingMode: "PAY_PER_REQUEST",
  AttributeDefinitions: [
    { AttributeName: "pk", AttributeType: "S" },
    { AttributeName: "sk", AttributeType: "N" },
  ],
  KeySchema: [
    { AttributeName: "pk", KeyType: "HASH" },
    { AttributeName: "sk", KeyType: "RANGE" },
  ],
});

const happened = new EventType<"Happened", { n: number; text: string }>({ type: "Happened" });
const castore = new CastoreEventStore({
  eventStoreId: "BENCH",
  eventTypes: [happened],
  reducer: (_aggregate, event) => ({ aggregateId: event.aggregateId, version: event.version }),
  eventStorageAdapter: castoreStorage(local, castoreTable),
});

// --- Appends ------------------------------------------------------------------------------------------

const TEXT = "an event of a typical size, about a hundred bytes of JSON in all, with its number";
const ours = (count: number): NewEvent[] =>
  Array.from({ length: count }, (_, n) => ({ type: "Happened", data: { n, text: TEXT } }));

type Appender = (stream: string, version: number, count: number) => Promise<void>;

const appendOurs =
  (store: DynamoDbEventStore): Appender =>
  async (stream, version, count) => {
    await store.appendToStream(stream, ours(count), { expectedVersion: version });
  };

const appendCastore: Appender = async (stream, version, count) => {
  const timestamp = new Date().toISOString();
  const events = Array.from({ length: count }, (_, n) => ({
    aggregateId: stream,
    version: version + n + 1,
    type: "Happened" as const,
    timestamp,
    payload: { n, text: TEXT },
  }));
  if (count === 1) await castore.pushEvent(events[0] as (typeof events)[number]);
  else {
    const [head, second, ...rest] = events.map((event) => castore.groupEvent(event));
    if (head === undefined || second === undefined) throw new Error("a group has at least two events");
    await CastoreEventStore.pushEventGroup(head, second, ...rest);
  }
};

/** The bare request: PutItem, or TransactWriteItems of conditional puts, signed by aws4fetch. */
const appendCeiling: Appender = async (stream, version, count) => {
  const item = (n: number) => ({
    pk: { S: stream },
    sk: { N: String(version + n + 1) },
    type: { S: "Happened" },
    data: { S: JSON.stringify({ n, text: TEXT }) },
  });
  if (count === 1) {
    await client.send("PutItem", {
      TableName: ceilingTable,
      Item: item(0),
      ConditionExpression: "attribute_not_exists(pk)",
    });
    return;
  }
  await client.send("TransactWriteItems", {
    TransactItems: Array.from({ length: count }, (_, n) => ({
      Put: { TableName: ceilingTable, Item: item(n), ConditionExpression: "attribute_not_exists(pk)" },
    })),
  });
};

/**
 * The ceiling of the feed's design: by hand, the one transaction an append with the feed sends (the
 * commit counter moved on condition that it holds the value last seen, the commit marker, and the
 * events with their id, time and global position as conditional puts). What separates it from the
 * bare request is DynamoDB's cost of those extra actions, not our code. Sequential only: its counter
 * is this process's, without the group commit that lets ours share it among concurrent appends.
 */
let feedCounter = 0;
const counterMove = (counter: number) => ({
  Update: {
    TableName: ceilingTable,
    Key: { pk: { S: "\u001fcounter" }, sk: { N: "0" } },
    UpdateExpression: "SET #next = :next",
    ConditionExpression: counter === 0 ? "attribute_not_exists(#next)" : "#next = :counter",
    ExpressionAttributeNames: { "#next": "next" },
    ExpressionAttributeValues:
      counter === 0
        ? { ":next": { N: "1" } }
        : { ":next": { N: String(counter + 1) }, ":counter": { N: String(counter) } },
    ReturnValuesOnConditionCheckFailure: "ALL_OLD",
  },
});
const feedEvent = (stream: string, version: number, position: number, n: number) => ({
  Put: {
    TableName: ceilingTable,
    Item: {
      pk: { S: stream },
      sk: { N: String(version) },
      id: { S: ulid() },
      type: { S: "Happened" },
      data: { S: JSON.stringify({ n, text: TEXT }) },
      ts: { S: new Date().toISOString() },
      gp: { N: String(position) },
    },
    ConditionExpression: "attribute_not_exists(pk)",
  },
});
const appendCeilingFeed: Appender = async (stream, version, count) => {
  const counter = feedCounter;
  const commit = counter + 1;
  const token = crypto.randomUUID();
  const marker = {
    Put: {
      TableName: ceilingTable,
      Item: {
        pk: { S: "\u001flog" },
        sk: { N: String(commit) },
        stream: { S: stream },
        first: { N: String(version + 1) },
        count: { N: String(count) },
        at: { N: String(Date.now()) },
        token: { S: token },
      },
      ConditionExpression: "attribute_not_exists(pk)",
    },
  };
  const events = Array.from({ length: count }, (_, n) => feedEvent(stream, version + n + 1, commit * 100 + n, n));
  await client.send("TransactWriteItems", {
    TransactItems: [counterMove(counter), marker, ...events],
    ClientRequestToken: token,
  });
  feedCounter = commit;
};

/** Where the floor of any transactional append lies: one event alone in a transaction... */
const appendOneActionTransaction: Appender = async (stream, version) => {
  await client.send("TransactWriteItems", { TransactItems: [feedEvent(stream, version + 1, 0, 0)] });
};
/** ...and with the counter beside it (a design that folded the marker into the counter or event item). */
const appendCounterAndEvent: Appender = async (stream, version) => {
  const counter = feedCounter;
  await client.send("TransactWriteItems", {
    TransactItems: [counterMove(counter), feedEvent(stream, version + 1, (counter + 1) * 100, 0)],
  });
  feedCounter = counter + 1;
};

const FEED_CEILING = "ceiling, feed's transaction";
const implementations = [
  ["ours, feed", appendOurs(feedStore)],
  ["ours, no feed", appendOurs(plainStore)],
  ["Castore", appendCastore],
  ["ceiling", appendCeiling],
  [FEED_CEILING, appendCeilingFeed],
] as const;
/** Ceilings that only run one append at a time (their own counter). */
const sequentialOnly = (label: string) => label === FEED_CEILING;

const BATCHES = [1, 10, 25, 98] as const;
// mitata takes each benchmark's samples in one stretch; on a shared machine a busy stretch lands on
// whichever row runs then. Alternating the order per group spreads that over ours and the peer.
const inOrder = (flip: boolean) => (flip ? [...implementations].reverse() : [...implementations]);
const WRITERS = 16;
const eventsPerIteration: Record<string, number> = {};
const pairs: [string, string][] = [];
/** What each benchmark wrote, checked against the table after the run. */
const written = new Map<string, { stream: string; implementation: string; versions: number }[]>();

/** Records the hot streams still being written when the run ends. */
const finals: (() => void)[] = [];
const record = (name: string, implementation: string, stream: string, versions: number) => {
  const list = written.get(name) ?? [];
  list.push({ stream, implementation, versions });
  written.set(name, list);
};

// DynamoDB Local answers the first hundred or so requests of a new shape several times slower (its
// own JIT): without a warm-up, a variant measured first in a group carries that cost alone.
for (const [label, append] of implementations) {
  const stream = `Warm-${ulid()}`;
  for (let version = 0; version < 150; version++) await append(stream, version, 1);
  for (let version = 150; version < 300; version += 10) await append(stream, version, 10);
  record("warm-up", label, stream, 300);
}

for (const count of BATCHES) {
  group(`append ${count}, one hot stream, sequential`, () => {
    summary(() => {
      for (const [label, append] of inOrder(count % 2 === 0)) {
        const name = `append ${count}, hot stream, c1: ${label}`;
        eventsPerIteration[name] = count;
        let stream = `Hot${count}-${ulid()}`;
        let version = 0;
        bench(name, async () => {
          // A new stream every 200 appends keeps streams at a realistic length.
          if (version >= 200 * count) {
            record(name, label, stream, version);
            stream = `Hot${count}-${ulid()}`;
            version = 0;
          }
          await append(stream, version, count);
          version += count;
        }).gc(false);
        finals.push(() => record(name, label, stream, version));
      }
    });
  });
  pairs.push([`append ${count}, hot stream, c1: ours, feed`, `append ${count}, hot stream, c1: Castore`]);
  pairs.push([`append ${count}, hot stream, c1: ours, no feed`, `append ${count}, hot stream, c1: Castore`]);
  // Against a ceiling, "peer time / ours" is the share of the ceiling's speed ours reaches.
  pairs.push([`append ${count}, hot stream, c1: ours, feed`, `append ${count}, hot stream, c1: ${FEED_CEILING}`]);
  pairs.push([`append ${count}, hot stream, c1: ours, feed`, `append ${count}, hot stream, c1: ceiling`]);
  pairs.push([`append ${count}, hot stream, c1: ours, no feed`, `append ${count}, hot stream, c1: ceiling`]);
}

// The concurrent groups after all sequential ones: their load on the emulator lingers a moment.
for (const count of BATCHES) {
  group(`append ${count}, new streams, ${WRITERS} concurrent`, () => {
    summary(() => {
      for (const [label, append] of inOrder(count % 2 === 1)) {
        if (label.startsWith("ceiling")) continue;
        const name = `append ${count}, new streams, c${WRITERS}: ${label}`;
        eventsPerIteration[name] = count * WRITERS;
        bench(name, async () => {
          await Promise.all(
            Array.from({ length: WRITERS }, async () => {
              const stream = `New${count}-${ulid()}`;
              await append(stream, 0, count);
              record(name, label, stream, count);
            }),
          );
        }).gc(false);
      }
    });
  });
  pairs.push([
    `append ${count}, new streams, c${WRITERS}: ours, feed`,
    `append ${count}, new streams, c${WRITERS}: Castore`,
  ]);
  pairs.push([
    `append ${count}, new streams, c${WRITERS}: ours, no feed`,
    `append ${count}, new streams, c${WRITERS}: Castore`,
  ]);
}

// 16 writers on one stream: read the version, append 10 events there, retry on conflict.
const versionOf: Record<string, (stream: string) => Promise<number>> = {
  "ours, feed": (stream) => feedStore.getStreamVersion(stream),
  "ours, no feed": (stream) => plainStore.getStreamVersion(stream),
  // Castore's getEvents treats `limit` as a page size and still pages through the whole stream (one
  // request per event with limit 1), so its writers read the version with one plain getEvents.
  Castore: async (stream) => {
    const { events } = await castore.getEvents(stream);
    return events[events.length - 1]?.version ?? 0;
  },
};
const isConflict = (error: unknown) =>
  isConcurrencyError(error) ||
  (error as { code?: string })?.code === "EventAlreadyExists" ||
  /already exists/i.test(String(error));

group(`append 10, one stream, ${WRITERS} writers contending`, () => {
  summary(() => {
    for (const [label, append] of implementations) {
      if (label.startsWith("ceiling")) continue;
      const name = `append 10, hot stream, c${WRITERS} contending: ${label}`;
      eventsPerIteration[name] = 10 * WRITERS;
      const readVersion = versionOf[label] as (stream: string) => Promise<number>;
      bench(name, async () => {
        const stream = `Contended-${ulid()}`;
        await Promise.all(
          Array.from({ length: WRITERS }, async () => {
            for (let attempt = 0; ; attempt++) {
              const version = await readVersion(stream);
              try {
                await append(stream, version, 10);
                return;
              } catch (error) {
                if (!isConflict(error) || attempt > 1_000) throw error;
              }
            }
          }),
        );
        record(name, label, stream, 10 * WRITERS);
      }).gc(false);
    }
  });
});
pairs.push([
  `append 10, hot stream, c${WRITERS} contending: ours, feed`,
  `append 10, hot stream, c${WRITERS} contending: Castore`,
]);
pairs.push([
  `append 10, hot stream, c${WRITERS} contending: ours, no feed`,
  `append 10, hot stream, c${WRITERS} contending: Castore`,
]);

// --- Reads --------------------------------------------------------------------------------------------

const READ_LENGTH = 1_000;
const readStream = `Read-${ulid()}`;
for (let version = 0; version < READ_LENGTH; version += 50) {
  await appendOurs(feedStore)(readStream, version, 50);
  await appendCastore(readStream, version, 50);
}

group(`read a ${READ_LENGTH.toLocaleString("en-US")}-event stream`, () => {
  summary(() => {
    const oursName = `read ${READ_LENGTH} events: ours`;
    const castoreName = `read ${READ_LENGTH} events: Castore`;
    eventsPerIteration[oursName] = READ_LENGTH;
    eventsPerIteration[castoreName] = READ_LENGTH;
    bench(oursName, async () => {
      let n = 0;
      for await (const _ of feedStore.readStream(readStream)) n++;
      if (n !== READ_LENGTH) throw new Error(`ours read ${n} events`);
    }).gc(false);
    bench(castoreName, async () => {
      const { events } = await castore.getEvents(readStream);
      if (events.length !== READ_LENGTH) throw new Error(`Castore read ${events.length} events`);
    }).gc(false);
    pairs.push([oursName, castoreName]);
  });
});

// --- Bundle size --------------------------------------------------------------------------------------

async function bundleSize(contents: string): Promise<{ min: number; gzip: number }> {
  const result = await build({
    stdin: { contents, resolveDir: import.meta.dirname, loader: "ts" },
    bundle: true,
    minify: true,
    platform: "browser",
    format: "esm",
    write: false,
    logLevel: "silent",
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  return { min: code.byteLength, gzip: gzipSync(code, { level: 9 }).byteLength };
}
const oursSize = await bundleSize(`export { DynamoDbEventStore } from "../adapters/dynamodb/index.ts";`);
const castoreSize = await bundleSize(
  `export { EventStore } from "@castore/core";
   export { DynamoDBSingleTableEventStorageAdapter } from "@castore/event-storage-adapter-dynamodb";
   export { DynamoDBClient } from "@aws-sdk/client-dynamodb";`,
);
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;

// --- Interleaved cross-check --------------------------------------------------------------------------

/**
 * Appends again, measured round-robin (lib/interleave.ts: in each round every implementation does one
 * iteration in turn, one append to its hot stream or ${WRITERS} appends to new streams at once), so
 * that the machine's load changes hit every implementation alike: medians and ratios a busy shared
 * machine cannot skew, for each runtime. The 1-event row also times the floor of any transactional
 * append (one action; the counter and the event).
 */
async function crossCheck(count: number, concurrent: boolean, rounds: number): Promise<InterleavedResult[]> {
  const workload = concurrent ? `new streams, c${WRITERS}` : "hot stream, c1";
  const variants: (readonly [string, Appender])[] = implementations.filter(
    ([label]) => !concurrent || !sequentialOnly(label),
  );
  if (count === 1 && !concurrent) {
    variants.push(["ceiling, 1-action transaction", appendOneActionTransaction]);
    variants.push(["ceiling, counter + event transaction", appendCounterAndEvent]);
  }
  return interleaved(
    variants.map(([label, append]) => {
      const name = `append ${count}, ${workload}: ${label}`;
      eventsPerIteration[name] ??= concurrent ? count * WRITERS : count;
      let stream = `Round${count}-${ulid()}`;
      let version = 0;
      const iteration = concurrent
        ? () => Promise.all(Array.from({ length: WRITERS }, () => append(`RoundNew${count}-${ulid()}`, 0, count)))
        : async () => {
            if (version >= 200 * count) {
              stream = `Round${count}-${ulid()}`;
              version = 0;
            }
            await append(stream, version, count);
            version += count;
          };
      return [name, iteration] as const;
    }),
    { rounds, batch: 1 },
  );
}
const crossChecked: InterleavedResult[] = [];
for (const [count, concurrent, rounds] of [
  [1, false, 80],
  [10, false, 80],
  [25, false, 60],
  [98, false, 30],
  [1, true, 30],
  [10, true, 20],
  [25, true, 12],
] as const) {
  crossChecked.push(...(await crossCheck(count, concurrent, rounds)));
  if (concurrent) {
    pairs.push([
      `append ${count}, new streams, c${WRITERS}: ours, feed`,
      `append ${count}, new streams, c${WRITERS}: ceiling`,
    ]);
    pairs.push([
      `append ${count}, new streams, c${WRITERS}: ours, no feed`,
      `append ${count}, new streams, c${WRITERS}: ceiling`,
    ]);
  }
}
/**
 * Appends with the feed against Castore, the two alone in alternation. In the rotation above each of
 * Castore's requests follows four to six others, and its SDK request slows the more requests run
 * between two of its own (a throwaway script, 2026-12-04, one event, Bun: 0.90-1.26 ms back to back,
 * 1.40-1.45 ms alternating with ours alone, 1.05-1.58 ms in a rotation of four, 2.11 ms in the bench's
 * rotation of seven): the rotation flattered ours against Castore, and these pairs are the fairer figure.
 */
const pairwise = (count: number) => `append ${count}, hot stream, c1, ours and Castore alone`;
for (const [count, rounds] of [
  [1, 200],
  [10, 150],
  [98, 60],
] as const) {
  const contenders: (readonly [string, Appender])[] = [
    ["ours, feed", appendOurs(feedStore)],
    ["Castore", appendCastore],
  ];
  crossChecked.push(
    ...(await interleaved(
      contenders.map(([label, append]) => {
        const name = `${pairwise(count)}: ${label}`;
        eventsPerIteration[name] = count;
        let stream = `Pair${count}-${ulid()}`;
        let version = 0;
        return [
          name,
          async () => {
            if (version >= 200 * count) {
              stream = `Pair${count}-${ulid()}`;
              version = 0;
            }
            await append(stream, version, count);
            version += count;
          },
        ] as const;
      }),
      { rounds, batch: 1 },
    )),
  );
  pairs.push([`${pairwise(count)}: ours, feed`, `${pairwise(count)}: Castore`]);
}
pairs.push(
  ["append 1, hot stream, c1: ours, feed", "append 1, hot stream, c1: ceiling, counter + event transaction"],
  ["append 1, hot stream, c1: ceiling, counter + event transaction", "append 1, hot stream, c1: ceiling"],
  ["append 1, hot stream, c1: ceiling, 1-action transaction", "append 1, hot stream, c1: ceiling"],
  [`append 1, hot stream, c1: ${FEED_CEILING}`, "append 1, hot stream, c1: ceiling"],
);

// --- Run, check, report -------------------------------------------------------------------------------

const results = await runAndReport("dynamodb", "DynamoDB event store vs Castore (DynamoDB Local)", {
  eventsPerIteration,
  pairs,
  // Medians: a few samples taken while another process holds the core cannot drag them.
  statistic: "p50",
  interleaved: crossChecked,
  notes: [
    `Same DynamoDB Local (1.25.1, in memory, Java 17) for every row, one table each; events carry ~100 bytes of JSON. "ours, feed" keeps the global feed (global positions, readAll, subscribeToAll); "ours, no feed" and Castore have no global order. "ceiling" is the bare aws4fetch request (PutItem, or TransactWriteItems of conditional puts). c16 rows run 16 appends at once per iteration; "contending" rows have 16 writers read the version, append 10 events and retry on conflict until all 16 appends landed.`,
    `"ceiling, feed's transaction" is the transaction an append with the feed sends, written by hand (counter moved on condition, commit marker, the events with id, time and position; sequential only); "ceiling, 1-action transaction" and "ceiling, counter + event transaction" (1 event, cross-check only) show what a transaction costs DynamoDB Local by itself and what a design without the marker item could reach. Against a ceiling, "peer time / ours" is the share of the ceiling's speed reached (0.90× = 90%); rows pairing two ceilings compare the designs' floors.`,
    `Cross-check measured round-robin (one iteration of every implementation per round: one append to its hot stream, or ${WRITERS} appends to new streams at once; medians), so the load changes of this shared machine hit all alike.`,
    `Bundle (esbuild, minified, browser platform as for Workers): ours, DynamoDbEventStore with the core and aws4fetch, ${kb(oursSize.min)} (${kb(oursSize.gzip)} gzip); Castore core + DynamoDB adapter + @aws-sdk/client-dynamodb, ${kb(castoreSize.min)} (${kb(castoreSize.gzip)} gzip): ${(castoreSize.gzip / oursSize.gzip).toFixed(1)}× ours, gzipped.`,
  ],
});

// Every variant did its work: each stream holds exactly the versions written.
for (const final of finals) final();
let checked = 0;
for (const [name, streams] of written) {
  for (const { stream, implementation, versions } of streams.slice(-3)) {
    const version = implementation.startsWith("ceiling")
      ? 0
      : await (versionOf[implementation] as (stream: string) => Promise<number>)(stream);
    if (!implementation.startsWith("ceiling") && version !== versions) {
      throw new Error(`${name}: stream ${stream} is at ${version}, ${versions} were written`);
    }
    checked++;
  }
}
console.log(`\nchecked ${checked} streams; ${results.length} benchmarks written to bench/results/dynamodb.{json,md}`);
for (const table of [feedStore.layout.tableName, plainStore.layout.tableName, castoreTable, ceilingTable]) {
  await client.send("DeleteTable", { TableName: table }).catch(() => undefined);
}
