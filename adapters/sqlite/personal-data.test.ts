import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { InMemorySubjectKeyStore } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import { customerHistory, customerPersonalData, leaks, secretsOf } from "../../test/personal-data/erasure-fixture.ts";
import { bunSqliteDriver, SqliteEventStore, SqliteSnapshotStore } from "./index.js";

describe("crypto-shredding on SQLite (bun:sqlite)", () => {
  test("the database file's rows hold no plaintext, reads decrypt, and an erased subject's fields read as null", async () => {
    const db = new Database(":memory:");
    const driver = bunSqliteDriver(db);
    const keys = new InMemorySubjectKeyStore();
    const personal = customerPersonalData(keys);
    const store = new SqliteEventStore({ driver, personalData: personal });
    await store.migrate();
    const snapshots = new SqliteSnapshotStore({ driver, personalData: personal, compression: false });
    const [erased, kept] = ["ada", "bob"];
    for (const customer of [erased, kept]) {
      await store.appendToStream(`Customer-${customer}`, customerHistory(customer));
      const { email, name } = secretsOf(customer);
      await snapshots.save({ streamId: `Customer-${customer}`, version: 2, state: { email, name } });
    }
    const dump = () =>
      JSON.stringify(
        db
          .query("SELECT name FROM sqlite_master WHERE type = 'table'")
          .all()
          .flatMap((table) => db.query(`SELECT * FROM "${(table as { name: string }).name}"`).all()),
        (_key, value) => (value instanceof Uint8Array ? new TextDecoder().decode(value) : value),
      );
    // The control: the dump holds the rows (unmarked fields in clear, encrypted values in events and snapshots).
    expect(dump()).toContain("gold");
    expect(dump().split('\\"$personal\\"').length - 1).toBeGreaterThanOrEqual(6);
    expect(leaks(dump(), erased)).toEqual([]);
    expect(leaks(dump(), kept)).toEqual([]);
    const [registered] = await collect(store.readStream(`Customer-${kept}`));
    expect((registered?.data as { email?: string } | undefined)?.email).toBe(secretsOf(kept).email);
    await keys.delete(erased);
    const [gone] = await collect(store.readAll());
    expect(gone?.data).toEqual({ customerId: erased, email: null, name: null, tier: "gold" });
    expect((await snapshots.load(`Customer-${erased}`))?.state).toEqual({ email: null, name: null });
    db.close();
  });
});
