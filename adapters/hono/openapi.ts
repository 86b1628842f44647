/**
 * The OpenAPI 3.1 document of the routes, built from the same valibot schemas that validate
 * requests, so the document cannot drift from what the routes accept.
 */

import {
  type EventRegistry,
  type Issue,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  objectIssues,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import {
  IDEMPOTENCY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  MAX_CORRELATION_ID_LENGTH,
  MAX_NUMBER_TEXT_LENGTH,
} from "../http/index.js";
import { eventJsonSchemas } from "./event-schemas.js";
import { acceptsMissingBody, type JsonSchema, toJsonSchema, type ValibotSchema } from "./json-schema.js";

/** OpenAPI's Info Object: its fields, and extensions (`x-` fields). */
export interface OpenApiInfo {
  readonly title: string;
  readonly version: string;
  readonly description?: string;
  readonly summary?: string;
  readonly termsOfService?: string;
  readonly contact?: Readonly<Record<string, unknown>>;
  readonly license?: Readonly<Record<string, unknown>>;
  readonly [extension: `x-${string}`]: unknown;
}

/** OpenAPI's Server Object: its fields, and extensions (`x-` fields). */
export interface OpenApiServer {
  readonly url: string;
  readonly description?: string;
  readonly variables?: Readonly<Record<string, unknown>>;
  readonly [extension: `x-${string}`]: unknown;
}

export interface OpenApiOptions {
  /** Defaults to `{ title: "EventFlows API", version: "1.0.0" }`. */
  readonly info?: OpenApiInfo;
  /** Where the document is served, relative to the routes. Defaults to `/openapi.json`. */
  readonly path?: string;
  /** Defaults to one server: the path the routes are mounted at, as seen by the request for the document. */
  readonly servers?: readonly OpenApiServer[];
  /** `components.securitySchemes`, for the auth hook's scheme (`{ bearer: { type: "http", scheme: "bearer" } }`). */
  readonly securitySchemes?: Readonly<Record<string, unknown>>;
  /** Top-level `security` requirements, applied to the command and query routes. */
  readonly security?: readonly Readonly<Record<string, readonly string[]>>[];
  /**
   * The event registry whose schemas (every type and version) are added to `components.schemas`
   * as `Event_<type>_v<version>`, so clients see the events the API produces as the store checks them.
   */
  readonly events?: EventRegistry;
}

/** One command or query route, as the document describes it. */
export interface RouteDescription {
  readonly kind: "command" | "query";
  readonly type: string;
  readonly input: ValibotSchema;
  readonly output?: ValibotSchema;
  readonly summary?: string;
  readonly description?: string;
  readonly tags?: readonly string[];
  readonly deprecated?: boolean;
}

export interface DocumentSpec {
  readonly routes: readonly RouteDescription[];
  readonly health: boolean;
  /** The health routes run the auth hook: they then take the document's `security` and answer 401 and 403. */
  readonly healthAuth?: boolean;
  readonly idempotency: boolean;
  readonly auth: boolean;
  /** With tenancy a request may be refused for its tenant (401, 403) and an append for its quota (429). */
  readonly tenancy?: boolean;
  readonly bodyLimit: number;
  /** How deeply a JSON body may nest: stated in the body's description (JSON Schema has no keyword for it). */
  readonly depthLimit?: number;
  readonly correlationHeader: string;
}

const problemSchema: JsonSchema = {
  type: "object",
  description: "RFC 9457 problem details; branch on `code`.",
  properties: {
    type: { type: "string" },
    title: { type: "string" },
    status: { type: "integer" },
    detail: { type: "string" },
    code: { type: "string" },
    issues: {
      type: "array",
      items: {
        type: "object",
        properties: {
          path: { type: "array", items: { anyOf: [{ type: "string" }, { type: "integer" }] } },
          message: { type: "string" },
        },
        required: ["path", "message"],
      },
    },
  },
  required: ["type", "title", "status", "detail", "code"],
};

const problems: Readonly<Record<string, { readonly status: number; readonly description: string }>> = {
  BadRequest: {
    status: 400,
    // A handler's ValidationError (a rule of the domain: no such item, a full cart) is a 400 too, for a
    // request the schema allowed: the document says so, as the routes' docs do.
    description:
      "Malformed JSON, a body/query that fails validation, or a ValidationError from the handler (VALIDATION_FAILED)",
  },
  Unauthorized: { status: 401, description: "Missing or invalid credentials (UNAUTHORIZED)" },
  Forbidden: {
    status: 403,
    description:
      "The caller may not do this (FORBIDDEN), or its tenant is invalid or unknown (TENANT_INVALID, TENANT_UNKNOWN)",
  },
  NotFound: { status: 404, description: "No such command or query type (HANDLER_NOT_FOUND), or stream" },
  Conflict: {
    status: 409,
    description:
      "A concurrent change (CONCURRENCY_CONFLICT), a deleted stream (STREAM_DELETED), or the same Idempotency-Key still running",
  },
  Gone: {
    status: 410,
    description:
      "The data subject was erased (SUBJECT_ERASED), or this Idempotency-Key's request already ran and its response was too large to keep for replay (IDEMPOTENCY_RESPONSE_NOT_KEPT)",
  },
  ContentTooLarge: { status: 413, description: "The body is over the size limit (PAYLOAD_TOO_LARGE)" },
  UnsupportedMediaType: {
    status: 415,
    description: "The body is not application/json, or is content-coded (UNSUPPORTED_MEDIA_TYPE)",
  },
  UnprocessableContent: {
    status: 422,
    description: "The Idempotency-Key was used for a different request (IDEMPOTENCY_KEY_REUSED)",
  },
  TooManyRequests: {
    status: 429,
    description: "An append over the tenant's quota (TENANT_QUOTA_EXCEEDED); Retry-After when waiting helps",
  },
  InternalError: { status: 500, description: "An unexpected error; no internals are disclosed" },
  ServiceUnavailable: { status: 503, description: "A backend is unavailable; retry later" },
};

const INFO_KEYS = [
  "title",
  "version",
  "description",
  "summary",
  "termsOfService",
  "contact",
  "license",
] as const satisfies readonly (keyof OpenApiInfo)[];
const SERVER_KEYS = ["url", "description", "variables"] as const satisfies readonly (keyof OpenApiServer)[];

/**
 * What is wrong with `info` and `servers`, each under `at`: they go into the document as given, so a
 * key OpenAPI does not define (a misspelt `titel`, the document then without a title) is refused,
 * as a key of the other options is; extensions (`x-` keys) are OpenAPI's own and pass.
 */
export function infoAndServersIssues(options: OpenApiOptions, at: readonly (string | number)[]): Issue[] {
  const issues = [
    ...objectIssues(options.info, [...at, "info"]),
    ...unknownKeyIssues(options.info, INFO_KEYS, [...at, "info"], "x-"),
    // OpenAPI requires them: a document without them is not one (TypeScript says so; JavaScript did not).
    ...requiredStrings(options.info, ["title", "version"], [...at, "info"]),
  ];
  const servers: unknown = options.servers;
  if (servers === undefined) return issues;
  if (!Array.isArray(servers)) return [...issues, { path: [...at, "servers"], message: "must be an array of servers" }];
  servers.forEach((server: unknown, index) => {
    issues.push(
      ...objectIssues(server, [...at, "servers", index], true),
      ...unknownKeyIssues(server, SERVER_KEYS, [...at, "servers", index], "x-"),
      ...requiredStrings(server, ["url"], [...at, "servers", index]),
    );
  });
  return issues;
}

/** The fields of `keys` that an object (given: not one is `objectIssues`'s issue) lacks as strings. */
function requiredStrings(value: unknown, keys: readonly string[], at: readonly (string | number)[]): Issue[] {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return [];
  return keys
    .filter((key) => typeof (value as Record<string, unknown>)[key] !== "string")
    .map((key) => ({ path: [...at, key], message: "is required: OpenAPI requires it, as a string" }));
}

/**
 * Builds the document. `serverUrl` is used when no `servers` are configured; no options are the defaults.
 * @throws {ValidationError} a `spec` without its `routes` list, or `info` or `servers` OpenAPI would not
 *   take (as `eventFlowsRoutes` checks them).
 */
export function openApiDocument(spec: DocumentSpec, given: OpenApiOptions, serverUrl: string): JsonSchema {
  const options = given ?? {};
  const issues = infoAndServersIssues(options, []);
  if (!Array.isArray((spec as Partial<DocumentSpec> | null | undefined)?.routes)) {
    issues.push({ path: ["spec", "routes"], message: "must be a list" });
  }
  if (issues.length > 0) throw new ValidationError("Invalid OpenAPI options", issues);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of spec.routes) {
    const path = `/${route.kind === "command" ? "commands" : "queries"}/${encodeURIComponent(route.type)}`;
    paths[path] =
      route.kind === "command"
        ? { post: operation(route, spec, "post") }
        : { ...getOperation(route, spec), post: operation(route, spec, "post") };
  }
  if (spec.health) Object.assign(paths, healthPaths(spec.healthAuth === true));
  const schemas: Record<string, JsonSchema> = { Problem: problemSchema };
  if (options.events !== undefined) {
    for (const event of eventJsonSchemas(options.events)) schemas[event.name] = event.schema;
  }
  const components: Record<string, unknown> = {
    schemas,
    responses: Object.fromEntries(
      Object.entries(problems).map(([name, { description }]) => [
        name,
        { description, content: { "application/problem+json": { schema: { $ref: "#/components/schemas/Problem" } } } },
      ]),
    ),
  };
  if (options.securitySchemes !== undefined) components.securitySchemes = options.securitySchemes;
  return {
    openapi: "3.1.0",
    info: options.info ?? { title: "EventFlows API", version: "1.0.0" },
    servers: options.servers ?? [{ url: serverUrl }],
    paths,
    components,
    ...(options.security === undefined ? {} : { security: options.security }),
  };
}

function operation(route: RouteDescription, spec: DocumentSpec, method: "get" | "post"): JsonSchema {
  const parameters: unknown[] = [correlationParameter(spec.correlationHeader)];
  if (route.kind === "command" && spec.idempotency) {
    parameters.push({
      name: IDEMPOTENCY_HEADER,
      in: "header",
      required: false,
      description: "Makes a retry return the first response instead of running the command again.",
      schema: idempotencyKeySchema,
    });
  }
  const op: Record<string, unknown> = {
    operationId: `${route.kind}_${route.type}${route.kind === "query" && method === "post" ? "_post" : ""}`,
    tags: route.tags ?? [route.kind === "command" ? "commands" : "queries"],
    parameters,
  };
  if (route.summary !== undefined) op.summary = route.summary;
  if (route.description !== undefined) op.description = route.description;
  if (route.deprecated === true) op.deprecated = true;
  if (method === "post") {
    op.requestBody = {
      required: !acceptsMissingBody(route.input),
      description: `JSON, at most ${spec.bodyLimit} bytes${spec.depthLimit === undefined ? "" : `, arrays and objects nested at most ${spec.depthLimit} deep`}.`,
      content: { "application/json": { schema: toJsonSchema(route.input) } },
    };
  }
  op.responses = responses(route, spec, method);
  return op;
}

function getOperation(route: RouteDescription, spec: DocumentSpec): Record<string, unknown> {
  const input = toJsonSchema(route.input);
  const properties = input.properties as Record<string, JsonSchema> | undefined;
  if (input.type !== "object" || properties === undefined) return {};
  const op = operation(route, spec, "get") as Record<string, unknown>;
  // A property only an object can fill cannot travel in a query string (the dispatcher reads each
  // parameter as text, with no bracket syntax), while OpenAPI's default for it, form and exploded,
  // sends the object's own keys as parameters: every GET built from such a document is refused. Then
  // the POST alone is documented (the GET route still answers, as to any request).
  if (!Object.values(properties).every(queryCanCarry)) return {};
  const required = new Set((input.required as string[] | undefined) ?? []);
  const queryParameters = Object.entries(properties).map(([name, schema]) => ({
    name,
    in: "query",
    required: required.has(name),
    // What a schema cannot say: the text of a number is read as one only up to this length.
    ...(admitsNumber(schema) ? { description: QUERY_NUMBER_NOTE } : {}),
    schema: withoutNull(schema),
    ...(schema.type === "array" ? { style: "form", explode: true } : {}),
  }));
  op.parameters = [...(op.parameters as unknown[]), ...queryParameters];
  return { get: op };
}

/**
 * Whether some value of this schema can be sent as query parameters: anything but an object or
 * `null` (a parameter's text is never converted to null), a list of them, or a union whose every
 * option is one of these.
 */
function queryCanCarry(schema: JsonSchema): boolean {
  const options = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (options !== undefined) return options.some(queryCanCarry);
  if (schema.allOf !== undefined) return (schema.allOf as JsonSchema[]).every(queryCanCarry);
  if (schema.type === "object" || schema.type === "null" || schema.const === null) return false;
  if (schema.type === "array") {
    const prefix = schema.prefixItems as JsonSchema[] | undefined;
    const items = schema.items as JsonSchema | false | undefined;
    return (prefix ?? []).every(queryCanCarry) && (items === undefined || items === false || queryCanCarry(items));
  }
  return true;
}

const QUERY_NUMBER_NOTE = `Text of more than ${MAX_NUMBER_TEXT_LENGTH} characters is never read as a number.`;

/** Whether a value of this schema may be a number (or a list holding numbers): its text is then read as one. */
function admitsNumber(schema: JsonSchema): boolean {
  const options = (schema.anyOf ?? schema.oneOf ?? schema.allOf) as JsonSchema[] | undefined;
  if (options !== undefined) return options.some(admitsNumber);
  const type = schema.type;
  if (type === "number" || type === "integer" || typeof schema.const === "number") return true;
  if (Array.isArray(schema.enum) && schema.enum.some((value) => typeof value === "number")) return true;
  if (type === "array") {
    const prefix = (schema.prefixItems as JsonSchema[] | undefined) ?? [];
    const items = schema.items as JsonSchema | false | undefined;
    return prefix.some(admitsNumber) || (typeof items === "object" && admitsNumber(items));
  }
  return false;
}

/**
 * A parameter's schema without `null`, which no query string carries (its text is never read as null):
 * documented, `v.nullable(v.number())` had testers send `?n=null`, which the route refuses.
 */
function withoutNull(schema: JsonSchema): JsonSchema {
  const { anyOf, items, prefixItems, default: fallback, ...out } = schema as Record<string, unknown>;
  if (fallback != null) out.default = fallback;
  // `false` (a strict tuple's) stays as it is.
  if (items !== undefined) out.items = items && withoutNull(items as JsonSchema);
  if (Array.isArray(prefixItems)) out.prefixItems = prefixItems.map(withoutNull);
  if (Array.isArray(anyOf)) {
    const kept = anyOf.filter((option) => option.type !== "null" && option.const !== null).map(withoutNull);
    if (kept.length === 1 && Object.keys(out).length === 0) return kept[0] as JsonSchema;
    out.anyOf = kept;
  }
  return out;
}

function responses(route: RouteDescription, spec: DocumentSpec, method: "get" | "post"): Record<string, unknown> {
  const echoed = {
    [spec.correlationHeader]: { description: "The request's correlation id", schema: { type: "string" } },
  };
  const success: Record<string, unknown> = {
    description: "The handler's result",
    headers:
      route.kind === "command" && spec.idempotency
        ? {
            ...echoed,
            [IDEMPOTENT_REPLAYED_HEADER]: {
              description: "`true` when this is the stored response of an earlier request with the same key",
              schema: { type: "string" },
            },
          }
        : echoed,
    content: { "application/json": { schema: route.output === undefined ? {} : toJsonSchema(route.output) } },
  };
  const out: Record<string, unknown> = {
    200: success,
    204: { description: "The handler returned nothing", headers: echoed },
    400: ref("BadRequest"),
  };
  // The tenant is resolved from the principal, or from the request without an auth hook: it may refuse too.
  if (spec.auth || spec.tenancy === true) {
    out[401] = ref("Unauthorized");
    out[403] = ref("Forbidden");
  }
  out[404] = ref("NotFound");
  if (route.kind === "command") {
    out[409] = ref("Conflict");
    out[410] = ref("Gone");
  }
  if (method === "post") {
    out[413] = ref("ContentTooLarge");
    out[415] = ref("UnsupportedMediaType");
  }
  if (route.kind === "command" && spec.idempotency) out[422] = ref("UnprocessableContent");
  if (route.kind === "command" && spec.tenancy === true) out[429] = ref("TooManyRequests");
  out[500] = ref("InternalError");
  out[503] = ref("ServiceUnavailable");
  return out;
}

function correlationParameter(header: string): JsonSchema {
  return {
    name: header,
    in: "header",
    required: false,
    description: "Correlation id for the events this request causes; a W3C traceparent's trace id is used otherwise.",
    schema: correlationIdSchema,
  };
}

// The header rules of ../http/correlation.ts and ./idempotency.ts, as patterns. The server trims
// the value (so does HTTP), reads an empty correlation header as absent (and refuses a comma in it:
// a header sent twice), and takes an
// Idempotency-Key either plain (no comma: several keys, a header sent twice) or as an RFC 8941 string in
// quotes (no quote inside): the patterns accept exactly that.
const VISIBLE_NOT_QUOTE = "[\\x21\\x23-\\x7e]";
const NOT_COMMA = "[\\x21-\\x2b\\x2d-\\x7e]";
const NOT_COMMA_OR_QUOTE = "[\\x21\\x23-\\x2b\\x2d-\\x7e]";
const correlationIdSchema: JsonSchema = {
  type: "string",
  maxLength: MAX_CORRELATION_ID_LENGTH,
  pattern: `^${NOT_COMMA}{0,${MAX_CORRELATION_ID_LENGTH}}$`,
};
const KEY = MAX_IDEMPOTENCY_KEY_LENGTH;
const idempotencyKeySchema: JsonSchema = {
  type: "string",
  minLength: 1,
  maxLength: KEY + 2,
  // One character; or not both quoted at the start and at the end; or a quoted key.
  pattern: `^(?:${NOT_COMMA}|${NOT_COMMA_OR_QUOTE}${NOT_COMMA}{1,${KEY - 1}}|"${NOT_COMMA}{0,${KEY - 2}}${NOT_COMMA_OR_QUOTE}|"${VISIBLE_NOT_QUOTE}{1,${KEY}}")$`,
};

function healthPaths(guarded: boolean): Record<string, unknown> {
  const ok = {
    description: "OK",
    content: { "application/json": { schema: { type: "object", properties: { status: { const: "ok" } } } } },
  };
  // Open probes need no credentials whatever the document's `security`; guarded ones take it, and may refuse.
  const access = guarded ? {} : { security: [] };
  const refusals = guarded ? { 401: ref("Unauthorized"), 403: ref("Forbidden") } : {};
  return {
    "/health/live": {
      get: { operationId: "health_live", tags: ["health"], ...access, responses: { 200: ok, ...refusals } },
    },
    "/health/ready": {
      get: {
        operationId: "health_ready",
        tags: ["health"],
        ...access,
        responses: { 200: ok, ...refusals, 503: ref("ServiceUnavailable") },
      },
    },
  };
}

function ref(name: string): JsonSchema {
  return { $ref: `#/components/responses/${name}` };
}
