/**
 * The declared routes: one per command or query type given a schema. Only these are exposed; a
 * handler registered on a bus without a schema here has no route.
 */
import {
  type AnySchema,
  clipText,
  type Issue,
  MAX_TYPE_LENGTH,
  type MessageKind,
  objectShapeCheck,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import type { PayloadSchema, RouteDefinition, RouteSchema } from "./dispatcher-options.js";
import { queryReader } from "./query-string.js";

export interface Route {
  readonly kind: MessageKind;
  readonly type: string;
  readonly input: PayloadSchema;
  readonly async: boolean;
  /**
   * The places of a payload that hold an array where the schema wants an object (see the core's
   * object-shape.ts); undefined when the schema holds no object.
   */
  readonly misplacedArrays: ((payload: unknown) => readonly Issue[]) | undefined;
  /** For query routes: the query string as the payload. */
  readonly readQuery: ((search: string) => Record<string, unknown>) | undefined;
  /** The definition with its kind and type, as the OpenAPI document describes the route. */
  readonly description: RouteDefinition & {
    readonly kind: MessageKind;
    readonly type: string;
    readonly input: AnySchema;
  };
}

const DEFINITION_KEYS = [
  "input",
  "output",
  "summary",
  "description",
  "tags",
  "deprecated",
] as const satisfies readonly (keyof RouteDefinition)[];

/**
 * @throws {ValidationError} an entry that is not a valibot schema or has a key a definition has not, a type
 * name of the wrong length, or `.` or `..` (no request reaches such a path).
 */
export function routeTable(
  kind: MessageKind,
  schemas: Readonly<Record<string, RouteSchema | undefined>>,
): Map<string, Route> {
  const routes = new Map<string, Route>();
  // The option the issues name: `${kind}s` named a query's "querys".
  const option = kind === "command" ? "commands" : "queries";
  for (const [type, entry] of Object.entries(schemas)) {
    if (entry === undefined) continue;
    const definition: RouteDefinition = isSchema(entry) ? { input: entry } : entry;
    if (!isSchema(definition.input)) {
      throw new ValidationError("Invalid routes options", [
        { path: [option, "schemas", type], message: "must be a valibot schema or { input: schema, … }" },
      ]);
    }
    // A misspelt `output` or `summary` was left out of the document without a word.
    const unknown = unknownKeyIssues(isSchema(entry) ? undefined : entry, DEFINITION_KEYS, [option, "schemas", type]);
    if (unknown.length > 0) throw new ValidationError("Invalid routes options", unknown);
    if (type.length === 0 || type.length > MAX_TYPE_LENGTH) {
      throw new ValidationError("Invalid routes options", [
        { path: [option, "schemas", type], message: `a type name has 1 to ${MAX_TYPE_LENGTH} characters` },
      ]);
    }
    // A URL dot segment: clients (fetch, curl, proxies) resolve `/commands/.` and `/commands/..`, and
    // their escapes (`%2E`), before sending, so the route and its documented path could never be reached.
    if (type === "." || type === "..") {
      throw new ValidationError("Invalid routes options", [
        {
          path: [option, "schemas", type],
          message: `the ${kind} type "${type}" cannot name a route: clients resolve it in a URL as a dot segment (escaped too) before sending, so no request reaches it`,
        },
      ]);
    }
    const input = definition.input;
    routes.set(type, {
      kind,
      type,
      input,
      async: input.async,
      misplacedArrays: objectShapeCheck(input),
      readQuery: kind === "query" ? queryReader(input) : undefined,
      description: { ...definition, kind, type, input: input as AnySchema },
    });
  }
  return routes;
}

function isSchema(value: unknown): value is PayloadSchema {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as { kind?: unknown }).kind === "schema" &&
    typeof (value as { "~run"?: unknown })["~run"] === "function"
  );
}

/** A type named in a path, clipped to the one type-name limit before it is echoed in a 404. */
export function clipType(type: string): string {
  return clipText(type, MAX_TYPE_LENGTH);
}
