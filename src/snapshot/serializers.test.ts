import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ValidationError } from "../errors.js";
import { deepEqual } from "../internal/deep-equal.js";
import { compress, decompress } from "./compression.js";
import { InMemorySnapshotStore } from "./in-memory-snapshot-store.js";
import { jsonSerializer } from "./json-serializer.js";
import { msgpackSerializer } from "./msgpack-serializer.js";
import { MAX_SNAPSHOT_DEPTH, type SnapshotSerializer, snapshotIssues } from "./serializer.js";

const key = fc.string({ maxLength: 8 }).filter((k) => k !== "__proto__");
const primitive = fc.oneof(
  fc.string(),
  fc.boolean(),
  fc.constant(null),
  // -0 becomes 0 in both serializers (documented): leave it out of the identity property.
  fc.double().filter((n) => !Object.is(n, -0)),
  fc.integer(),
  fc.bigInt(),
);
const { value: stateValue } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    primitive,
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 16 }),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(key, fc.constant("$ef"), fc.constant("v")), tie("value"), {
      maxKeys: 4,
      noNullPrototype: true,
    }),
    fc
      .array(fc.tuple(fc.oneof(fc.string(), fc.integer(), fc.bigInt()), tie("value")), { maxLength: 3 })
      .map((entries) => new Map(entries)),
    fc.array(primitive, { maxLength: 4 }).map((items) => new Set(items)),
  ),
}));

const serializers: [string, SnapshotSerializer][] = [
  ["json", jsonSerializer],
  ["msgpack", msgpackSerializer()],
];

for (const [name, serializer] of serializers) {
  describe(`${name} serializer`, () => {
    test("any state built from supported values survives the round trip (property)", () => {
      fc.assert(
        fc.property(stateValue, (value) => deepEqual(serializer.deserialize(serializer.serialize(value)), value)),
        { numRuns: 500 },
      );
    });

    test("a Map value that is a function is refused, the path naming the map key", () => {
      const error = (() => {
        try {
          serializer.serialize({ m: new Map([["handler", () => 1]]) });
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues[0]?.path).toEqual(["m", "handler"]);
    });

    test("1,000 levels of nesting are fine; deeper is refused with a ValidationError", () => {
      const nest = (levels: number) => {
        let value: unknown = 1;
        for (let i = 0; i < levels; i++) value = { inner: value };
        return value;
      };
      const deep = nest(MAX_SNAPSHOT_DEPTH);
      expect(serializer.deserialize(serializer.serialize(deep))).toEqual(deep);
      expect(() => serializer.serialize(nest(MAX_SNAPSHOT_DEPTH + 1))).toThrow(
        `nested deeper than the limit of ${MAX_SNAPSHOT_DEPTH} levels`,
      );
    });

    test("state of any depth is refused with a ValidationError naming the limit, never a RangeError (property)", () => {
      fc.assert(
        fc.property(
          fc.integer({ min: MAX_SNAPSHOT_DEPTH - 5, max: 60_000 }),
          fc.constantFrom("array", "object", "map", "set"),
          (levels, kind) => {
            let value: unknown = 1;
            for (let i = 0; i < levels; i++) {
              value =
                kind === "array"
                  ? [value]
                  : kind === "object"
                    ? { v: value }
                    : kind === "map"
                      ? new Map([["v", value]])
                      : new Set([value]);
            }
            let thrown: unknown;
            try {
              serializer.serialize(value);
            } catch (error) {
              thrown = error;
            }
            // Whatever happens, it is never a RangeError or another untyped error.
            if (thrown !== undefined) expect(thrown).toBeInstanceOf(ValidationError);
            // MessagePack encodes Maps and Sets as extensions, each with a fresh depth count: it refuses
            // them only where the stack runs out. Arrays and objects have the exact limit on both.
            const exact = kind === "array" || kind === "object" || serializer.name === "json";
            if (exact) expect(thrown === undefined).toBe(levels <= MAX_SNAPSHOT_DEPTH);
            if (thrown !== undefined)
              expect((thrown as Error).message).toContain(`limit of ${MAX_SNAPSHOT_DEPTH} levels`);
          },
        ),
        { numRuns: 12 },
      );
    });

    test("objects without a prototype come back as plain objects with the same keys", () => {
      const bare = Object.assign(Object.create(null), { a: 1 });
      expect(serializer.deserialize(serializer.serialize(bare))).toEqual({ a: 1 });
    });

    test("garbage bytes do not decode", () => {
      expect(() => serializer.deserialize(new Uint8Array([0xc1, 0xff, 0x00, 0x7b]))).toThrow();
    });
  });
}

describe("json serializer", () => {
  test("writes readable JSON, tagging only what JSON lacks", () => {
    const text = new TextDecoder().decode(jsonSerializer.serialize({ n: 1, at: new Date(0), tags: new Set(["a"]) }));
    expect(JSON.parse(text)).toEqual({
      n: 1,
      at: { $ef: "Date", v: "1970-01-01T00:00:00.000Z" },
      tags: { $ef: "Set", v: ["a"] },
    });
  });

  test("a user object with a $ef key is escaped, not mistaken for a tag", () => {
    const state = { $ef: "Map", v: [["k", 1]] };
    const bytes = jsonSerializer.serialize(state);
    expect(JSON.parse(new TextDecoder().decode(bytes)).$ef).toBe("object");
    expect(jsonSerializer.deserialize(bytes)).toEqual(state);
  });

  test("an unknown tag or invalid UTF-8 does not decode", () => {
    const unknownTag = new TextEncoder().encode('{"$ef":"Temporal","v":"2024"}');
    expect(() => jsonSerializer.deserialize(unknownTag)).toThrow(/unknown tagged value/);
    expect(() => jsonSerializer.deserialize(new Uint8Array([0x22, 0xff, 0x22]))).toThrow();
  });
});

describe("state that cannot be read", () => {
  const SECRET = "h53-secret-marker";
  const getter = () =>
    Object.defineProperty({}, "balance", {
      enumerable: true,
      get: () => {
        throw new Error(SECRET);
      },
    });
  const revoked = () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  };

  test("snapshotIssues reports it as an issue instead of throwing", () => {
    for (const state of [getter(), revoked(), { nested: [getter()] }]) {
      expect(snapshotIssues(state)).toEqual([
        { path: [], message: "could not be read as snapshot state: reading it threw" },
      ]);
    }
  });

  test("a getter or revoked Proxy in the state is a ValidationError without the caller's error text", async () => {
    const store = new InMemorySnapshotStore();
    const attempts: (() => unknown)[] = [
      () => jsonSerializer.serialize(getter()),
      () => msgpackSerializer().serialize(getter()),
      () => jsonSerializer.serialize({ a: revoked() }),
      () => store.save({ streamId: "Doc-1", version: 1, state: getter() }),
      () => store.save({ streamId: "Doc-1", version: 1, state: { a: revoked() } }),
    ];
    for (const attempt of attempts) {
      const error = await Promise.resolve()
        .then(attempt)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect(`${(error as Error).message} ${JSON.stringify(error)}`).not.toContain(SECRET);
    }
    expect(await store.load("Doc-1")).toBeUndefined();
  });
});

describe("msgpack serializer", () => {
  test("is smaller than JSON for a number-heavy state", () => {
    const state = { readings: Array.from({ length: 1000 }, (_, i) => ({ at: new Date(i * 1000), value: i * 1.5 })) };
    const packed = msgpackSerializer().serialize(state).byteLength;
    const json = jsonSerializer.serialize(state).byteLength;
    expect(packed).toBeLessThan(json);
  });

  test("BigInts beyond 64 bits survive", () => {
    const serializer = msgpackSerializer();
    const huge = -(2n ** 200n) + 7n;
    expect(serializer.deserialize(serializer.serialize({ huge }))).toEqual({ huge });
  });
});

describe("compression", () => {
  for (const format of ["gzip", "deflate", "deflate-raw"] as const) {
    test(`${format}: round trip of empty, small and large (multi-chunk) inputs`, async () => {
      const large = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 31) % 251);
      for (const bytes of [new Uint8Array(0), new TextEncoder().encode("hello"), large]) {
        const packed = await compress(bytes, format);
        expect(await decompress(packed, format)).toEqual(bytes);
      }
    });
  }

  test("gzip output carries the gzip magic bytes", async () => {
    const packed = await compress(new TextEncoder().encode("x".repeat(100)));
    expect([packed[0], packed[1]]).toEqual([0x1f, 0x8b]);
  });

  test("bytes that are not compressed data reject with a ValidationError, the runtime's error as its cause (was its TypeError)", async () => {
    const truncated = (await compress(new Uint8Array(1000).fill(7))).slice(0, 10);
    for (const bytes of [new TextEncoder().encode("not gzip at all"), truncated]) {
      const error = await decompress(bytes, "gzip").catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).cause).toBeDefined();
    }
  });

  test("a format, bytes or maxBytes the web streams would throw a TypeError for (or take on one runtime only) is a ValidationError", async () => {
    const bytes = new Uint8Array([1, 2, 3]);
    for (const call of [
      () => compress(bytes, "zip" as never),
      () => compress(bytes, "brotli" as never),
      () => compress([1, 2] as never),
      () => decompress(bytes, "zstd" as never),
      () => decompress("abc" as never),
      () => decompress(bytes, "gzip", -1),
      () => decompress(bytes, "gzip", Number.NaN),
    ]) {
      await expect(call()).rejects.toBeInstanceOf(ValidationError);
    }
  });
});
