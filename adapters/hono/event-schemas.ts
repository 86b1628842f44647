import type { EventRegistry } from "../../src/index.js";
import { type JsonSchema, toJsonSchema, type ValibotSchema } from "./json-schema.js";

/** One registered event schema as JSON Schema: for docs, and the OpenAPI document's components. */
export interface EventJsonSchema {
  readonly type: string;
  readonly version: number;
  /** Whether appends of this type are stamped with this version. */
  readonly current: boolean;
  /** The component name in the OpenAPI document: `Event_<type>_v<version>`, other characters as `_`. */
  readonly name: string;
  readonly schema: JsonSchema;
}

/**
 * The JSON Schema of every schema in an event registry, converted like the routes' (valibot
 * schemas). A schema of another library (any Standard Schema validates) cannot be converted: it is
 * documented as `{}` with its vendor in `x-eventflows-unchecked`, never left out silently.
 */
export function eventJsonSchemas(registry: EventRegistry): EventJsonSchema[] {
  return registry.schemas().map(({ type, version, current, schema }) => {
    const vendor = schema["~standard"].vendor;
    const json: JsonSchema =
      vendor === "valibot"
        ? toJsonSchema(schema as unknown as ValibotSchema)
        : { "x-eventflows-unchecked": [`a ${vendor} schema`] };
    const name = `Event_${type.replace(/[^A-Za-z0-9._-]/g, "_")}_v${version}`;
    return { type, version, current, name, schema: { ...json, "x-eventflows-event": { type, version, current } } };
  });
}
