import { describe, expect, test } from "bun:test";
import { isServiceError } from "../errors.js";
import { sha256Hex } from "../internal/sha256.js";
import { checkAppliedMigrations } from "./applied-migrations.js";

describe("sha256Hex", () => {
  test("the FIPS 180-2 vector, for text and bytes", async () => {
    const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    expect(await sha256Hex("abc")).toBe(abc);
    expect(await sha256Hex(new TextEncoder().encode("abc"))).toBe(abc);
  });
});

describe("checkAppliedMigrations", () => {
  const shipped = [
    { version: 1, name: "events", checksum: "a" },
    { version: 2, name: "snapshots", checksum: "b" },
  ];

  test("a database at or below the shipped list with the same checksums passes", () => {
    expect(() => checkAppliedMigrations("db", [], shipped)).not.toThrow();
    expect(() => checkAppliedMigrations("db", shipped.slice(0, 1), shipped)).not.toThrow();
  });

  test("a newer database and a changed migration are non-retryable ServiceErrors naming what to do", () => {
    const newer = (() => {
      try {
        checkAppliedMigrations("db", [...shipped, { version: 3, name: "x", checksum: "c" }], shipped);
      } catch (error) {
        return error;
      }
    })();
    expect(isServiceError(newer)).toBe(true);
    expect(newer).toMatchObject({ serviceCode: "SCHEMA_TOO_NEW", retryable: false });
    expect((newer as Error).message).toContain("newer than this library knows (2)");
    expect(() => checkAppliedMigrations("db", [{ version: 2, name: "snapshots", checksum: "z" }], shipped)).toThrow(
      /different SQL/,
    );
  });
});
