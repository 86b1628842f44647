import { beforeAll, describe, expect, test } from "bun:test";
import { AwsClient } from "aws4fetch";
import { ERASED_FIELDS_METADATA, ErrorCode, ProjectionRunner, rebuildProjection, ulid } from "../../src/index.js";
import { collect, registerContract, subjectKeyStoreContract } from "../../src/testing/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import {
  customerHistory,
  customerPersonalData,
  directoryProjection,
  leaks,
  secretsOf,
} from "../../test/personal-data/erasure-fixture.ts";
import {
  DynamoDbEventStore,
  DynamoDbReadModelStore,
  DynamoDbSnapshotStore,
  DynamoDbSubjectKeyStore,
  SUBJECT_KEY_PARTITION_PREFIX,
} from "./index.js";

const table = useDynamoTable("personal", ({ endpoint, tableName }) =>
  new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable(),
);
let masterKey: CryptoKey;

const newMasterKey = () =>
  crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]) as Promise<CryptoKey>;

beforeAll(async () => {
  masterKey = await newMasterKey();
});

registerContract(
  subjectKeyStoreContract({
    name: "DynamoDbSubjectKeyStore contract (DynamoDB Local, in the event store's table)",
    create: (settings) =>
      new DynamoDbSubjectKeyStore({ ...table.endpoint, ...settings, tableName: table.tableName, masterKey }),
  }),
  { describe, test },
);

/**
 * Every item of the table as a raw Scan returns it, through a client of the test's own (aws4fetch,
 * not the library), with each Binary attribute decoded too, so plaintext inside one would show.
 */
async function scanTable(): Promise<string> {
  const aws = new AwsClient({ ...table.endpoint.credentials, region: table.endpoint.region, service: "dynamodb" });
  const pages: string[] = [];
  let start: unknown;
  do {
    const response = await aws.fetch(table.endpoint.endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.Scan" },
      body: JSON.stringify({
        TableName: table.tableName,
        ...(start === undefined ? {} : { ExclusiveStartKey: start }),
      }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`Scan failed: ${text}`);
    pages.push(text);
    const page = JSON.parse(text) as { LastEvaluatedKey?: unknown };
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  const binaries = pages.flatMap((page) =>
    [...page.matchAll(/"B":"([A-Za-z0-9+/=]*)"/g)].map((m) => new TextDecoder().decode(base64Bytes(m[1] as string))),
  );
  return [...pages, ...binaries].join("\n");
}

function base64Bytes(text: string): Uint8Array {
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

describe("crypto-shredding on DynamoDB", () => {
  test("options that are missing, null or wrong are a ValidationError", async () => {
    const bad: [string, unknown][] = [
      ["null", null],
      ["no master key", table.options],
      ["no table", { ...table.endpoint, masterKey }],
      ["a key attribute the store uses itself", { ...table.options, masterKey, partitionKey: "wk" }],
      ["a negative cacheSize", { ...table.options, masterKey, cacheSize: -1 }],
    ];
    for (const [label, options] of bad) {
      let error: unknown;
      try {
        new DynamoDbSubjectKeyStore(options as never);
      } catch (e) {
        error = e;
      }
      expect({ label, code: (error as { code?: string })?.code }).toEqual({ label, code: ErrorCode.Validation });
    }
  });

  test("items hold only wrapped keys, which another master key cannot unwrap", async () => {
    const keys = new DynamoDbSubjectKeyStore({ ...table.options, masterKey });
    const subject = `wrap-${ulid()}`;
    await keys.createOrGet(subject);
    const scan = await scanTable();
    expect(scan).toContain(SUBJECT_KEY_PARTITION_PREFIX.slice(1) + subject);
    const stranger = new DynamoDbSubjectKeyStore({ ...table.options, masterKey: await newMasterKey() });
    await expect(stranger.get(subject)).rejects.toMatchObject({
      code: ErrorCode.PersonalDataUnreadable,
      reason: "key-unwrap",
    });
  });

  test("a subject's item altered so that it holds no Binary key (wk as text, or no wk and no tombstone) is key-unwrap, not unknown", async () => {
    const keys = new DynamoDbSubjectKeyStore({ ...table.options, masterKey, cacheSize: 0 });
    const subject = `altered-${ulid()}`;
    await keys.createOrGet(subject);
    const key = {
      [keys.layout.partitionKey]: { S: SUBJECT_KEY_PARTITION_PREFIX + subject },
      [keys.layout.sortKey]: { N: "0" },
    };
    for (const altered of [{ wk: { S: "not a key" } }, {}]) {
      await keys.client.send("PutItem", { TableName: table.tableName, Item: { ...key, ...altered } });
      // "unknown" would claim no key was ever made for the subject: its events' reads would name no fault of the store.
      await expect(keys.get(subject)).rejects.toMatchObject({ reason: "key-unwrap", subjectId: subject });
      await expect(keys.createOrGet(subject)).rejects.toMatchObject({ reason: "key-unwrap", subjectId: subject });
    }
  });

  test("deleting a subject again, through this instance or another, keeps the tombstone's time of the erasure", async () => {
    const keys = new DynamoDbSubjectKeyStore({ ...table.options, masterKey });
    const subject = `twice-${ulid()}`;
    const erasedAt = async () => {
      const { Item } = await keys.client.send<{ Item?: { erased?: { S?: string }; wk?: unknown } }>("GetItem", {
        TableName: table.tableName,
        Key: {
          [keys.layout.partitionKey]: { S: SUBJECT_KEY_PARTITION_PREFIX + subject },
          [keys.layout.sortKey]: { N: "0" },
        },
        ConsistentRead: true,
      });
      expect(Item?.wk).toBeUndefined();
      return Item?.erased?.S;
    };
    await keys.createOrGet(subject);
    await keys.delete(subject);
    const first = await erasedAt();
    expect(Number.isNaN(Date.parse(first ?? ""))).toBe(false);
    await Bun.sleep(5);
    await keys.delete(subject);
    await new DynamoDbSubjectKeyStore({ ...table.options, masterKey }).delete(subject);
    expect(await erasedAt()).toBe(first);
    expect((await keys.get(subject)).status).toBe("erased");
  });

  test("format /3 events hold one marker and no marked field, read back decrypted; events of format /2 still read", async () => {
    const keys = new DynamoDbSubjectKeyStore({ ...table.options, masterKey });
    const store = new DynamoDbEventStore({ ...table.options, personalData: customerPersonalData(keys) });
    const legacy = new DynamoDbEventStore({
      ...table.options,
      personalData: customerPersonalData(keys, 2),
    });
    const [current, old] = [`v3${ulid()}`, `v2${ulid()}`];
    await store.appendToStream(`Customer-${current}`, customerHistory(current));
    await legacy.appendToStream(`Customer-${old}`, customerHistory(old));
    const raw = await collect(store.readStream(`Customer-${current}`, { raw: true }));
    expect(raw.map((event) => Object.keys(event.data as object).sort())).toEqual([
      ["$personal", "customerId", "tier"],
      ["$personal", "address", "customerId"],
    ]);
    for (const reader of [store, legacy]) {
      for (const customer of [current, old]) {
        const events = await collect(reader.readStream(`Customer-${customer}`));
        expect(events.map((event) => event.data)).toEqual(customerHistory(customer).map((event) => event.data));
      }
    }
  }, 60_000);

  test("erase a subject, project again from the start: a raw Scan finds none of its plaintext in events, snapshots or read models", async () => {
    const keys = new DynamoDbSubjectKeyStore({ ...table.options, masterKey });
    const personal = customerPersonalData(keys);
    const store = new DynamoDbEventStore({ ...table.options, personalData: personal });
    const snapshots = new DynamoDbSnapshotStore({ ...table.options, personalData: personal, compression: false });
    const readModels = new DynamoDbReadModelStore(table.options);
    const [erased, kept] = [`ada${ulid()}`, `bob${ulid()}`];
    for (const customer of [erased, kept]) {
      await store.appendToStream(`Customer-${customer}`, customerHistory(customer));
      const { email, name } = secretsOf(customer);
      await snapshots.save({ streamId: `Customer-${customer}`, version: 2, state: { email, name, visits: 2 } });
    }
    const project = (name: string) =>
      new ProjectionRunner({ projection: directoryProjection(name), eventStore: store, readModels }).catchUp();
    await project(`directory-${ulid()}`);
    expect(leaks(await scanTable(), erased)).toContain(secretsOf(erased).email); // the read model, before erasure

    await keys.delete(erased);
    // A projection run from the start under a new name rewrites the documents (the runbook's rebuild: below).
    await project(`directory-${ulid()}`);

    const scan = await scanTable();
    expect(leaks(scan, erased)).toEqual([]);
    expect(leaks(scan, kept)).toContain(secretsOf(kept).email); // the control: the dump does show plaintext
    const history = await collect(store.readStream(`Customer-${erased}`));
    expect(history.map((event) => event.data)).toEqual([
      { customerId: erased, email: null, name: null, tier: "gold" },
      { customerId: erased, address: { street: null, city: "Lyon" } },
    ]);
    expect(history[1]?.metadata[ERASED_FIELDS_METADATA]).toEqual(["address.street"]);
    expect(await readModels.get("directory", erased)).toEqual({ email: null, name: null, tier: "gold", street: null });
    expect((await snapshots.load(`Customer-${erased}`))?.state).toEqual({ email: null, name: null, visits: 2 });
  }, 60_000);

  test("the runbook's step 2: after rebuildProjection, purgeRetiredGenerations with an olderThanMs the swap has passed leaves no plaintext", async () => {
    const keys = new DynamoDbSubjectKeyStore({ ...table.options, masterKey });
    const store = new DynamoDbEventStore({ ...table.options, personalData: customerPersonalData(keys) });
    const readModels = new DynamoDbReadModelStore(table.options);
    const [erased, kept] = [`ada${ulid()}`, `bob${ulid()}`];
    for (const customer of [erased, kept])
      await store.appendToStream(`Customer-${customer}`, customerHistory(customer));
    const directory = directoryProjection(`runbook-${ulid()}`);
    await new ProjectionRunner({ projection: directory, eventStore: store, readModels }).catchUp();

    await keys.delete(erased);
    const rebuilt = await rebuildProjection({
      projection: directory,
      eventStore: store,
      readModels,
      collections: ["directory"],
    });
    expect(rebuilt.swapped).toBe(true);
    expect(await readModels.get("directory", erased)).toEqual({ email: null, name: null, tier: "gold", street: null });
    // A generation retired more recently than olderThanMs is not taken, and the answer is done all the same: the
    // old documents, the subject's plaintext with them, are still in the table.
    expect(await readModels.purgeRetiredGenerations({ olderThanMs: 3_600_000 })).toMatchObject({
      deleted: 0,
      done: true,
    });
    expect(leaks(await scanTable(), erased)).not.toEqual([]);

    let purge: { deleted: number; done: boolean };
    let deleted = 0;
    do {
      purge = await readModels.purgeRetiredGenerations({ olderThanMs: 0 });
      deleted += purge.deleted;
    } while (!purge.done);
    expect(deleted).toBeGreaterThan(0);
    const scan = await scanTable();
    expect(leaks(scan, erased)).toEqual([]);
    expect(leaks(scan, kept)).toContain(secretsOf(kept).email); // the control: the live generation holds bob's
  }, 60_000);
});
