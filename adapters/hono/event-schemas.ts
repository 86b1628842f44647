import type { EventRegistry } from "../../src/index.js";
import { type JsonSchema, toJsonSchema, type ValibotSchema } from "./json-schema.js";

/** One registered event schema as JSON Schema: for docs, and the OpenAPI document's components. */
export interface EventJsonSchema {
  readonly type: string;
  readonly version: number;
  /** Whether appends of this type are stamped with this version. */
  readonly current: boolean;
  /**
   * The component name in the OpenAPI document: `Event_<type>_v<version>`, other characters as `_`; a
   * type whose name then matches another's gets `_` and 8 hex digits of a hash of its type as well.
   */
  readonly name: string;
  readonly schema: JsonSchema;
}

/**
 * The JSON Schema of every schema in an event registry, converted like the routes' (valibot
 * schemas). A schema of another library (any Standard Schema validates) cannot be converted: it is
 * documented as `{}` with its vendor in `x-eventflows-unchecked`, never left out silently.
 */
export function eventJsonSchemas(registry: EventRegistry): EventJsonSchema[] {
  const registered = registry.schemas();
  const plain = registered.map(({ type, version }) => `Event_${type.replace(/[^A-Za-z0-9._-]/g, "_")}_v${version}`);
  const uses = new Map<string, number>();
  for (const name of plain) uses.set(name, (uses.get(name) ?? 0) + 1);
  return registered.map(({ type, version, current, schema }, i) => {
    const vendor = schema["~standard"].vendor;
    const json: JsonSchema =
      vendor === "valibot"
        ? toJsonSchema(schema as unknown as ValibotSchema)
        : { "x-eventflows-unchecked": [`a ${vendor} schema`] };
    let name = plain[i] as string;
    // Two types that differ only in replaced characters ("Cart:Opened", "Cart Opened") would share a
    // component, and the document would lose one: each one whose characters were replaced is told apart.
    if ((uses.get(name) ?? 0) > 1 && /[^A-Za-z0-9._-]/.test(type)) name = `${name}_${fnv1a(type)}`;
    return { type, version, current, name, schema: { ...json, "x-eventflows-event": { type, version, current } } };
  });
}

/** The 32-bit FNV-1a hash of `text`'s UTF-16 code units, as 8 hex digits: short, stable, no crypto needed. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}
