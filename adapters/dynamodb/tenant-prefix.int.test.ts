/**
 * Tenants in ONE table of DynamoDB Local, each under its key prefix: the event store's contract runs
 * with a prefix (beside another tenant's traffic in the same table), each tenant has a feed of its
 * own, and a raw Scan of the table finds every item under its tenant's prefix, whatever the stores
 * wrote (events, the feed's counter, watermark, log and hidden set, deletion stubs and fences,
 * snapshots, checkpoints, dedup, idempotency, lease, read-model, subject-key and saga items). The tenant
 * isolation contract on this strategy is in test/runtime/suites/tenancy.ts (run by
 * test/tenancy/isolation.int.test.ts).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { personalData, ulid } from "../../src/index.js";
import {
  eventStoreContract,
  registerContract,
  runContract,
  sagaStoreContract,
  tenantIsolationContract,
} from "../../src/testing/index.js";
import { createDynamoTable, useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { assertSharedStoreMatchesModel } from "../../test/tenancy/shared-store-model.ts";
import {
  createDynamoDbClient,
  DynamoDbCheckpointStore,
  DynamoDbDedupStore,
  DynamoDbEventStore,
  DynamoDbIdempotencyStore,
  DynamoDbProjectionLock,
  DynamoDbReadModelStore,
  DynamoDbSagaStore,
  DynamoDbSnapshotStore,
  DynamoDbSubjectKeyStore,
  dynamoDbStreamDeletion,
  sharedTableTenantStores,
} from "./index.js";

const table = useDynamoTable("tenants", ({ endpoint, tableName }) =>
  new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable(),
);

describe("DynamoDbEventStore with a tenant's key prefix, in a table other tenants share", () => {
  test("defence in depth, model-based: two tenants' stores over one key prefix (shared by mistake) answer as each over a prefix of its own, but for refusals (fast-check)", async () => {
    // Each store made is an empty one: a key prefix no other store uses.
    const fresh = async () =>
      new DynamoDbEventStore({
        ...table.options,
        tenant: `m${ulid().toLowerCase()}`,
        gapTimeoutMs: 200,
        streamDeletion: dynamoDbStreamDeletion,
      });
    await assertSharedStoreMatchesModel(fresh, 60);
  }, 180_000);

  // Another tenant appends to the same stream ids all along: a prefix that leaked would show in the contract.
  let noise: Promise<void> | undefined;
  let stop = false;
  beforeAll(() => {
    const other = new DynamoDbEventStore({ ...table.options, tenant: "contract-1", gapTimeoutMs: 200 });
    noise = (async () => {
      for (let i = 0; !stop; i++) {
        await other.appendToStream(`stream-${i % 5}`, [{ type: "Noise", data: { i } }]).catch(() => undefined);
        await Bun.sleep(20);
      }
    })();
  });
  afterAll(async () => {
    stop = true;
    await noise;
  });
  registerContract(
    eventStoreContract({
      name: "DynamoDbEventStore contract (DynamoDB Local, tenant 'contract' in a shared table)",
      create: (options) =>
        new DynamoDbEventStore({
          ...table.endpoint,
          ...options,
          tableName: table.tableName,
          tenant: "contract",
          gapTimeoutMs: 200,
        }),
    }),
    { describe, test },
  );
});

describe("one table, a key prefix per tenant", () => {
  test("each tenant has a feed of its own: positions from the start, its events only", async () => {
    const stores = sharedTableTenantStores({ ...table.options, eventStore: { gapTimeoutMs: 200 } });
    const [a, b] = [stores(`feed-${ulid().toLowerCase()}`), stores(`feed-${ulid().toLowerCase()}`)];
    await a.eventStore.appendToStream("Order-1", [{ type: "A1", data: {} }]);
    await b.eventStore.appendToStream("Order-1", [
      { type: "B1", data: {} },
      { type: "B2", data: {} },
    ]);
    await a.eventStore.appendToStream("Order-1", [{ type: "A2", data: {} }]);
    const feedOf = async (store: DynamoDbEventStore) => {
      const events = [];
      for await (const event of store.readAll()) events.push(event);
      return events.map((e) => [e.type, e.streamId, e.version, e.globalPosition]);
    };
    // Commit numbers count per tenant (positions are commit × 100 + index).
    expect(await feedOf(a.eventStore)).toEqual([
      ["A1", "Order-1", 1, 100],
      ["A2", "Order-1", 2, 200],
    ]);
    expect(await feedOf(b.eventStore)).toEqual([
      ["B1", "Order-1", 1, 100],
      ["B2", "Order-1", 2, 101],
    ]);
    expect(await a.eventStore.getLastGlobalPosition()).toBe(200);
    expect(await b.eventStore.getLastGlobalPosition()).toBe(101);
    // A subscription of A's from B's last position onward sees only A's later events.
    const seen: string[] = [];
    const subscription = a.eventStore.subscribeToAll({
      after: 101,
      handler: async (event) => {
        seen.push(`${event.type}@${event.globalPosition}`);
      },
    });
    await b.eventStore.appendToStream("Order-2", [{ type: "B3", data: {} }]);
    await a.eventStore.appendToStream("Order-2", [{ type: "A3", data: {} }]);
    const deadline = Date.now() + 10_000;
    while (!seen.includes("A3@300") && Date.now() < deadline) await Bun.sleep(50);
    await subscription.stop();
    expect(seen).toEqual(["A2@200", "A3@300"]);
  }, 60_000);

  test("a raw Scan finds every item each tenant's stores wrote under that tenant's prefix", async () => {
    // A table of its own, with the dedup store's TTL set: only this test's items are in the Scan.
    const scan = await createDynamoTable("tenants_scan", async ({ endpoint, tableName }) => {
      await new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable();
      await new DynamoDbDedupStore({ ...endpoint, tableName }).ensureTimeToLive();
    });
    const { client, tableName: scanTable } = scan;
    try {
      // "t" and "t-1": the second tenant's id starts with the first's.
      const tenants = ["t", "t-1", "other"];
      const masterKey = (await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
        "encrypt",
        "decrypt",
      ])) as CryptoKey;
      for (const tenant of tenants) {
        const shared = { ...table.endpoint, client, tableName: scanTable, tenant };
        const events = new DynamoDbEventStore({ ...shared, streamDeletion: dynamoDbStreamDeletion, gapTimeoutMs: 200 });
        // Stream ids that hold the separator, another tenant's prefix, the feed's partition names.
        for (const streamId of ["Order-1", "#", "t#Order-1", "-1#Order-1", "other#\u2028", "Cart"]) {
          await events.appendToStream(streamId, [{ type: "Placed", data: { tenant } }]);
          await events.appendToStream(streamId, [
            { type: "Paid", data: {} },
            { type: "Shipped", data: {} },
          ]);
        }
        await events.deleteStream("Cart");
        await events.deleteStream("t#Order-1", { mode: "hard" });
        await events.truncateStream("Order-1", { before: 2 });
        for await (const _ of events.readAll()) {
          // Reading the feed through raises its watermark.
        }
        await events.getLastGlobalPosition();
        await new DynamoDbSnapshotStore(shared).save({ streamId: "Order-1", version: 3, state: { tenant } });
        await new DynamoDbCheckpointStore(shared).store("projection", 100);
        await new DynamoDbDedupStore(shared).add(ulid());
        await new DynamoDbIdempotencyStore(shared).claim("key", "fingerprint");
        await new DynamoDbProjectionLock(shared).acquire("projection", "me", 60_000);
        await new DynamoDbReadModelStore(shared).put("orders", "Order-1", { tenant });
        await new DynamoDbSubjectKeyStore({ ...shared, masterKey }).createOrGet("subject-1");
        await new DynamoDbEventStore(shared).ping();
        const sagas = new DynamoDbSagaStore(shared);
        await commitWithDueTimer(sagas, "k1");
        await sagas.recordFailure({ saga: "checkout", eventId: ulid(), eventType: "Placed", error: "boom", at: "" });
      }
      const keys: string[] = [];
      let start: unknown;
      do {
        const page: { Items?: { pk: { S: string } }[]; LastEvaluatedKey?: unknown } = await client.send("Scan", {
          TableName: scanTable,
          ConsistentRead: true,
          ProjectionExpression: "pk",
          ...(start === undefined ? {} : { ExclusiveStartKey: start }),
        });
        for (const item of page.Items ?? []) keys.push(item.pk.S);
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
      const unprefixed = keys.filter((key) => !tenants.some((tenant) => key.startsWith(`${tenant}#`)));
      expect(unprefixed).toEqual([]);
      for (const tenant of tenants) {
        const own = new Set(
          keys.filter((key) => key.startsWith(`${tenant}#`)).map((key) => key.slice(tenant.length + 1)),
        );
        // The feed's partitions (counter and watermark and hidden set, log), each store's items.
        for (const part of ["\u001feventflows", "\u001feventflows:log", "Order-1", "Cart", "t#Order-1", "#"]) {
          expect(own.has(part)).toBe(true);
        }
        for (const prefix of [
          "snapshot:",
          "cp:",
          "dedup:",
          "idempotency:",
          "lease:",
          "rm:",
          "subject-key:",
          "saga:",
          "saga-handled:",
          "saga-due:",
          "saga-failures:",
        ]) {
          expect([...own].some((key) => key.startsWith(`\u001feventflows:${prefix}`))).toBe(true);
        }
      }
      // A tenant's read-model list (a Scan under its prefix) holds its documents only.
      expect(
        await new DynamoDbReadModelStore({ ...table.endpoint, client, tableName: scanTable, tenant: "t" }).list(
          "orders",
        ),
      ).toEqual([{ id: "Order-1", document: { tenant: "t" } }]);
      // Read back through each tenant, ids are as written, no prefix.
      const mine = new DynamoDbEventStore({ ...table.endpoint, client, tableName: scanTable, tenant: "t" });
      const types = [];
      for await (const event of mine.readStream("-1#Order-1")) types.push([event.streamId, event.data]);
      expect(types[0]).toEqual(["-1#Order-1", { tenant: "t" }]);
    } finally {
      await scan.drop();
    }
  }, 120_000);

  test("the isolation contract fails a factory that gives two tenants one prefix (the mistake it guards against)", async () => {
    const stores = sharedTableTenantStores({
      ...table.options,
      eventStore: { gapTimeoutMs: 200, streamDeletion: dynamoDbStreamDeletion },
    });
    const shared = `shared-${ulid().toLowerCase()}`;
    const suite = tenantIsolationContract({ name: "one prefix for all", forTenant: () => stores(shared) });
    const results = await runContract(suite);
    const failed = results.filter((r) => !r.ok).map((r) => r.name);
    // Every case fails: events, feed and subscriptions, and snapshots and checkpoints (keyed by stream and id).
    expect(failed).toEqual(suite.cases.map((c) => c.name));
  }, 120_000);

  test("personal data per tenant: each tenant's subject keys sit under its prefix, and one tenant's erasure of a subject id leaves another's", async () => {
    const client = createDynamoDbClient(table.endpoint);
    const masterKey = (await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
      "encrypt",
      "decrypt",
    ])) as CryptoKey;
    const keyStores = new Map<string, DynamoDbSubjectKeyStore>();
    const stores = sharedTableTenantStores({
      ...table.endpoint,
      client,
      tableName: table.tableName,
      personalData: (tenant) => {
        const keys = new DynamoDbSubjectKeyStore({
          ...table.endpoint,
          client,
          tableName: table.tableName,
          tenant,
          masterKey,
        });
        keyStores.set(tenant, keys);
        return personalData({
          keys,
          events: { Registered: { fields: ["email"], subject: (e) => String((e.data as { id: string }).id) } },
          snapshots: { Customer: { fields: ["email"], subject: (s) => s.streamId.slice("Customer-".length) } },
        });
      },
    });
    const suffix = ulid().toLowerCase();
    const tenants = [`pd-a-${suffix}`, `pd-b-${suffix}`];
    for (const tenant of tenants) {
      const { eventStore, snapshotStore } = stores(tenant);
      await eventStore.appendToStream("Customer-42", [
        { type: "Registered", data: { id: "42", email: `${tenant}@x` } },
      ]);
      await snapshotStore.save({ streamId: "Customer-42", version: 1, state: { email: `${tenant}@x` } });
    }
    // The first tenant's erasure request for its customer 42.
    await keyStores.get(tenants[0] as string)?.delete("42");

    const seen = [];
    for (const tenant of tenants) {
      const { eventStore, snapshotStore } = stores(tenant);
      for await (const event of eventStore.readStream("Customer-42")) seen.push(event.data);
      seen.push((await snapshotStore.load("Customer-42"))?.state);
    }
    expect(seen).toEqual([
      { id: "42", email: null },
      { email: null },
      { id: "42", email: `${tenants[1]}@x` },
      { email: `${tenants[1]}@x` },
    ]);
    // Each tenant's key item is under its own prefix: the erased one a tombstone, the other's a wrapped key.
    const keyItems = [];
    for (const tenant of tenants) {
      const found: { Item?: Record<string, unknown> } = await client.send("GetItem", {
        TableName: table.tableName,
        ConsistentRead: true,
        Key: { pk: { S: `${tenant}#\u001feventflows:subject-key:42` }, sk: { N: "0" } },
      });
      keyItems.push(Object.keys(found.Item ?? {}).sort());
    }
    expect(keyItems).toEqual([
      ["erased", "pk", "sk"],
      ["pk", "sk", "wk"],
    ]);
  }, 60_000);
});

describe("DynamoDbSagaStore with a tenant's key prefix, in a table other tenants' sagas share", () => {
  // Another tenant's saga store works the same table first: its instances, due timeouts and failures
  // would show in this tenant's lists, due timeouts and failures if a prefix leaked.
  beforeAll(async () => {
    const other = new DynamoDbSagaStore({ ...table.options, tenant: "sagas-1" });
    for (const key of ["k1", "k2"]) {
      await commitWithDueTimer(other, key, { other: true });
    }
    await other.recordFailure({
      saga: "checkout",
      key: "k1",
      eventId: ulid(),
      eventType: "Placed",
      error: "boom",
      at: new Date().toISOString(),
    });
  });
  test("a tenant's due timeouts, instances and failures are its own: the other tenant's stay out", async () => {
    const mine = new DynamoDbSagaStore({ ...table.options, tenant: "sagas-2" });
    expect(await mine.claimDueTimeouts({ now: Date.now(), owner: "me", leaseMs: 60_000, limit: 100 })).toEqual([]);
    expect(await mine.nextDueAt()).toBeUndefined();
    expect(await mine.list()).toEqual([]);
    expect(await mine.failures()).toEqual([]);
    // The other tenant sees its own.
    const other = new DynamoDbSagaStore({ ...table.options, tenant: "sagas-1" });
    expect(await other.nextDueAt()).toBe(0);
    expect((await other.list()).map((r) => r.key).sort()).toEqual(["k1", "k2"]);
  });

  test("due timeouts of a store without a tenant, in the same table, are not a tenant's, and the tenant's are not its", async () => {
    const plain = new DynamoDbSagaStore(table.options);
    const key = `plain-${ulid()}`;
    const id = await commitWithDueTimer(plain, key);
    // A tenant with no sagas of its own: a claim or a due-time query without its prefix would find the one above.
    const mine = new DynamoDbSagaStore({ ...table.options, tenant: "sagas-3" });
    expect(await mine.nextDueAt()).toBeUndefined();
    expect(await mine.claimDueTimeouts({ now: Date.now(), owner: "me", leaseMs: 60_000, limit: 100 })).toEqual([]);
    const claimed = (
      await plain.claimDueTimeouts({ now: Date.now(), owner: "plain", leaseMs: 60_000, limit: 100 })
    ).map((timeout) => timeout.id);
    expect(claimed).toContain(id);
    expect(
      claimed.filter((claimedId) => claimedId.startsWith("checkout/k1/") || claimedId.startsWith("checkout/k2/")),
    ).toEqual([]);
  });

  registerContract(
    sagaStoreContract({
      name: "DynamoDbSagaStore contract (DynamoDB Local, tenant 'sagas' in a shared table)",
      create: (settings) =>
        new DynamoDbSagaStore({ ...table.endpoint, ...settings, tableName: table.tableName, tenant: "sagas" }),
    }),
    { describe, test },
  );
});

/** A new checkout saga instance `key`, running with `state`, with one timer already due; the timer's id. */
async function commitWithDueTimer(sagas: DynamoDbSagaStore, key: string, state: object = {}): Promise<string> {
  const id = `checkout/${key}/t/tick/1`;
  await sagas.commit({
    saga: "checkout",
    key,
    expectedVersion: 0,
    handledId: ulid(),
    state,
    status: "running",
    step: 0,
    compensations: [],
    schedule: [{ id, saga: "checkout", key, name: "tick", dueAt: 0, data: {} }],
  });
  return id;
}
