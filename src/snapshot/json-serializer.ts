import { MAX_SNAPSHOT_DEPTH, notSerializable, type SnapshotSerializer, unsupported } from "./serializer.js";

// Values JSON has no literal for travel as {"$ef": kind, "v": payload}; a plain object that has a
// "$ef" key of its own is wrapped as {"$ef": "object", "v": {...}} so it is never mistaken for a tag.
const TAG = "$ef";
const MAX_DEPTH = MAX_SNAPSHOT_DEPTH;

const encoder = /* @__PURE__ */ new TextEncoder();
const decoder = /* @__PURE__ */ new TextDecoder("utf-8", { fatal: true });

class Unsupported extends Error {}

/**
 * JSON with tagged values: Dates, Maps, Sets, BigInts, Uint8Arrays, NaN and the infinities survive
 * the round trip. As in JSON, a property holding `undefined` is dropped and `undefined` elsewhere
 * becomes `null`. Functions, symbols, class instances and cycles are refused with a ValidationError.
 * Readable in a database console, which is why it is the default.
 */
export const jsonSerializer: SnapshotSerializer = {
  name: "json",
  serialize(value: unknown): Uint8Array {
    let tree: unknown;
    try {
      tree = encodeValue(value, 0);
    } catch (error) {
      // Anything else is a getter or Proxy trap of the state's that threw: refused alike, by its issues.
      throw notSerializable("JSON", value, error);
    }
    return encoder.encode(JSON.stringify(tree ?? null));
  },
  deserialize(bytes: Uint8Array): unknown {
    return decodeValue(JSON.parse(decoder.decode(bytes)));
  },
};

function encodeValue(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "undefined":
      return value;
    case "number":
      return Number.isFinite(value) ? value : { [TAG]: "number", v: String(value) };
    case "bigint":
      return { [TAG]: "bigint", v: value.toString() };
  }
  if (value === null) return null;
  if (depth >= MAX_DEPTH) throw new Unsupported(`nested deeper than the limit of ${MAX_DEPTH} levels`);
  const problem = unsupported(value);
  if (problem !== undefined) throw new Unsupported(problem);
  const next = depth + 1;
  if (Array.isArray(value)) return value.map((item) => encodeValue(item, next));
  if (value instanceof Date) {
    const time = value.getTime();
    return { [TAG]: "Date", v: Number.isNaN(time) ? null : value.toISOString() };
  }
  if (value instanceof Map) {
    const entries: unknown[] = [];
    for (const [key, item] of value) entries.push([encodeValue(key, next), encodeValue(item, next)]);
    return { [TAG]: "Map", v: entries };
  }
  if (value instanceof Set) {
    const items: unknown[] = [];
    for (const item of value) items.push(encodeValue(item, next));
    return { [TAG]: "Set", v: items };
  }
  if (value instanceof Uint8Array) return { [TAG]: "bytes", v: toBase64(value) };
  const source = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) out[key] = encodeValue(source[key], next);
  return Object.hasOwn(source, TAG) ? { [TAG]: "object", v: out } : out;
}

function decodeValue(node: unknown): unknown {
  if (typeof node !== "object" || node === null) return node;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) node[i] = decodeValue(node[i]);
    return node;
  }
  const record = node as Record<string, unknown>;
  const tag = record[TAG];
  if (tag === undefined) return decodeProperties(record);
  const payload = record.v;
  switch (tag) {
    case "object":
      return decodeProperties(payload as Record<string, unknown>);
    case "number":
      return Number(payload);
    case "bigint":
      return BigInt(payload as string);
    case "Date":
      return new Date(payload === null ? Number.NaN : (payload as string));
    case "Map":
      return new Map((payload as [unknown, unknown][]).map(([key, item]) => [decodeValue(key), decodeValue(item)]));
    case "Set":
      return new Set((payload as unknown[]).map(decodeValue));
    case "bytes":
      return fromBase64(payload as string);
    default:
      throw new TypeError(`unknown tagged value "${String(tag)}"`);
  }
}

function decodeProperties(record: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(record)) {
    const value = record[key];
    if (typeof value === "object" && value !== null) {
      // JSON.parse makes "__proto__" an own key; a plain assignment would set the prototype instead.
      if (key === "__proto__") throw new TypeError("a __proto__ key is not allowed");
      record[key] = decodeValue(value);
    }
  }
  return record;
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
