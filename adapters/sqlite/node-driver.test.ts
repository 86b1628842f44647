import { describe, expect, test } from "bun:test";
import { nodeSqliteDriver } from "./node-driver.js";

describe("nodeSqliteDriver", () => {
  // A stand-in with better-sqlite3's statement shape (a reader flag; all() refused on writes):
  // better-sqlite3 is not a dependency here, node:sqlite itself runs in the Node 22 runtime pass.
  test("runs statements that return no rows with run(), as better-sqlite3 requires", async () => {
    const calls: string[] = [];
    const db = {
      exec: (sql: string) => calls.push(`exec ${sql}`),
      prepare: (sql: string) => ({
        reader: sql.startsWith("SELECT") || sql.startsWith("PRAGMA"),
        all: () => {
          if (!(sql.startsWith("SELECT") || sql.startsWith("PRAGMA")))
            throw new TypeError("This statement does not return data");
          calls.push(`all ${sql}`);
          return [{ one: 1 }];
        },
        run: () => {
          calls.push(`run ${sql}`);
          // better-sqlite3 with safeIntegers, node:sqlite with readBigInts: bigint ids.
          return { changes: 1, lastInsertRowid: 7n };
        },
      }),
    };
    const driver = nodeSqliteDriver(db);
    expect(await driver.all("INSERT INTO t VALUES (?)", [1])).toEqual([]);
    expect(await driver.all("SELECT 1 AS one")).toEqual([{ one: 1 }]);
    expect(calls).toEqual([
      "exec PRAGMA busy_timeout = 5000",
      "all PRAGMA journal_mode = WAL",
      "run INSERT INTO t VALUES (?)",
      "all SELECT 1 AS one",
    ]);
    expect(driver.write?.("INSERT INTO t VALUES (?)", [2])).toEqual({ changes: 1, lastInsertRowid: 7 });
  });

  // A stand-in with node:sqlite's behaviour, which the Node 22 pass runs for real: all() throws a
  // RangeError (ERR_OUT_OF_RANGE) on an integer past 2^53 unless setReadBigInts(true).
  test("a SELECT meeting an integer past 2^53 reads it as a bigint (safe ones as numbers) for the store to refuse; no other statement is run twice", async () => {
    const runs: string[] = [];
    const db = {
      exec: () => {},
      prepare: (sql: string) => {
        let bigInts = false;
        return {
          setReadBigInts: (enabled: boolean) => {
            bigInts = enabled;
          },
          all: () => {
            runs.push(sql);
            if (sql.startsWith("PRAGMA")) return [];
            if (!bigInts) {
              throw Object.assign(new RangeError("Value is too large to be represented as a JavaScript number"), {
                code: "ERR_OUT_OF_RANGE",
              });
            }
            return [{ position: 9007199254740993n, version: 2n, name: "x" }];
          },
        };
      },
    };
    const driver = nodeSqliteDriver(db);
    // Before: the RangeError came out, which every store reported as SQLITE_ERROR, "the statement failed".
    expect(await driver.all("SELECT position, version, name FROM t")).toEqual([
      { position: 9007199254740993n, version: 2, name: "x" },
    ]);
    await expect(driver.all("INSERT INTO t VALUES (1) RETURNING position")).rejects.toThrow(RangeError);
    expect(runs.filter((sql) => sql.startsWith("INSERT"))).toHaveLength(1);
  });

  test("refuses what is not a database", () => {
    expect(() => nodeSqliteDriver({} as never)).toThrow("Invalid SQLite driver");
    expect(() => nodeSqliteDriver(db(), { busyTimeoutMs: -1 })).toThrow(
      expect.objectContaining({ code: "VALIDATION_FAILED" }),
    );
  });
});

function db() {
  return { exec: () => undefined, prepare: () => ({ all: () => [] }) };
}
