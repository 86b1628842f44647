import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ErrorCode } from "../../src/index.js";
import { bunSqliteDriver } from "./bun-driver.js";
import { SqliteCheckpointStore } from "./checkpoint-store.js";
import type { SqliteDriver } from "./driver.js";
import { failureOf, toEventFlowsError } from "./errors.js";
import { SqliteEventStore } from "./event-store.js";
import { type NodeSqliteDatabase, nodeSqliteDriver } from "./node-driver.js";
import { SqliteSnapshotStore } from "./snapshot-store.js";

// Messages as each driver words them (bun:sqlite and node:sqlite pass SQLite's text; D1 prefixes
// it; Durable Objects add SQLITE_* codes to the text).
const SAMPLES: [string, unknown, string][] = [
  [
    "bun:sqlite",
    Object.assign(new Error("NOT NULL constraint failed: eventflows_events.version"), {
      code: "SQLITE_CONSTRAINT_NOTNULL",
    }),
    "not-null",
  ],
  [
    "node:sqlite",
    Object.assign(new Error("UNIQUE constraint failed: eventflows_events.id"), { errcode: 2067 }),
    "unique",
  ],
  ["D1", new Error("D1_ERROR: NOT NULL constraint failed: eventflows_events.version: SQLITE_CONSTRAINT"), "not-null"],
  ["D1 wrapped", new Error("D1_EXEC_ERROR", { cause: new Error("database is locked") }), "busy"],
  ["Durable Object", new Error("no such table: eventflows_events: SQLITE_ERROR"), "no-table"],
  // A schema before a release's migration (stream deletion's event_version, migration 6).
  ["bun:sqlite", Object.assign(new Error("no such column: d.event_version"), { code: "SQLITE_ERROR" }), "no-column"],
  [
    "D1",
    new Error("D1_ERROR: table eventflows_stream_deletions has no column named event_version: SQLITE_ERROR"),
    "no-column",
  ],
  ["bun:sqlite", Object.assign(new Error("string or blob too big"), { code: "SQLITE_TOOBIG" }), "too-big"],
  ["any", new Error('near "SELEC": syntax error'), "other"],
  // As bun:sqlite 1.4 and node:sqlite (Node 22.23) throw them for a text file and for garbled pages.
  [
    "bun:sqlite",
    Object.assign(new Error("file is not a database"), { code: "SQLITE_NOTADB", errno: 26 }),
    "not-a-database",
  ],
  [
    "node:sqlite",
    Object.assign(new Error("file is not a database"), {
      code: "ERR_SQLITE_ERROR",
      errcode: 26,
      errstr: "file is not a database",
    }),
    "not-a-database",
  ],
  [
    "bun:sqlite",
    Object.assign(new Error("database disk image is malformed"), { code: "SQLITE_CORRUPT", errno: 11 }),
    "corrupt",
  ],
  [
    "node:sqlite",
    Object.assign(new Error("database disk image is malformed"), { code: "ERR_SQLITE_ERROR", errcode: 11 }),
    "corrupt",
  ],
  ["D1", new Error("D1_ERROR: file is not a database: SQLITE_NOTADB"), "not-a-database"],
  // As bun:sqlite 1.4 and node:sqlite (Node 22.23) throw them for a write to a database opened read-only.
  [
    "bun:sqlite",
    Object.assign(new Error("attempt to write a readonly database"), { code: "SQLITE_READONLY", errno: 8 }),
    "read-only",
  ],
  [
    "node:sqlite",
    Object.assign(new Error("attempt to write a readonly database"), {
      code: "ERR_SQLITE_ERROR",
      errcode: 8,
      errstr: "attempt to write a readonly database",
    }),
    "read-only",
  ],
];

describe("SQLite errors", () => {
  for (const [driver, error, kind] of SAMPLES) {
    test(`${driver}: "${(error as Error).message}" is ${kind}`, () => {
      expect(failureOf(error).kind).toBe(kind as never);
    });
  }

  test("the unique column is named, so an id collision is told from a version collision", () => {
    expect(failureOf(new Error("UNIQUE constraint failed: eventflows_events.id"))).toEqual({
      kind: "unique",
      column: "id",
    });
    expect(
      failureOf(new Error("UNIQUE constraint failed: eventflows_events.stream_id, eventflows_events.version")),
    ).toEqual({
      kind: "unique",
      column: "version",
    });
  });

  test("every failure becomes a ServiceError whose message and cause quote neither SQL nor values", () => {
    const leaky = new Error("near \"DROP TABLE secret_table\": syntax error in INSERT INTO x VALUES ('password')");
    const typed = toEventFlowsError(leaky, "appendToStream", "bun:sqlite") as Error & Record<string, unknown>;
    expect(typed).toMatchObject({ code: ErrorCode.Service, serviceCode: "SQLITE_ERROR", retryable: false });
    for (const text of [typed.message, (typed.cause as Error).message, JSON.stringify(typed.cause)]) {
      expect(text).not.toMatch(/secret_table|password|INSERT|DROP/);
    }
  });
});

describe("a file that is not a SQLite database", () => {
  const dir = mkdtempSync(join(tmpdir(), "eventflows-not-a-db-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const opened: Database[] = [];
  afterAll(() => {
    for (const db of opened) db.close();
  });
  const file = (name: string, content: string | Uint8Array) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    const db = new Database(path);
    opened.push(db);
    return db;
  };
  const notADatabase = expect.objectContaining({
    name: "ServiceError",
    code: ErrorCode.Service,
    service: "SQLite",
    serviceCode: "NOT_A_DATABASE",
    retryable: false,
    message: expect.stringContaining("the file is not a SQLite database"),
    cause: expect.objectContaining({ name: "SqliteError", driver: "bun:sqlite", code: "NOT_A_DATABASE" }),
  });

  test("bun:sqlite: making the driver over a text file fails typed, saying so and naming no path", () => {
    const db = file("notes.db", "Meeting notes, not a database.\n".repeat(40));
    let thrown: unknown;
    try {
      bunSqliteDriver(db);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toEqual(notADatabase);
    expect(String((thrown as Error).message)).not.toContain(dir);
    expect(JSON.stringify(thrown)).not.toContain(dir);
  });

  test("bun:sqlite with wal: false: the first statement (migrate, a read) fails the same way", async () => {
    const db = file("plain.db", "just text\n".repeat(100));
    const store = new SqliteEventStore({ driver: bunSqliteDriver(db, { wal: false }) });
    await expect(store.migrate()).rejects.toMatchObject({ serviceCode: "NOT_A_DATABASE" });
    await expect(store.getStreamVersion("Order-1")).rejects.toMatchObject({ serviceCode: "NOT_A_DATABASE" });
  });

  test("a database whose pages are garbled: NOT_A_DATABASE when the driver is made, CORRUPT later", async () => {
    const good = join(dir, "good.db");
    const made = new Database(good);
    made.exec("CREATE TABLE t (a); INSERT INTO t VALUES (1);");
    made.close();
    const bytes = new Uint8Array(readFileSync(good));
    // The 100-byte header stays; every page after it is garbage.
    bytes.fill(0x41, 100);
    const db = file("garbled.db", bytes);
    expect(() => bunSqliteDriver(db)).toThrow(expect.objectContaining({ serviceCode: "NOT_A_DATABASE" }));
    const store = new SqliteEventStore({ driver: bunSqliteDriver(db, { wal: false }) });
    await expect(store.getStreamVersion("Order-1")).rejects.toMatchObject({
      serviceCode: "CORRUPT",
      message: expect.stringContaining("the database file is damaged"),
    });
  });

  test("node:sqlite: the driver turns its error (code ERR_SQLITE_ERROR, errcode 26) into the same typed error", () => {
    // node:sqlite's DatabaseSync as Node 22 behaves over a text file (Node 20 has none; the runtime pass runs Node 22).
    const refuse = () => {
      throw Object.assign(new Error("file is not a database"), {
        code: "ERR_SQLITE_ERROR",
        errcode: 26,
        errstr: "file is not a database",
      });
    };
    const db = { exec: refuse, prepare: () => ({ all: refuse, run: refuse }) };
    expect(() => nodeSqliteDriver(db)).toThrow(
      expect.objectContaining({
        serviceCode: "NOT_A_DATABASE",
        message: expect.stringContaining("the file is not a SQLite database"),
        cause: expect.objectContaining({ driver: "node:sqlite" }),
      }),
    );
  });
});

// node:sqlite as Bun provides it, through a name: Node 20's types (which the tests compile with) have none.
const NODE_SQLITE = "node:sqlite";
const { DatabaseSync } = (await import(NODE_SQLITE)) as {
  DatabaseSync: new (path: string, options: { readOnly: boolean }) => NodeSqliteDatabase & { close(): void };
};

describe("a database opened read-only", () => {
  const dir = mkdtempSync(join(tmpdir(), "eventflows-read-only-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const readOnly = expect.objectContaining({
    name: "ServiceError",
    code: ErrorCode.Service,
    service: "SQLite",
    serviceCode: "READ_ONLY",
    retryable: false,
    message: expect.stringContaining("the database is read-only"),
  });

  /** A migrated file with one event, then opened read-only by `open`. */
  const cases: [string, (path: string) => { driver: SqliteDriver; close(): void }][] = [
    [
      "bun:sqlite",
      (path) => {
        const db = new Database(path, { readonly: true });
        return { driver: bunSqliteDriver(db), close: () => db.close() };
      },
    ],
    [
      "node:sqlite",
      (path) => {
        const db = new DatabaseSync(path, { readOnly: true });
        return { driver: nodeSqliteDriver(db), close: () => db.close() };
      },
    ],
  ];
  for (const [name, open] of cases) {
    test(`${name}: every write fails typed as READ_ONLY, reads go on, nothing is written`, async () => {
      const path = join(dir, `${name.replace(":", "-")}.db`);
      const writable = new Database(path);
      const setUp = new SqliteEventStore({ driver: bunSqliteDriver(writable) });
      await setUp.migrate();
      await setUp.appendToStream("Order-1", [{ type: "Placed", data: {} }]);
      writable.close();

      const { driver, close } = open(path);
      try {
        const store = new SqliteEventStore({ driver });
        const one = [{ type: "Paid", data: { secret: "card-4242" } }];
        // Each write path: the one-statement append, the transaction ("any", and over 100 events), a new stream.
        await expect(store.appendToStream("Order-1", one, { expectedVersion: 1 })).rejects.toEqual(readOnly);
        await expect(store.appendToStream("Order-1", one)).rejects.toEqual(readOnly);
        const many = Array.from({ length: 150 }, () => ({ type: "Noted", data: {} }));
        await expect(store.appendToStream("Order-2", many, { expectedVersion: "no-stream" })).rejects.toEqual(readOnly);
        await expect(store.deleteStream("Order-1")).rejects.toEqual(readOnly);
        await expect(
          new SqliteSnapshotStore({ driver }).save({ streamId: "Order-1", version: 1, state: {} }),
        ).rejects.toEqual(readOnly);
        await expect(new SqliteCheckpointStore({ driver }).store("projector", 1)).rejects.toEqual(readOnly);
        let thrown: unknown;
        try {
          await store.appendToStream("Order-1", one, { expectedVersion: 1 });
        } catch (error) {
          thrown = error;
        }
        // No internals: neither SQLite's wording nor the data.
        expect(JSON.stringify({ thrown, message: (thrown as Error).message })).not.toMatch(
          /readonly database|card-4242|INSERT/,
        );
        expect(await store.getStreamVersion("Order-1")).toBe(1);
        expect(await store.getStreamVersion("Order-2")).toBe(0);
      } finally {
        close();
      }
    });
  }
});

describe("a database that fills up mid-transaction", () => {
  const dir = mkdtempSync(join(tmpdir(), "eventflows-full-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("FULL, whichever path wrote, though SQLite rolled the transaction back itself", async () => {
    const db = new Database(join(dir, "full.db"));
    const driver = bunSqliteDriver(db);
    const store = new SqliteEventStore({ driver });
    await store.migrate();
    const pages = Number((db.query("PRAGMA page_count").get() as { page_count: number }).page_count);
    db.exec(`PRAGMA max_page_count = ${pages + 20}`);
    const events = Array.from({ length: 50 }, () => ({ type: "Big", data: "x".repeat(2000) }));
    const full = expect.objectContaining({ code: ErrorCode.Service, serviceCode: "FULL", retryable: false });
    // Row by row in the driver's transaction (as on a Durable Object), a snapshot save's batch, and the write path.
    const byRow = new SqliteEventStore({
      driver: { name: "by-row", all: driver.all, batch: driver.batch, transaction: driver.transaction },
    });
    await expect(byRow.appendToStream("Full-1", events)).rejects.toEqual(full);
    const snapshots = new SqliteSnapshotStore({ driver, compression: false });
    await expect(snapshots.save({ streamId: "Full-2", version: 1, state: "y".repeat(200_000) })).rejects.toEqual(full);
    await expect(store.appendToStream("Full-3", [...events, ...events, ...events])).rejects.toEqual(full);
    // Inside the application's transaction too (the batch's savepoint went with it).
    db.exec("BEGIN IMMEDIATE");
    await expect(byRow.appendToStream("Full-4", events)).rejects.toEqual(full);
    if (db.inTransaction) db.exec("ROLLBACK");
    expect(await store.getStreamVersion("Full-1")).toBe(0);
    expect(await snapshots.load("Full-2")).toBeUndefined();
    expect(db.query("PRAGMA integrity_check").get()).toEqual({ integrity_check: "ok" });
    db.close();
  });
});
