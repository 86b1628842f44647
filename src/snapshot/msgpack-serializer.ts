import {
  Decoder,
  decodeTimestampExtension,
  Encoder,
  EXT_TIMESTAMP,
  ExtensionCodec,
  encodeTimestampExtension,
} from "@msgpack/msgpack";
import { MAX_SNAPSHOT_DEPTH, notSerializable, type SnapshotSerializer, unsupported } from "./serializer.js";

// Our extension type numbers. Stored in snapshots: never renumber them.
const EXT_MAP = 1;
const EXT_SET = 2;
const EXT_BIGINT = 3;
const EXT_INVALID_DATE = 4;
// Registered last, so it sees only what no other extension took: it refuses what would not survive.
// It never writes data, so its number is not stored; it is kept low because the codec tries every
// slot up to the highest registered type for each object.
const EXT_GUARD = 5;

const text = /* @__PURE__ */ new TextEncoder();
const fromText = /* @__PURE__ */ new TextDecoder("utf-8", { fatal: true });

/**
 * MessagePack (`@msgpack/msgpack`): smaller and faster than JSON for large states. Dates use the
 * standard timestamp extension; Maps, Sets and BigInts (any size) use extension types 1 to 3; a
 * Uint8Array is stored as binary. As with JSON, a property holding `undefined` is dropped and
 * `undefined` elsewhere becomes `null`. Functions, symbols, class instances and cycles are refused
 * with a ValidationError.
 */
export function msgpackSerializer(): SnapshotSerializer {
  const codec = new ExtensionCodec();
  // Replaces the built-in timestamp encoder, which would write garbage for an invalid Date.
  codec.register({
    type: EXT_TIMESTAMP,
    encode: (value) =>
      value instanceof Date && !Number.isNaN(value.getTime()) ? encodeTimestampExtension(value) : null,
    decode: (data) => decodeTimestampExtension(data),
  });
  // The same depth limit as the JSON serializer, so that a state either both take or both refuse.
  const encoder = new Encoder({ extensionCodec: codec, ignoreUndefined: true, maxDepth: MAX_SNAPSHOT_DEPTH + 1 });
  const decoder = new Decoder({ extensionCodec: codec });
  codec.register({
    type: EXT_MAP,
    encode: (value) => (value instanceof Map ? encoder.encode([...value]) : null),
    decode: (data) => new Map(decoder.decode(data) as [unknown, unknown][]),
  });
  codec.register({
    type: EXT_SET,
    encode: (value) => (value instanceof Set ? encoder.encode([...value]) : null),
    decode: (data) => new Set(decoder.decode(data) as unknown[]),
  });
  codec.register({
    type: EXT_BIGINT,
    encode: (value) => (typeof value === "bigint" ? text.encode(value.toString()) : null),
    decode: (data) => BigInt(fromText.decode(data)),
  });
  codec.register({
    type: EXT_INVALID_DATE,
    encode: (value) => (value instanceof Date ? new Uint8Array(0) : null),
    decode: () => new Date(Number.NaN),
  });
  codec.register({
    type: EXT_GUARD,
    encode: (value) => {
      const problem = unsupported(value);
      if (problem !== undefined) throw new TypeError(problem);
      return null;
    },
    decode: () => {
      throw new TypeError("unexpected guard extension");
    },
  });
  return {
    name: "msgpack",
    serialize(value: unknown): Uint8Array {
      try {
        return encoder.encode(value);
      } catch (error) {
        throw notSerializable("MessagePack", value, error);
      }
    },
    deserialize(bytes: Uint8Array): unknown {
      return decoder.decode(bytes);
    },
  };
}
