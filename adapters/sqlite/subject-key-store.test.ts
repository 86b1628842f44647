/**
 * SqliteSubjectKeyStore on bun:sqlite: the subject key store contract through the driver with its
 * transaction and through one without (the form D1 has), and what this store adds: wrapped keys,
 * the tombstone an erasure leaves, rows another tool wrote, typed errors, options. node:sqlite, D1
 * and Durable Objects run the contract in test/runtime (sqlite-node.ts, sqlite-workerd.ts).
 */
import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { ErrorCode, type WebCryptoKey } from "../../src/index.js";
import { registerContract, subjectKeyStoreContract } from "../../src/testing/index.js";
import { expectNotMigrated, fileDatabase, optionIssuePaths } from "./file-database.fixture.test.ts";
import { bunSqliteDriver, migrateSqlite, SqliteSubjectKeyStore } from "./index.js";

const newMasterKey = () =>
  crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]) as Promise<WebCryptoKey>;

// A file database in WAL mode, migrated once, shared by every case; batchOnly is its driver as D1 has it.
const { driver, batchOnly } = await fileDatabase("subject-keys");
const masterKey = await newMasterKey();

registerContract(
  subjectKeyStoreContract({
    name: "SqliteSubjectKeyStore contract (bun:sqlite, file, WAL)",
    create: (settings) => new SqliteSubjectKeyStore({ ...settings, driver, masterKey }),
  }),
  { describe, test },
);
registerContract(
  subjectKeyStoreContract({
    name: "SqliteSubjectKeyStore contract (bun:sqlite, all and batch only, as on D1)",
    create: (settings) => new SqliteSubjectKeyStore({ ...settings, driver: batchOnly, masterKey }),
  }),
  { describe, test },
);

/** A migrated in-memory database of its own and a store on it, for tests that read or edit its rows. */
async function ownStore(): Promise<{ own: Database; keys: SqliteSubjectKeyStore }> {
  const own = new Database(":memory:");
  const driver = bunSqliteDriver(own);
  await migrateSqlite(driver);
  return { own, keys: new SqliteSubjectKeyStore({ driver, masterKey, cacheSize: 0 }) };
}

const rowOf = (own: Database, subject: string) =>
  own.query("SELECT * FROM eventflows_subject_keys WHERE subject_id = ?").get(subject) as Record<string, unknown>;

describe("SqliteSubjectKeyStore", () => {
  test("a row holds the key wrapped (IV, ciphertext and tag: 60 bytes); an erasure leaves no key and its first time", async () => {
    const { own, keys } = await ownStore();
    try {
      await keys.createOrGet("ada");
      const row = rowOf(own, "ada");
      expect(row.wrapped_key).toBeInstanceOf(Uint8Array);
      expect((row.wrapped_key as Uint8Array).length).toBe(12 + 32 + 16);
      expect(row.erased_at).toBeNull();
      expect(new Date(String(row.created_at)).toISOString()).toBe(String(row.created_at));
      await keys.delete("ada");
      const erased = rowOf(own, "ada");
      expect(erased).toMatchObject({ subject_id: "ada", wrapped_key: null, created_at: row.created_at });
      expect(new Date(String(erased.erased_at)).toISOString()).toBe(String(erased.erased_at));
      await keys.delete("ada");
      expect(rowOf(own, "ada").erased_at).toBe(erased.erased_at);
      // A subject that never had a key gets a tombstone too.
      await keys.delete("bob");
      expect(rowOf(own, "bob")).toMatchObject({ wrapped_key: null });
      expect(await keys.get("bob")).toEqual({ status: "erased" });
    } finally {
      own.close();
    }
  });

  test("another master key does not unwrap the keys: a PersonalDataError key-unwrap", async () => {
    const { own, keys } = await ownStore();
    try {
      await keys.createOrGet("ada");
      const other = new SqliteSubjectKeyStore({ driver: bunSqliteDriver(own), masterKey: await newMasterKey() });
      await expect(other.get("ada")).rejects.toMatchObject({
        code: ErrorCode.PersonalDataUnreadable,
        reason: "key-unwrap",
      });
    } finally {
      own.close();
    }
  });

  // Another tool wrote the row: a key that is text or a number, or another subject's key.
  for (const [what, edit] of [
    ["a key stored as text", "UPDATE eventflows_subject_keys SET wrapped_key = 'key' WHERE subject_id = 'ada'"],
    ["a key stored as a number", "UPDATE eventflows_subject_keys SET wrapped_key = 7 WHERE subject_id = 'ada'"],
    [
      "another subject's key copied to the row",
      "UPDATE eventflows_subject_keys SET wrapped_key = (SELECT wrapped_key FROM eventflows_subject_keys WHERE subject_id = 'bob') WHERE subject_id = 'ada'",
    ],
  ] as const) {
    test(`${what} is a PersonalDataError key-unwrap, not a key`, async () => {
      const { own, keys } = await ownStore();
      try {
        await keys.createOrGet("ada");
        await keys.createOrGet("bob");
        own.run(edit);
        for (const call of [() => keys.get("ada"), () => keys.createOrGet("ada")]) {
          await expect(call()).rejects.toMatchObject({ code: ErrorCode.PersonalDataUnreadable, reason: "key-unwrap" });
        }
      } finally {
        own.close();
      }
    });
  }

  test("before migrations: a ServiceError saying to migrate, with no SQL in it", async () => {
    await expectNotMigrated(
      (driver) => new SqliteSubjectKeyStore({ driver, masterKey }),
      (keys) => [() => keys.get("ada"), () => keys.createOrGet("ada"), () => keys.delete("ada")],
      /subject_keys|INSERT|SELECT/,
    );
  });

  test("a table prefix keeps its keys apart from the default tables'", async () => {
    await migrateSqlite(driver, { tablePrefix: "other_" });
    const prefixed = new SqliteSubjectKeyStore({ driver, masterKey, tablePrefix: "other_" });
    const plain = new SqliteSubjectKeyStore({ driver, masterKey });
    await plain.delete("prefixed-subject");
    await prefixed.createOrGet("prefixed-subject");
    expect((await prefixed.get("prefixed-subject")).status).toBe("active");
  });

  test("bad options are a ValidationError naming each", () => {
    const paths = optionIssuePaths((options) => new SqliteSubjectKeyStore(options));
    expect(paths(null)).toEqual([""]);
    expect(paths({})).toEqual(["driver", "masterKey"]);
    expect(paths({ driver, masterKey: "secret", tablePrefix: "Bad-" })).toEqual(["tablePrefix", "masterKey"]);
    expect(paths({ driver, masterKey, cacheSize: -1 })).toEqual(["cacheSize"]);
  });
});
