/** The slice of DynamoDB's attribute-value JSON this adapter reads and writes. */
export type AttributeValue =
  | { readonly S: string }
  | { readonly N: string }
  | { readonly BOOL: boolean }
  | { readonly NULL: true };

export type Item = Readonly<Record<string, AttributeValue>>;

export const str = (value: string): AttributeValue => ({ S: value });
export const num = (value: number): AttributeValue => ({ N: String(value) });

export function readString(item: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const value = item[name] as { S?: unknown } | undefined;
  return typeof value?.S === "string" ? value.S : undefined;
}

export function readNumber(item: Readonly<Record<string, unknown>>, name: string): number | undefined {
  const value = item[name] as { N?: unknown } | undefined;
  return typeof value?.N === "string" ? Number(value.N) : undefined;
}

export function readBool(item: Readonly<Record<string, unknown>>, name: string): boolean {
  const value = item[name] as { BOOL?: unknown } | undefined;
  return value?.BOOL === true;
}

/**
 * A string attribute that holds JSON text, parsed (`absent`'s JSON when the attribute is missing). Text that
 * is not JSON (another tool wrote the item) throws what `corrupt` makes: never the parser's SyntaxError,
 * which is no EventFlowsError and quotes the text.
 */
export function readJson(
  item: Readonly<Record<string, unknown>>,
  name: string,
  absent: string,
  corrupt: () => Error,
): unknown {
  try {
    return JSON.parse(readString(item, name) ?? absent);
  } catch {
    throw corrupt();
  }
}

/** Why an attribute has no JSON reading; the decoder turns it into a typed error naming the item. */
export class NotJsonAttribute extends Error {}

/**
 * The JSON reading of an attribute another tool may have written as a native DynamoDB value: maps,
 * lists, strings, numbers, booleans, null, and string and number sets (as arrays). Binary has no
 * JSON reading, nor has a number beyond ±(2^53 - 1).
 * DynamoDB nests at most 32 levels, so the recursion is shallow.
 * @throws {NotJsonAttribute}
 */
export function jsonFromAttribute(value: unknown, depth = 0): unknown {
  if (typeof value !== "object" || value === null)
    throw new NotJsonAttribute(`${where(depth)} is not an attribute value`);
  const attribute = value as Record<string, unknown>;
  if (typeof attribute.S === "string") return attribute.S;
  if (typeof attribute.N === "string") return numberFrom(attribute.N, depth);
  if (typeof attribute.BOOL === "boolean") return attribute.BOOL;
  if (attribute.NULL === true) return null;
  if (Array.isArray(attribute.L)) return attribute.L.map((item) => jsonFromAttribute(item, depth + 1));
  if (typeof attribute.M === "object" && attribute.M !== null && !Array.isArray(attribute.M)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(attribute.M)) {
      // A plain own property even for "__proto__", as JSON.parse makes it.
      Object.defineProperty(out, key, {
        value: jsonFromAttribute(item, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  if (Array.isArray(attribute.SS) && attribute.SS.every((s) => typeof s === "string")) return [...attribute.SS];
  if (Array.isArray(attribute.NS) && attribute.NS.every((n) => typeof n === "string")) {
    return attribute.NS.map((n: string) => numberFrom(n, depth + 1));
  }
  if ("B" in attribute || "BS" in attribute)
    throw new NotJsonAttribute(`${where(depth)} is binary, which has no JSON form`);
  throw new NotJsonAttribute(`${where(depth)} has a type this store does not read`);
}

function numberFrom(text: string, depth: number): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value)) throw new NotJsonAttribute(`${where(depth)} is not a number`);
  // As the AWS SDK's unmarshall: past 2^53 a JavaScript number silently rounds what was stored.
  if (Math.abs(value) > Number.MAX_SAFE_INTEGER) {
    throw new NotJsonAttribute(`${where(depth)} is beyond ±(2^53 - 1), where a JavaScript number rounds it`);
  }
  return value;
}

/**
 * Where in the value, as a depth only: the keys of a map are stored contents (an e-mail address or an
 * account number can be a key), which messages never carry. The attribute is named by the caller.
 */
function where(depth: number): string {
  return depth === 0 ? "the value" : `a value nested ${depth} level${depth === 1 ? "" : "s"} deep`;
}
