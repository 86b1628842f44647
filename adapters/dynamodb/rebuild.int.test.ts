import { beforeAll, describe, expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { join } from "node:path";
import {
  ErrorCode,
  isServiceError,
  PROJECTION_STATE_COLLECTION,
  ProjectionRunner,
  projectionCheckpointId,
  rebuildCheckpointId,
  rebuildProjection,
  shadowCollection,
  ulid,
} from "../../src/index.js";
import { countingProjection } from "../../test/postgres/counting-projection.ts";
import {
  createDynamoDbClient,
  DynamoDbEventStore,
  DynamoDbReadModelStore,
  type DynamoDbReadModelStoreOptions,
  GENERATION_PARTITION_PREFIX,
  READ_MODEL_PARTITION_PREFIX,
} from "./index.js";
import { useLocalDynamoDb } from "./local.fixture.test.ts";

/** Every table here has the event store's layout: made by local.store(), dropped at the end. */
const local = useLocalDynamoDb();
const newTable = async () => (await local.store()).layout.tableName;
let tableName = "";

beforeAll(async () => {
  tableName = await newTable();
});

const store = (options: Partial<DynamoDbReadModelStoreOptions> = {}) =>
  new DynamoDbReadModelStore({ ...local.endpoint, tableName, ...options });

/** The raw item of a document under a namespace (a collection not yet swapped lives under its own name). */
async function rawDocument(namespace: string, id: string): Promise<unknown> {
  const result = await createDynamoDbClient(local.endpoint).send<{ Item?: Record<string, { S?: string }> }>("GetItem", {
    TableName: tableName,
    Key: { pk: { S: READ_MODEL_PARTITION_PREFIX + JSON.stringify([namespace, id]) }, sk: { N: "0" } },
    ConsistentRead: true,
  });
  return result.Item?.doc?.S === undefined ? undefined : JSON.parse(result.Item.doc.S);
}

/** A live generation at checkpoint 10 and a shadow at 10 too: a stale batch's compare-and-set would pass. */
async function seeded(models: DynamoDbReadModelStore) {
  const name = `stale-${ulid()}`;
  const collection = `c-${ulid()}`;
  await models.put(collection, "old", { generation: 1 });
  await models.checkpoints.store(projectionCheckpointId(name), 10);
  await models.put(shadowCollection(name, collection), "new", { generation: 2 });
  await models.checkpoints.store(rebuildCheckpointId(name), 10);
  const plan = {
    collections: [{ from: shadowCollection(name, collection), to: collection }],
    documents: [],
    checkpoints: [{ from: rebuildCheckpointId(name), to: projectionCheckpointId(name) }],
  };
  return { name, collection, plan };
}

describe("DynamoDbReadModelStore generations", () => {
  test("a runner still on a swapped-out generation is refused with READ_MODEL_GENERATION_CHANGED and writes nothing; its retry lands in the new generation", async () => {
    const rebuilder = store();
    // The live runner's store has read the pointer before the swap and trusts it for a minute.
    const live = store({ generationCacheMs: 60_000 });
    const { name, collection, plan } = await seeded(rebuilder);
    expect(await live.get(collection, "old")).toEqual({ generation: 1 });
    await rebuilder.swap(plan);

    const batch = () =>
      live.transaction(async (tx) => {
        await tx.put(collection, "from-stale", { generation: 1 });
        await tx.put(PROJECTION_STATE_COLLECTION, name, { stale: true });
        await tx.checkpoints.store(projectionCheckpointId(name), 11, { expected: 10 });
      });
    await expect(batch()).rejects.toMatchObject({ code: "READ_MODEL_GENERATION_CHANGED", collection });
    // Nothing of the batch: not in the retired generation, not in the live one, checkpoint and state untouched.
    expect(await rawDocument(collection, "from-stale")).toBeUndefined();
    expect(await rebuilder.list(collection)).toEqual([{ id: "new", document: { generation: 2 } }]);
    expect(await rebuilder.checkpoints.load(projectionCheckpointId(name))).toBe(10);
    expect(await rebuilder.get(PROJECTION_STATE_COLLECTION, name)).toBeUndefined();

    // The refusal made the store forget the pointer: the retry writes into the new generation.
    await batch();
    expect(await rebuilder.list(collection)).toEqual([
      { id: "from-stale", document: { generation: 1 } },
      { id: "new", document: { generation: 2 } },
    ]);
    expect(await rebuilder.checkpoints.load(projectionCheckpointId(name))).toBe(11);
  });

  test("a running ProjectionRunner whose store still trusts the old pointer: its next batch is refused, reported to onError, and retried into the swapped generation, nothing counted twice", async () => {
    const eventStore = new DynamoDbEventStore({ ...local.endpoint, tableName });
    const name = `running-${ulid()}`;
    const collection = `running-${ulid()}`;
    const stream = `Running${ulid()}-1`;
    await eventStore.appendToStream(stream, [{ type: "Counted", data: { i: 0, n: 1 } }]);
    const errors: unknown[] = [];
    const live = new ProjectionRunner({
      projection: countingProjection(name, collection),
      eventStore,
      readModels: store({ generationCacheMs: 60_000 }),
      pollIntervalMs: 20,
      retryDelayMs: 20,
      onError: (error) => errors.push(error),
    });
    live.start();
    try {
      await live.whenCaughtUp();
      const rebuilder = store();
      const rebuilt = await rebuildProjection({
        projection: countingProjection(name, collection),
        eventStore,
        readModels: rebuilder,
        collections: [collection],
      });
      expect(rebuilt.swapped).toBe(true);
      await eventStore.appendToStream(stream, [{ type: "Counted", data: { i: 0, n: 2 } }]);
      await live.whenCaughtUp();
      expect(await rebuilder.get(collection, stream)).toEqual({ count: 2, sum: 3 });
      expect(errors).toContainEqual(expect.objectContaining({ code: "READ_MODEL_GENERATION_CHANGED", collection }));
    } finally {
      await live.stop();
    }
  }, 60_000);

  test("a plain put or delete through a stale pointer is refused too; reads are stale for at most generationCacheMs", async () => {
    const rebuilder = store();
    const stale = store({ generationCacheMs: 60_000 });
    const staleDeleter = store({ generationCacheMs: 60_000 });
    const fresh = store({ generationCacheMs: 0 });
    const { collection, plan } = await seeded(rebuilder);
    expect(await stale.get(collection, "old")).toEqual({ generation: 1 });
    expect(await staleDeleter.get(collection, "old")).toEqual({ generation: 1 });
    expect(await fresh.get(collection, "old")).toEqual({ generation: 1 });
    await rebuilder.swap(plan);
    // The stale store still reads the old generation, whole; one that reads the pointer each time sees the swap.
    expect(await stale.list(collection)).toEqual([{ id: "old", document: { generation: 1 } }]);
    expect(await fresh.list(collection)).toEqual([{ id: "new", document: { generation: 2 } }]);
    await expect(stale.put(collection, "plain", { x: 1 })).rejects.toMatchObject({
      code: "READ_MODEL_GENERATION_CHANGED",
    });
    expect(await rawDocument(collection, "plain")).toBeUndefined();
    await expect(staleDeleter.delete(collection, "old")).rejects.toMatchObject({
      code: "READ_MODEL_GENERATION_CHANGED",
    });
    expect(await rawDocument(collection, "old")).toEqual({ generation: 1 });
    // Refused once, the pointer is read again.
    expect(await stale.list(collection)).toEqual([{ id: "new", document: { generation: 2 } }]);
  });

  test("two swaps from the same pointers (the second's commit held back until the first is done): the second is refused and changes nothing", async () => {
    const a = store();
    const client = createDynamoDbClient(local.endpoint);
    const send = client.send.bind(client);
    let open = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    let held = () => {};
    const holding = new Promise<void>((resolve) => {
      held = resolve;
    });
    client.send = (async (operation: string, input: unknown, options?: Parameters<typeof send>[2]) => {
      if (operation === "TransactWriteItems") {
        held();
        await gate;
      }
      return send(operation, input, options);
    }) as typeof client.send;
    const b = store({ client });
    const { collection, plan } = await seeded(a);
    const second = b.swap(plan);
    second.catch(() => undefined);
    await holding;
    await a.swap(plan);
    open();
    await expect(second).rejects.toMatchObject({ code: "READ_MODEL_GENERATION_CHANGED" });
    expect(await a.list(collection)).toEqual([{ id: "new", document: { generation: 2 } }]);
  });

  test("swaps that would touch one item twice, or move the projections' state collection whole, are refused", async () => {
    const models = store();
    const none = { documents: [], checkpoints: [] };
    await expect(models.swap({ collections: [{ from: "a", to: "a" }], ...none })).rejects.toMatchObject({
      code: "VALIDATION_FAILED",
    });
    await expect(
      models.swap({ collections: [{ from: "s", to: PROJECTION_STATE_COLLECTION }], ...none }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    await expect(
      models.swap({
        collections: [{ from: "s", to: "t" }],
        documents: [{ from: { collection: "s", id: "1" }, to: { collection: "u", id: "1" } }],
        checkpoints: [],
      }),
    ).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    expect(() => store({ generationCacheMs: -1 })).toThrow("generationCacheMs");
  });

  test("purgeRetiredGenerations deletes swapped-out and dropped generations within its request budget, resuming where it stopped", async () => {
    const models = store();
    const { name, collection, plan } = await seeded(models);
    for (let i = 0; i < 5; i++) await models.put(collection, `old-${i}`, { i });
    const shadow = shadowCollection(name, collection);
    await models.swap(plan);
    await models.put(shadow, "dropped", { x: 1 });
    const dropped = await pointedNamespace(shadow);
    await models.drop({ collections: [shadow], documents: [], checkpoints: [] });
    expect(await rawDocument(collection, "old-0")).toEqual({ i: 0 });
    expect(await rawDocument(dropped, "dropped")).toEqual({ x: 1 });

    // Too young by default: nothing is deleted yet (a reader elsewhere may still be on it).
    const young = await models.purgeRetiredGenerations({ maxRequests: 50 });
    expect(young.deleted).toBe(0);
    expect(await rawDocument(collection, "old-0")).toEqual({ i: 0 });

    // A budget of a few requests over small pages: several calls, each bounded, then done.
    let deleted = 0;
    let calls = 0;
    for (;;) {
      const result = await models.purgeRetiredGenerations({ olderThanMs: 0, maxRequests: 4, pageSize: 25 });
      expect(result.requests).toBeLessThanOrEqual(4 + 2 * Math.ceil(25 / 25) + 1);
      deleted += result.deleted;
      calls++;
      if (result.done) break;
      expect(calls).toBeLessThan(10_000);
    }
    expect(calls).toBeGreaterThan(1);
    // Other tests' retired generations in this table may be purged as well.
    expect(deleted).toBeGreaterThanOrEqual(7);
    for (let i = 0; i < 5; i++) expect(await rawDocument(collection, `old-${i}`)).toBeUndefined();
    expect(await rawDocument(collection, "old")).toBeUndefined();
    expect(await rawDocument(dropped, "dropped")).toBeUndefined();
    // The live generation is untouched.
    expect(await models.list(collection)).toEqual([{ id: "new", document: { generation: 2 } }]);
    expect(await models.purgeRetiredGenerations({ olderThanMs: 0 })).toMatchObject({ deleted: 0, done: true });
    for (const bad of [{ maxRequests: 0 }, { olderThanMs: -1 }, { pageSize: 1.5 }]) {
      await expect(models.purgeRetiredGenerations(bad)).rejects.toMatchObject({ code: "VALIDATION_FAILED" });
    }
  }, 120_000);
});

/** The namespace a collection's generation pointer names now. */
async function pointedNamespace(collection: string): Promise<string> {
  const result = await createDynamoDbClient(local.endpoint).send<{ Item?: Record<string, { S?: string }> }>("GetItem", {
    TableName: tableName,
    Key: { pk: { S: GENERATION_PARTITION_PREFIX + collection }, sk: { N: "0" } },
    ConsistentRead: true,
  });
  const ns = result.Item?.ns?.S;
  if (ns === undefined) throw new Error(`no pointer for ${collection}`);
  return ns;
}

describe("purgeRetiredGenerations under throttling (BatchWriteItem answers mocked)", () => {
  test("deletes DynamoDB leaves unprocessed every time: retried with backoff a bounded number of rounds, then a retryable ServiceError; the next call finishes", async () => {
    const models = store();
    const { collection, plan } = await seeded(models);
    await models.put(collection, "old-x", { x: 1 });
    await models.swap(plan);
    let batchWrites = 0;
    let throttled = true;
    // DynamoDB Local answers everything but BatchWriteItem, which is answered here as throttled
    // through and through: every item left unprocessed.
    const throttling = store({
      fetch: async (request) => {
        if (!throttled || !(request.headers.get("x-amz-target") ?? "").endsWith(".BatchWriteItem")) {
          return fetch(request);
        }
        // Past 50 answers it gives in, so that a loop without bound ends (and fails the count below).
        if (++batchWrites >= 50) throttled = false;
        const { RequestItems } = (await request.clone().json()) as { RequestItems: Record<string, unknown[]> };
        return Response.json({ UnprocessedItems: RequestItems });
      },
    });
    const error = await throttling
      .purgeRetiredGenerations({ olderThanMs: 0, maxRequests: 1_000 })
      .catch((e: unknown) => e);
    expect(isServiceError(error)).toBe(true);
    expect(error).toMatchObject({ retryable: true, code: ErrorCode.Service });
    expect(batchWrites).toBeLessThanOrEqual(10);
    expect(await rawDocument(collection, "old-x")).toEqual({ x: 1 });
    throttled = false;
    for (let calls = 0; calls < 100; calls++) {
      if ((await throttling.purgeRetiredGenerations({ olderThanMs: 0 })).done) break;
    }
    expect(await rawDocument(collection, "old-x")).toBeUndefined();
  }, 60_000);
});

describe("rebuildProjection on DynamoDB, killed", () => {
  test("a rebuild SIGKILLed half-way and resumed swaps in what a fresh run makes, nothing counted twice; the live read model answered throughout", async () => {
    const table = await newTable();
    const options = { ...local.endpoint, tableName: table };
    const eventStore = new DynamoDbEventStore(options);
    const readModels = new DynamoDbReadModelStore({ ...options, generationCacheMs: 0 });
    const events = 1200;
    const streams = 8;
    for (let a = 0; a < events / 80; a++) {
      await eventStore.appendToStream(
        `Rebuilt-${a % streams}`,
        Array.from({ length: 80 }, (_, n) => ({ type: "Counted", data: { i: a, n: n % 7 } })),
      );
    }
    const head = await eventStore.getLastGlobalPosition();
    const name = `rebuilt-${ulid()}`;
    const collection = `counts-${ulid()}`;
    // The old generation the live read model serves until the swap.
    for (let s = 0; s < streams; s++) await readModels.put(collection, `Rebuilt-${s}`, { count: -1, sum: -1 });
    await readModels.checkpoints.store(projectionCheckpointId(name), head);
    const old = JSON.stringify(await readModels.list(collection));

    const seen = new Set<string>();
    let querying = true;
    let liveQueries = 0;
    const queries = (async () => {
      while (querying) {
        seen.add(JSON.stringify(await readModels.list(collection)));
        liveQueries++;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();

    const worker = spawn(
      process.execPath,
      [
        join(import.meta.dirname, "..", "..", "test", "dynamodb", "rebuild-worker.ts"),
        local.endpoint.endpoint,
        table,
        name,
        collection,
        "50",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    worker.stderr.on("data", (chunk) => {
      stderr += String(chunk);
    });
    const exited = new Promise((resolve) => worker.once("exit", resolve));
    await new Promise<void>((resolve, reject) => {
      const early = (code: number | null) => reject(new Error(`rebuild worker exited early (${code}): ${stderr}`));
      worker.once("exit", early);
      let pending = "";
      worker.stdout.on("data", (chunk) => {
        pending += String(chunk);
        const lines = pending.split("\n");
        pending = lines.pop() ?? "";
        for (const line of lines) {
          const [word, done] = line.split(" ");
          if (word === "progress" && Number(done) >= events / 2) {
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
    for await (const _ of eventStore.readAll({ after: killedAt })) leftAtKill++;
    expect(killedAt).toBeGreaterThan(0);
    expect(leftAtKill).toBeGreaterThan(0);
    expect(leftAtKill).toBeLessThanOrEqual(events / 2);
    expect(JSON.stringify(await readModels.list(collection))).toBe(old);

    const resumed = await rebuildProjection({
      projection: countingProjection(name, collection),
      eventStore,
      readModels,
      collections: [collection],
      batchSize: 50,
    });
    querying = false;
    await queries;
    // Resumed at the shadow's checkpoint: nothing read, or counted, twice.
    expect(resumed).toMatchObject({ swapped: true, read: leftAtKill, position: head });

    const scratch = `fresh-${ulid()}`;
    const scratchCollection = `fresh-${ulid()}`;
    await new ProjectionRunner({
      projection: countingProjection(scratch, scratchCollection),
      eventStore,
      readModels,
      batchSize: 50,
    }).catchUp();
    const swapped = await readModels.list(collection);
    expect(swapped.length).toBe(streams);
    expect(swapped.map((d) => d.document)).toEqual((await readModels.list(scratchCollection)).map((d) => d.document));
    expect(await readModels.get(PROJECTION_STATE_COLLECTION, name)).toEqual({ count: events, sum: expect.any(Number) });
    expect(await readModels.get(PROJECTION_STATE_COLLECTION, name)).toEqual(
      await readModels.get(PROJECTION_STATE_COLLECTION, scratch),
    );
    expect(await readModels.checkpoints.load(projectionCheckpointId(name))).toBe(head);
    expect(await readModels.checkpoints.load(rebuildCheckpointId(name))).toBeUndefined();
    // Every live query saw one whole generation: the old one or the swapped one.
    expect(liveQueries).toBeGreaterThan(0);
    const now = JSON.stringify(swapped);
    expect([...seen].filter((s) => s !== old && s !== now)).toEqual([]);
  }, 180_000);
});

describe("DynamoDbReadModelStore generations under a tenant's key prefix, in a table another tenant shares", () => {
  test("two tenants swap the same collection name: pointers, retired markers and documents stay under each prefix; a stale batch names the collection; one tenant's purge leaves the other's generations", async () => {
    const shared = await newTable();
    const tenantStore = (tenant: string, options: Partial<DynamoDbReadModelStoreOptions> = {}) =>
      new DynamoDbReadModelStore({ ...local.endpoint, tableName: shared, tenant, ...options });
    const acme = tenantStore("acme");
    const globex = tenantStore("globex");
    const staleAcme = tenantStore("acme", { generationCacheMs: 60_000 });
    // The same projection and collection names in both tenants.
    const seededIn = async (models: DynamoDbReadModelStore, generation: number) => {
      await models.put("orders", "old", { generation, live: false });
      await models.checkpoints.store(projectionCheckpointId("orders-view"), 10);
      await models.put(shadowCollection("orders-view", "orders"), "new", { generation, live: true });
      await models.checkpoints.store(rebuildCheckpointId("orders-view"), 10);
    };
    const plan = {
      collections: [{ from: shadowCollection("orders-view", "orders"), to: "orders" }],
      documents: [],
      checkpoints: [{ from: rebuildCheckpointId("orders-view"), to: projectionCheckpointId("orders-view") }],
    };
    await seededIn(acme, 1);
    await seededIn(globex, 2);
    expect(await staleAcme.get("orders", "old")).toEqual({ generation: 1, live: false });
    await acme.swap(plan);
    await globex.swap(plan);
    expect(await acme.list("orders")).toEqual([{ id: "new", document: { generation: 1, live: true } }]);
    expect(await globex.list("orders")).toEqual([{ id: "new", document: { generation: 2, live: true } }]);

    // A stale writer of acme is refused, and the refusal names the collection (read back from a prefixed key).
    await expect(staleAcme.put("orders", "stale", { x: 1 })).rejects.toMatchObject({
      code: "READ_MODEL_GENERATION_CHANGED",
      collection: "orders",
    });

    const scan = async () => {
      const items: string[] = [];
      let start: unknown;
      do {
        const page = await createDynamoDbClient(local.endpoint).send<{
          Items?: Record<string, { S?: string }>[];
          LastEvaluatedKey?: unknown;
        }>("Scan", {
          TableName: shared,
          ConsistentRead: true,
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        });
        for (const item of page.Items ?? []) items.push(item.pk?.S ?? "");
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
      return items;
    };
    const before = await scan();
    expect(before.length).toBeGreaterThan(0);
    for (const key of before) expect(key.startsWith("acme#") || key.startsWith("globex#")).toBe(true);
    const globexBefore = before.filter((key) => key.startsWith("globex#")).sort();

    // acme's purge deletes acme's retired generation only: every globex item is still there.
    let done = false;
    for (let calls = 0; !done && calls < 100; calls++) {
      done = (await acme.purgeRetiredGenerations({ olderThanMs: 0 })).done;
    }
    expect(done).toBe(true);
    const after = await scan();
    expect(after.filter((key) => key.startsWith("globex#")).sort()).toEqual(globexBefore);
    expect(after.filter((key) => key.startsWith("acme#")).length).toBeLessThan(
      before.filter((key) => key.startsWith("acme#")).length,
    );
    expect(await acme.list("orders")).toEqual([{ id: "new", document: { generation: 1, live: true } }]);
    expect(await globex.list("orders")).toEqual([{ id: "new", document: { generation: 2, live: true } }]);
  }, 120_000);
});
