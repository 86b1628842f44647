import { Database } from "bun:sqlite";
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InMemorySubjectKeyStore, ProjectionRunner, rebuildProjection } from "../../src/index.js";
import { collect } from "../../src/testing/index.js";
import {
  customerHistory,
  customerPersonalData,
  directoryProjection,
  leaks,
  secretsOf,
} from "../../test/personal-data/erasure-fixture.ts";
import { bunSqliteDriver, SqliteEventStore, SqliteReadModelStore, SqliteSnapshotStore } from "./index.js";

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

/**
 * The erasure runbook's step 4 for a SQLite file, as docs/core/personal-data.md gives it: the statements run on
 * the application's connection once the read model is rebuilt.
 */
function compactAfterErasure(db: Database): void {
  db.run("VACUUM");
  // VACUUM writes the rewritten pages to the WAL, whose older frames (the deleted rows) stay in the -wal file,
  // checkpoint or not, until the WAL is truncated.
  db.run("PRAGMA wal_checkpoint(TRUNCATE)");
}

describe("the erasure runbook on a bun:sqlite file", () => {
  test("after the rebuild, step 4 leaves none of the erased subject's plaintext in the database file or its WAL", async () => {
    const dir = mkdtempSync(join(tmpdir(), "eventflows-erasure-"));
    const file = join(dir, "events.db");
    const db = new Database(file);
    try {
      const driver = bunSqliteDriver(db); // a file: the driver sets WAL
      const keys = new InMemorySubjectKeyStore();
      const store = new SqliteEventStore({ driver, personalData: customerPersonalData(keys) });
      await store.migrate();
      const readModels = new SqliteReadModelStore({ driver });
      const directory = directoryProjection("directory");
      const [erased, kept] = ["ada", "bob"];
      for (const customer of [erased, kept])
        await store.appendToStream(`Customer-${customer}`, customerHistory(customer));
      await new ProjectionRunner({ projection: directory, eventStore: store, readModels }).catchUp();
      const files = () =>
        [file, `${file}-wal`]
          .filter((path) => existsSync(path))
          .map((path) => new TextDecoder().decode(readFileSync(path)))
          .join("\n");
      // The control: the read model's rows are on disk in clear before the erasure.
      expect(leaks(files(), erased)).not.toEqual([]);

      await keys.delete(erased);
      await rebuildProjection({ projection: directory, eventStore: store, readModels, collections: ["directory"] });
      compactAfterErasure(db);

      expect(leaks(files(), erased)).toEqual([]);
      expect(leaks(files(), kept)).not.toEqual([]);
      expect(await readModels.get("directory", erased)).toEqual({
        email: null,
        name: null,
        tier: "gold",
        street: null,
      });
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
