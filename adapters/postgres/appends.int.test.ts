import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  AggregateRepository,
  CommandBus,
  type ConcurrencyError,
  defineStream,
  type EventEnvelope,
  InMemoryEventBus,
  isConcurrencyError,
  isValidationError,
  projection,
  retryOnConcurrency,
  ulid,
} from "../../src/index.js";
import { collect, eventually } from "../../src/testing/index.js";
import { Counter } from "../../test/fixtures/contention.ts";
import { ensurePostgres, postgresTestClient, uniqueSchema } from "../../test/services/postgres.ts";
import { type AnyProjection, PostgresEventStore, type PostgresSql } from "./index.js";

let sql: PostgresSql;
let url: string;
let store: PostgresEventStore;
const schema = uniqueSchema("appends");

beforeAll(async () => {
  url = await ensurePostgres();
  sql = await postgresTestClient({ max: 8 });
  store = new PostgresEventStore({ sql, schema });
  await store.migrate();
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

/** A store on a client of its own, its connections named so that pg_stat_activity finds them. */
function storeNamed(applicationName: string, max = 4, projections: AnyProjection[] = []) {
  return new PostgresEventStore({
    url,
    schema,
    projections,
    client: { max, connection: { application_name: applicationName } },
  });
}

async function waitUntilBlocked(applicationName: string): Promise<void> {
  await eventually(async () => {
    const rows = await sql`
      SELECT 1 FROM pg_stat_activity WHERE application_name = ${applicationName} AND wait_event_type = 'Lock'`;
    expect(rows.length).toBe(1);
  }, 10_000);
}

/** The client, with every statement it is asked to run recorded (a prepared statement is one round trip). */
function counting(texts: string[]): PostgresSql {
  return new Proxy(sql, {
    get(target, property, receiver) {
      if (property !== "unsafe") return Reflect.get(target, property, receiver);
      return (text: string, parameters: never[], options: object) => {
        texts.push(text);
        return target.unsafe(text, parameters, options);
      };
    },
  });
}

describe("statements per append (the round-trip budget)", () => {
  test("an accepted append of 1 or 100 events, to a new or an existing stream, any expectation, is one prepared statement", async () => {
    const texts: string[] = [];
    const counted = new PostgresEventStore({ sql: counting(texts), schema });
    const stream = `Budget-${ulid()}`;
    const batch = (size: number) => Array.from({ length: size }, (_, n) => ({ type: "Counted", data: { n } }));
    const appends: [number, "no-stream" | "any" | "stream-exists" | number][] = [
      [1, "no-stream"],
      [100, 1],
      [1, "any"],
      [100, "stream-exists"],
    ];
    for (const [size, expectedVersion] of appends) {
      texts.length = 0;
      await counted.appendToStream(stream, batch(size), { expectedVersion });
      expect(texts.length).toBe(1);
      expect(texts[0]).toStartWith("\nINSERT INTO");
    }
    // A refused append asks why with a second statement: conflicts are the slow path.
    texts.length = 0;
    await expect(counted.appendToStream(stream, batch(1), { expectedVersion: 1 })).rejects.toThrow();
    expect(texts.length).toBe(2);
  });
});

describe("appends with no expectation under contention", () => {
  test('16 writers appending with "any" to one stream: none fails, every event is stored once, versions contiguous', async () => {
    const writers = 16;
    const perWriter = 60;
    const contended = storeNamed("eventflows-any-writers", writers);
    const stream = `Hot-${ulid()}`;
    try {
      await Promise.all(
        Array.from({ length: writers }, async (_, writer) => {
          for (let n = 0; n < perWriter; n++) {
            await contended.appendToStream(stream, [{ type: "Counted", data: { writer, n } }]);
          }
        }),
      );
    } finally {
      await contended.close();
    }
    const events = await collect(store.readStream(stream));
    expect(events.map((e) => e.version)).toEqual(Array.from({ length: writers * perWriter }, (_, i) => i + 1));
    expect(new Set(events.map((e) => JSON.stringify(e.data))).size).toBe(writers * perWriter);
  }, 120_000);

  test('with an inline projection (the append runs in a transaction of its own), "any" and "stream-exists" never fail either', async () => {
    const writers = 8;
    const perWriter = 25;
    const counted: string[] = [];
    const projected = storeNamed("eventflows-any-projected", writers, [
      projection({ name: "count", handle: (event) => void counted.push(event.id) }),
    ]);
    const stream = `HotProjected-${ulid()}`;
    await store.appendToStream(stream, [{ type: "Opened", data: {} }]);
    try {
      await Promise.all(
        Array.from({ length: writers }, async (_, writer) => {
          for (let n = 0; n < perWriter; n++) {
            await projected.appendToStream(stream, [{ type: "Counted", data: { writer, n } }], {
              expectedVersion: n % 2 === 0 ? "any" : "stream-exists",
            });
          }
        }),
      );
    } finally {
      await projected.close();
    }
    const events = await collect(store.readStream(stream));
    expect(events.length).toBe(writers * perWriter + 1);
    expect(events.map((e) => e.version)).toEqual(events.map((_, i) => i + 1));
    // Re-run transactions projected too, but only committed ones count: every stored event once.
    const stored = new Set(events.slice(1).map((e) => e.id));
    expect(new Set(counted.filter((id) => stored.has(id))).size).toBe(writers * perWriter);
  }, 120_000);
});

describe("AggregateRepository.update and retryOnConcurrency under contention", () => {
  const counters = () =>
    new AggregateRepository({
      store,
      stream: defineStream("Counter"),
      create: (id) => new Counter(id),
    });

  test("5 and 10 concurrent updates of one aggregate all succeed with the default settings", async () => {
    const repository = counters();
    for (const writers of [5, 10, 10]) {
      const id = ulid();
      await repository.update(id, (counter) => counter.count(), { createIfMissing: true });
      const outcomes = await Promise.allSettled(
        Array.from({ length: writers }, () => repository.update(id, (counter) => counter.count())),
      );
      expect(outcomes.filter((outcome) => outcome.status === "rejected")).toEqual([]);
      const versions = (await collect(store.readStream(`Counter-${id}`))).map((event) => event.version);
      expect(versions).toEqual(Array.from({ length: writers + 1 }, (_, i) => i + 1));
    }
  });

  test("10 concurrent commands updating one aggregate through retryOnConcurrency() all succeed, burst after burst", async () => {
    // With the old default of 3 attempts about one command in seven failed here (146 of 1,000).
    const repository = counters();
    const bus = new CommandBus<{ Count: { payload: { id: string }; result: number } }>().use(retryOnConcurrency());
    bus.register("Count", async ({ id }) => {
      const counter = await repository.load(id);
      counter.count();
      await repository.save(counter);
      return counter.version;
    });
    for (let burst = 0; burst < 30; burst++) {
      const id = ulid();
      await repository.update(id, (counter) => counter.count(), { createIfMissing: true });
      const outcomes = await Promise.allSettled(Array.from({ length: 10 }, () => bus.execute("Count", { id })));
      expect(outcomes.filter((outcome) => outcome.status === "rejected")).toEqual([]);
      expect((await repository.load(id)).version).toBe(11);
    }
  }, 60_000);
});

describe("idempotent retries", () => {
  test("a retry says retried: true, returns the stored events and publishes nothing; the first append does not", async () => {
    const bus = new InMemoryEventBus();
    const published: EventEnvelope[] = [];
    bus.subscribeToAll((event) => void published.push(event));
    const withBus = new PostgresEventStore({ sql, schema, bus });
    const stream = `Retried-${ulid()}`;
    const batch = [
      { id: ulid(), type: "Paid", data: { amount: 5 } },
      { id: ulid(), type: "Shipped", data: null },
    ];
    const first = await withBus.appendToStream(stream, batch);
    expect(first.retried).toBeUndefined();
    const again = await withBus.appendToStream(stream, batch);
    expect(again.retried).toBe(true);
    expect(again.events).toEqual(first.events);
    const inTransaction = await withBus.withTransaction((tx) => tx.appendToStream(stream, batch));
    expect(inTransaction.retried).toBe(true);
    expect(published.map((e) => e.id)).toEqual(batch.map((e) => e.id));
    expect(await withBus.getStreamVersion(stream)).toBe(2);
  });

  test("an id in use behind a new one refuses the batch whatever its expected version, in a transaction too", async () => {
    // The append statement looks up the batch's first id only; a wrong expected version used to
    // hide a later id in use behind a ConcurrencyError (the other stores answer ValidationError).
    const stream = `Behind-${ulid()}`;
    const stored = { id: ulid(), type: "Once", data: 1 };
    await store.appendToStream(stream, [stored]);
    const batch = [{ id: ulid(), type: "Once", data: 2 }, stored];
    for (const expectedVersion of ["no-stream", 5, 1] as const) {
      expect(await store.appendToStream(stream, batch, { expectedVersion }).catch((e: unknown) => e)).toMatchObject({
        code: "VALIDATION_FAILED",
      });
      const inTransaction = await store
        .withTransaction((tx) => tx.appendToStream(stream, batch, { expectedVersion }))
        .catch((e: unknown) => e);
      expect(inTransaction).toMatchObject({ code: "VALIDATION_FAILED" });
    }
    expect(await store.getStreamVersion(stream)).toBe(1);
  });

  test("a lower-case spelling of a stored ULID is the same event: a retry, stored ids in upper case", async () => {
    const stream = `Spelled-${ulid()}`;
    const id = ulid();
    const first = await store.appendToStream(stream, [{ id: id.toLowerCase(), type: "Once", data: 1 }]);
    expect(first.events[0]?.id).toBe(id);
    const again = await store.appendToStream(stream, [{ id, type: "Once", data: 1 }]);
    expect(again.retried).toBe(true);
    const lower = await store.appendToStream(stream, [{ id: id.toLowerCase(), type: "Once", data: 1 }]);
    expect(lower.retried).toBe(true);
    expect(await store.getStreamVersion(stream)).toBe(1);
  });

  test("the same ids with another type or data are refused with a ValidationError; nothing is written", async () => {
    const stream = `Changed-${ulid()}`;
    const id = ulid();
    await store.appendToStream(stream, [{ id, type: "Priced", data: { amount: 5, currency: "EUR" } }]);
    for (const changed of [
      { id, type: "Priced", data: { amount: 6, currency: "EUR" } },
      { id, type: "Repriced", data: { amount: 5, currency: "EUR" } },
      { id, type: "Priced", data: { amount: 5 } },
    ]) {
      const error = await store.appendToStream(stream, [changed]).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: "VALIDATION_FAILED" });
      expect(String((error as Error).message)).toContain("repeat the append unchanged");
      expect(JSON.stringify(error)).not.toContain("EUR");
      const inTransaction = await store
        .withTransaction((tx) => tx.appendToStream(stream, [changed]))
        .catch((e: unknown) => e);
      expect(inTransaction).toMatchObject({ code: "VALIDATION_FAILED" });
    }
    // Key order and metadata (a retry's own trace context) do not count.
    const same = await store.appendToStream(stream, [
      { id, type: "Priced", data: { currency: "EUR", amount: 5 }, metadata: { traceparent: "retry" } },
    ]);
    expect(same.retried).toBe(true);
    expect(await store.getStreamVersion(stream)).toBe(1);
  });

  test("generated data: a retry is accepted exactly when its data equals what is stored (property)", async () => {
    const json = fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.parse(JSON.stringify(value)) as unknown);
    await fc.assert(
      fc.asyncProperty(json, json, async (stored, retry) => {
        const stream = `Generated-${ulid()}`;
        const id = ulid();
        await store.appendToStream(stream, [{ id, type: "Generated", data: stored }]);
        const outcome = await store
          .appendToStream(stream, [{ id, type: "Generated", data: retry }])
          .then((result) => (result.retried === true ? "retried" : "appended"))
          .catch((error: { code?: string }) => error.code);
        const [back] = await collect(store.readStream(stream));
        expect(outcome).toBe(Bun.deepEquals(back?.data, retry) ? "retried" : "VALIDATION_FAILED");
        expect(await store.getStreamVersion(stream)).toBe(1);
      }),
      { numRuns: 60 },
    );
  });
});

describe("a refused append (the store's own transaction: a second statement asks why)", () => {
  test("a retry under the expectation it was first made with is recognised by its ids: retried: true", async () => {
    const stream = `RetriedExact-${ulid()}`;
    const batch = [{ id: ulid(), type: "Opened", data: { n: 1 } }];
    const first = await store.appendToStream(stream, batch, { expectedVersion: "no-stream" });
    const again = await store.appendToStream(stream, batch, { expectedVersion: "no-stream" });
    expect(again.retried).toBe(true);
    expect(again.events).toEqual(first.events);
    expect(await store.getStreamVersion(stream)).toBe(1);
  });

  test("a conflict carries the stream's version for every kind of expectation; nothing is written", async () => {
    const stream = `Refused-${ulid()}`;
    await store.appendToStream(stream, [
      { type: "A", data: {} },
      { type: "B", data: {} },
    ]);
    // Versions past an integer column's range too: no stream is there, so they are conflicts as on every store.
    for (const expectedVersion of [0, 1, 3, "no-stream", 2 ** 31, Number.MAX_SAFE_INTEGER] as const) {
      for (const append of [
        () => store.appendToStream(stream, [{ type: "C", data: {} }], { expectedVersion }),
        () => store.withTransaction((tx) => tx.appendToStream(stream, [{ type: "C", data: {} }], { expectedVersion })),
      ]) {
        const error = await append().catch((e: unknown) => e);
        expect(isConcurrencyError(error)).toBe(true);
        expect((error as ConcurrencyError).actualVersion).toBe(2);
        expect((error as ConcurrencyError).expectedVersion).toBe(expectedVersion);
      }
    }
    const empty = await store
      .appendToStream(`Never-${ulid()}`, [{ type: "C", data: {} }], { expectedVersion: "stream-exists" })
      .catch((e: unknown) => e);
    expect((empty as ConcurrencyError).actualVersion).toBe(0);
    expect(await store.getStreamVersion(stream)).toBe(2);
  });

  test("a stream that reaches the expected version between the two statements gets the append (the race forced by a wrapped client)", async () => {
    const stream = `Caught-${ulid()}`;
    let raced = false;
    // The client as postgres.js made it, except that the "why refused" statement first lets another
    // append create the stream: what a concurrent writer may do between the two statements.
    const wrapped = new Proxy(sql, {
      get(target, property, receiver) {
        if (property !== "unsafe") return Reflect.get(target, property, receiver);
        return (text: string, parameters: never[], options: object) => {
          if (raced || !text.includes("count(*)") || !text.includes("jsonb_array_elements_text($2")) {
            return target.unsafe(text, parameters, options);
          }
          raced = true;
          return {
            values: async () => {
              await store.appendToStream(stream, [{ type: "Created", data: {} }]);
              return target.unsafe(text, parameters, options).values();
            },
          };
        };
      },
    });
    const racing = new PostgresEventStore({ sql: wrapped, schema });
    const result = await racing.appendToStream(stream, [{ type: "Updated", data: {} }], {
      expectedVersion: "stream-exists",
    });
    expect(raced).toBe(true);
    expect(result.nextExpectedVersion).toBe(2);
    expect((await collect(store.readStream(stream))).map((e) => e.type)).toEqual(["Created", "Updated"]);
  });
});

describe("a race lost inside a transaction", () => {
  test("actualVersion is the stream's version, never read from the server's message (a stream id that looks like one)", async () => {
    const stream = `Evil, 99) already exists`;
    const name = `eventflows-lost-${ulid()}`.toLowerCase();
    const loser = storeNamed(name);
    try {
      const version = await store.getStreamVersion(stream);
      let commitWinner!: () => void;
      const winnerMayCommit = new Promise<void>((resolve) => {
        commitWinner = resolve;
      });
      let appended!: () => void;
      const winnerAppended = new Promise<void>((resolve) => {
        appended = resolve;
      });
      const winner = store.withTransaction(async (tx) => {
        await tx.appendToStream(stream, [{ type: "Won", data: {} }], { expectedVersion: version });
        appended();
        await winnerMayCommit;
      });
      await winnerAppended;
      const lost = loser
        .withTransaction((tx) => tx.appendToStream(stream, [{ type: "Lost", data: {} }], { expectedVersion: version }))
        .catch((e: unknown) => e);
      await waitUntilBlocked(name);
      commitWinner();
      await winner;
      const error = await lost;
      expect(isConcurrencyError(error)).toBe(true);
      expect((error as ConcurrencyError).actualVersion).toBe(version + 1);
      expect((error as ConcurrencyError).streamId).toBe(stream);
      expect(await store.getStreamVersion(stream)).toBe(version + 1);
    } finally {
      await loser.close();
    }
  });
});

describe("input limits inside transactions", () => {
  test("withTransaction appends keep the store's maxJsonDepth: deeper data is refused, nothing written", async () => {
    const shallow = new PostgresEventStore({ sql, schema, maxJsonDepth: 3 });
    const stream = `Depth-${ulid()}`;
    const deep = { a: { b: { c: { d: 1 } } } };
    await expect(shallow.appendToStream(stream, [{ type: "Deep", data: deep }])).rejects.toThrow(/depth|nest/i);
    await expect(
      shallow.withTransaction((tx) => tx.appendToStream(stream, [{ type: "Deep", data: deep }])),
    ).rejects.toThrow(/depth|nest/i);
    expect(await shallow.getStreamVersion(stream)).toBe(0);
    await shallow.withTransaction((tx) => tx.appendToStream(stream, [{ type: "Shallow", data: { a: { b: 1 } } }]));
    expect(await shallow.getStreamVersion(stream)).toBe(1);
  });
});

describe("server size limits", () => {
  test("an append whose jsonb form passes the server's 256 MB (75 events of 0.96 MB of zeros) is a ValidationError naming no database internals; nothing is written", async () => {
    const stream = `Huge-${ulid()}`;
    // Within maxEventBytes and MAX_BATCH_BYTES as JSON (72 MB), but about 8 bytes a number as jsonb.
    const data = { xs: new Array(480_000).fill(0) };
    const events = Array.from({ length: 75 }, () => ({ type: "Huge", data }));
    const error = await store.appendToStream(stream, events).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(isValidationError(error)).toBe(true);
    const shown = `${(error as Error).message} ${JSON.stringify(error)}`;
    expect(shown).not.toMatch(/jsonb|268435455|exceeds the maximum|alloc/i);
    expect(await store.getStreamVersion(stream)).toBe(0);
    await expect(store.withTransaction((tx) => tx.appendToStream(stream, events))).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    expect(await store.getStreamVersion(stream)).toBe(0);
  }, 60_000);

  test("an event the server cannot even parse in 1 GB (36 million numbers) is a ValidationError too", async () => {
    const big = new PostgresEventStore({ sql, schema, maxEventBytes: 256 * 1024 * 1024 });
    const stream = `Huger-${ulid()}`;
    const error = await big
      .appendToStream(stream, [{ type: "Huge", data: { xs: new Array(36_000_000).fill(0) } }])
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    expect(isValidationError(error)).toBe(true);
    expect(`${(error as Error).message} ${JSON.stringify(error)}`).not.toMatch(/alloc|memory|jsonb/i);
    expect(await store.getStreamVersion(stream)).toBe(0);
  }, 60_000);
});
