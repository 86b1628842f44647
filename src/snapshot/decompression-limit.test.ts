/**
 * Issue 17: a small compressed snapshot that inflates enormously (a decompression bomb written by
 * anyone who can write snapshot rows) must not exhaust memory: decompression stops at a limit.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isPayloadTooLargeError, isSnapshotCorruptError, ValidationError } from "../errors.js";
import { compress, decompress } from "./compression.js";
import { InMemorySnapshotStore } from "./in-memory-snapshot-store.js";

describe("decompress with maxBytes", () => {
  test("a bomb (10 MiB of zeros in ~10 KiB) is refused once the output passes the limit", async () => {
    const bomb = await compress(new Uint8Array(10 * 1024 * 1024));
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    const error = await decompress(bomb, "gzip", 1024 * 1024).catch((e) => e);
    expect(isPayloadTooLargeError(error)).toBe(true);
    expect(error.limit).toBe(1024 * 1024);
  });

  test("output at or under the limit decompresses whole; one byte over is refused (generated sizes)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 4096 }),
        fc.integer({ min: 0, max: 5000 }),
        async (bytes, limit) => {
          const packed = await compress(bytes, "deflate");
          const outcome = await decompress(packed, "deflate", limit).catch((e) => e);
          if (bytes.byteLength <= limit) expect(outcome).toEqual(bytes);
          else expect(isPayloadTooLargeError(outcome)).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("snapshot stores cap what a snapshot decompresses to", () => {
  test("a snapshot past maxDecompressedBytes loads as corrupt (the repository then replays)", async () => {
    const store = new InMemorySnapshotStore({ compression: { format: "gzip" }, maxDecompressedBytes: 100_000 });
    const state = { blob: "0".repeat(1_000_000) };
    const saved = await store.save({ streamId: "Order-1", version: 3, state });
    expect(saved.storedBytes).toBeLessThan(100_000);
    const error = await store.load("Order-1").catch((e) => e);
    expect(isSnapshotCorruptError(error)).toBe(true);
    expect(error.message).toContain("maxDecompressedBytes (100000)");
    const roomy = new InMemorySnapshotStore({ compression: { format: "gzip" } });
    await roomy.save({ streamId: "Order-1", version: 3, state });
    expect((await roomy.load<typeof state>("Order-1"))?.state.blob.length).toBe(1_000_000);
  });

  test("the limit must be a positive integer", () => {
    for (const bad of [0, -1, 1.5, Number.NaN, "1"]) {
      expect(() => new InMemorySnapshotStore({ maxDecompressedBytes: bad as number })).toThrow(ValidationError);
    }
  });
});
