import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InMemoryProjectionLock } from "../../src/index.js";
import { projectionContract, registerContract } from "../../src/testing/index.js";
import { bunSqliteDriver, SqliteEventStore, SqliteReadModelStore } from "./index.js";

// A file database in WAL mode, migrated once, shared by every case. SQLite has no lease lock of its
// own: one database is one process's (or one Durable Object's), so the in-memory lock serves.
const dir = mkdtempSync(join(tmpdir(), "eventflows-sqlite-projections-"));
const db = new Database(join(dir, "projections.db"));
const driver = bunSqliteDriver(db);
await new SqliteEventStore({ driver }).migrate();
afterAll(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

registerContract(
  projectionContract({
    name: "projection contract on SQLite (bun:sqlite, file, WAL)",
    create: () => ({
      eventStore: new SqliteEventStore({ driver }),
      readModels: new SqliteReadModelStore({ driver }),
      lock: new InMemoryProjectionLock(),
    }),
  }),
  { describe, test },
);

describe("SqliteReadModelStore", () => {
  test("bad options are refused", () => {
    expect(() => new SqliteReadModelStore({ driver: undefined as never })).toThrow("Invalid read-model store options");
    expect(() => new SqliteReadModelStore({ driver, tablePrefix: "bad prefix" })).toThrow("Invalid");
  });

  test("a stored document that is not JSON (another tool wrote it) is a DOCUMENT_CORRUPT ServiceError, quoting none of it", async () => {
    const store = new SqliteReadModelStore({ driver });
    await store.put("corrupt-docs", "1", { card: "4111 1111 1111 1111" });
    db.run(`UPDATE eventflows_read_models SET document = '{"card": "4111 1111' WHERE collection = 'corrupt-docs'`);
    const corrupt = (operation: string) =>
      expect.objectContaining({
        name: "ServiceError",
        service: "SQLite",
        operation,
        serviceCode: "DOCUMENT_CORRUPT",
        retryable: false,
        message: expect.not.stringContaining("4111"),
      });
    await expect(store.get("corrupt-docs", "1")).rejects.toEqual(corrupt("getReadModel"));
    await expect(store.list("corrupt-docs")).rejects.toEqual(corrupt("listReadModels"));
  });
});
