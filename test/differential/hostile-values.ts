/**
 * Hostile values for the differential checks (stores.int.test.ts): event data, metadata, event types,
 * snapshot states and read-model documents built from what JSON, JavaScript and the backends treat
 * specially. Lone surrogates and U+0000 in strings and keys; `__proto__`, `constructor` and
 * `prototype` keys (as own keys, as `JSON.parse` makes them); -0, the largest and smallest doubles,
 * integers past 2^53; very long keys; nesting either side of the default depth limit of 64; `toJSON`,
 * Dates, `undefined` properties, sparse arrays, NaN and the infinities, BigInts, typed arrays, Maps
 * and Sets. A store must keep each value as the in-memory reference does, or refuse it with the same
 * error, and nothing it reads back may change `Object.prototype`. Test-only code.
 */
import fc from "fast-check";
import { DEFAULT_MAX_JSON_DEPTH, MAX_TYPE_LENGTH } from "../../src/index.js";

/** Text no store can keep: lone surrogates (no UTF-8 form) and U+0000 (which jsonb refuses). */
const unkeptText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("\ud800", "a\udfff", "\udc00\ud800", "x\u0000y"),
  fc.string({
    unit: fc.oneof(
      fc.constantFrom("\ud800", "\udfff", "\u0000"),
      fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    ),
    minLength: 1,
    maxLength: 6,
  }),
);

/**
 * Text a store either keeps as it is or refuses alike: mostly what every store must keep (escapes
 * spelt out, separators, byte order mark, the highest code points, the tag snapshots use), sometimes
 * what none can.
 */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: unkeptText, weight: 1 },
  {
    arbitrary: fc.constantFrom(
      "\\u0000",
      "\\ud800",
      "\u2028\u2029",
      "\ufeff",
      "\uffff",
      "\u{10ffff}",
      "'\";--",
      "$ef",
      "",
    ),
    weight: 3,
  },
  { arbitrary: fc.string({ unit: "binary", maxLength: 6 }), weight: 2 },
);

/** Keys with a meaning to JavaScript, empty, very long (10,000 units: as many ASCII letters, or 5,000 astral characters), and hostile text. */
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("__proto__", "constructor", "prototype", "toJSON", "hasOwnProperty", "-0", "1e3", "01"),
  fc.constantFrom("k".repeat(10_000), "😀".repeat(5_000)),
  hostileText,
);

const MAX_SAFE_PLUS_TWO = Number.MAX_SAFE_INTEGER + 2;

/** Numbers JSON keeps, changes (-0) or cannot write (NaN, the infinities: sometimes). */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  {
    arbitrary: fc.constantFrom(-0, 1e308, -1e308, Number.MAX_VALUE, 5e-324, MAX_SAFE_PLUS_TWO, -MAX_SAFE_PLUS_TWO),
    weight: 4,
  },
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }), weight: 2 },
);

class WithToJson {
  constructor(readonly at: number) {}
  toJSON() {
    return { at: this.at };
  }
}

/** Values that are not JSON (or not plain), and undefined properties: each made afresh, so no two events share one. */
const notJson: fc.Arbitrary<unknown> = fc
  .constantFrom(
    () => 1n,
    () => new Date(0),
    () => new Date(Number.NaN),
    () => new Uint8Array([0, 255]),
    () => new Int16Array([-1]),
    () => new Map<unknown, unknown>([["k", 1]]),
    () => new Set([1, "a"]),
    () => ({ toJSON: () => "replaced" }),
    () => new WithToJson(1),
    () => undefined,
    // biome-ignore lint/suspicious/noSparseArray: a hole is the point
    () => [1, , 3],
    () => Object.assign(Object.create(null) as object, { bare: true }),
  )
  .map((make) => make());

/** `depth` levels of arrays: `[[...[1]]]`. */
function nested(depth: number): unknown {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** Nesting at the default limit and one and two levels past it (with a level or more above it, past either way). */
const deep: fc.Arbitrary<unknown> = fc
  .constantFrom(DEFAULT_MAX_JSON_DEPTH - 1, DEFAULT_MAX_JSON_DEPTH, DEFAULT_MAX_JSON_DEPTH + 1)
  .map(nested);

/** An object of the given entries, every key an own data property ("__proto__" included, as JSON.parse makes it). */
function objectOf(entries: readonly (readonly [string, unknown])[]): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return object;
}

const leaf: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: hostileText, weight: 4 },
  { arbitrary: hostileNumber, weight: 4 },
  { arbitrary: fc.constantFrom(true, false, null), weight: 2 },
  notJson,
  // The pollution a __proto__ key would cause if it were ever assigned rather than defined.
  fc.constant(null).map(() => objectOf([["polluted", true]])),
);

/**
 * Hostile values in objects and arrays a few levels deep, and the deep ones. Most of them every store
 * must keep, so that appends succeed and are read back; the rest every store must refuse alike.
 */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: leaf, weight: 2 },
  {
    arbitrary: fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof(
        { depthSize: "small", withCrossShrink: true },
        leaf,
        fc.array(tie("value"), { maxLength: 3 }),
        fc.array(fc.tuple(hostileKey, tie("value")), { maxLength: 3 }).map(objectOf),
      ),
    })).value,
    weight: 4,
  },
  deep,
);

/** Metadata: none, or an object with hostile keys and values, the fields EventFlows reads among them. */
export const hostileMetadata: fc.Arbitrary<object> = fc.oneof(
  fc.constant({}),
  fc
    .array(
      fc.tuple(
        fc.oneof(hostileKey, fc.constantFrom("correlationId", "causationId", "schemaVersion", "traceparent")),
        hostileValue,
      ),
      { maxLength: 2 },
    )
    .map(objectOf),
);

/** Event types at and past their length limit (astral characters count 2), with every kind of character. */
export const hostileType: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom("Opened", "Changed"), weight: 4 },
  fc.constantFrom(
    "T".repeat(MAX_TYPE_LENGTH),
    "T".repeat(MAX_TYPE_LENGTH + 1),
    "😀".repeat(MAX_TYPE_LENGTH / 2),
    `${"😀".repeat(MAX_TYPE_LENGTH / 2)}x`,
    "T\ud800",
    "\udfffT",
    "T\u0000",
    "T\u007f",
    " ",
    "T\u2028",
    "$ef",
    "__proto__",
  ),
  fc.string({ unit: "binary", minLength: 1, maxLength: 8 }),
  hostileText,
);

/** Throws when anything a run wrote or read back added a property to `Object.prototype`. */
export function assertNoPollution(): void {
  const polluted = Object.getOwnPropertyNames(Object.prototype).filter((key) => !PROTOTYPE_KEYS.has(key));
  if (polluted.length > 0 || ({} as { polluted?: unknown }).polluted !== undefined) {
    throw new Error(`Object.prototype was given ${polluted.join(", ") || "polluted"}`);
  }
}
const PROTOTYPE_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));
