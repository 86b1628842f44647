import { type BaseIssue, type BaseSchema, safeParse } from "valibot";
import { type Issue, ValidationError } from "../errors.js";
import { conflictRetry, retryConflicts } from "../internal/conflict-retry.js";
import { objectShapeCheck } from "../internal/object-shape.js";
import { assertKnownOptions, kindOf } from "../internal/validate.js";
import { getLogger } from "../logging/library-logger.js";
import type { Logger } from "../logging/logger.js";
import { redactText } from "../logging/redaction.js";
import type { Message, MessageMap, PayloadOf } from "./message.js";
import { MIDDLEWARE_STEP, type Middleware, type SteppedMiddleware } from "./message-bus.js";

// biome-ignore lint/suspicious/noExplicitAny: a schema of any input and output
export type AnySchema = BaseSchema<unknown, any, BaseIssue<unknown>>;

/**
 * A schema per message type whose output is that type's payload: with a message map
 * (`PayloadSchemas<Commands>`), a schema that produces something else is a compile error.
 */
export type PayloadSchemas<M extends MessageMap = MessageMap> = {
  // biome-ignore lint/suspicious/noExplicitAny: any input: the caller decides what arrives
  readonly [T in keyof M & string]?: BaseSchema<any, PayloadOf<M, T>, BaseIssue<unknown>>;
};

/**
 * Validates each payload with the valibot schema registered for its type, before the handler runs.
 * The handler receives the schema's output (so transforms and defaults apply). Types without a
 * schema pass through. Give the message map (`validation<Commands>({...})`) to check each schema's
 * output against its payload type. Schemas must be synchronous: the check runs inline. An array
 * where the schema wants an object (valibot's `object`, `looseObject`, `objectWithRest` and `record`
 * take one) is refused, as the HTTP routes refuse it: "must be an object, got an array", at its path.
 * @throws {ValidationError} at once, naming each entry that is not a synchronous valibot schema; at
 * dispatch, with one issue per problem valibot found.
 */
export function validation<M extends MessageMap = MessageMap>(schemas: PayloadSchemas<M>): Middleware {
  const table = schemaTable(schemas);
  // The whole check is synchronous: the bus runs it inline, as a step (see MIDDLEWARE_STEP).
  const step = (message: Message): void => {
    const entry = table.get(message.type);
    if (entry === undefined) return;
    // First: under an array valibot reads its inherited members as the object's fields, so its own
    // issues there say nothing useful (as in the HTTP dispatcher).
    const misplaced = entry.misplacedArrays?.(message.payload);
    if (misplaced !== undefined && misplaced.length > 0) {
      throw new ValidationError(`Invalid ${message.kind} "${message.type}"`, misplaced);
    }
    const parsed = safeParse(entry.schema, message.payload);
    if (!parsed.success) {
      throw new ValidationError(`Invalid ${message.kind} "${message.type}"`, parsed.issues.map(toIssue));
    }
    (message as { payload: unknown }).payload = parsed.output;
  };
  // Called as a plain middleware (outside a bus): the same check. Not `async`: returning `next()`'s
  // promise from an async function would cost two more microtask hops.
  const middleware: Middleware = (message, next) => {
    try {
      step(message);
    } catch (error) {
      return Promise.reject(error);
    }
    return next();
  };
  return Object.assign(middleware, { [MIDDLEWARE_STEP]: step }) satisfies SteppedMiddleware;
}

/** A type's schema and, when it holds an object, its check for arrays in an object's place. */
interface SchemaEntry {
  readonly schema: AnySchema;
  readonly misplacedArrays: ((payload: unknown) => readonly Issue[]) | undefined;
}

/**
 * The schemas by message type, checked once: each must be a synchronous valibot schema (an async one
 * would hand back a promise, which the synchronous check cannot await). A Map, so that a message type
 * named like an Object.prototype member (`toString`) finds no schema it was not given. Each schema's
 * walk for misplaced arrays is decided here, once, not per message.
 * @throws {ValidationError} naming each type whose entry is not a synchronous valibot schema.
 */
function schemaTable(schemas: unknown): ReadonlyMap<string, SchemaEntry> {
  if (typeof schemas !== "object" || schemas === null) {
    throw new ValidationError("Invalid validation schemas", [
      { path: [], message: `must be an object of valibot schemas by message type, got ${kindOf(schemas)}` },
    ]);
  }
  const table = new Map<string, SchemaEntry>();
  const issues: Issue[] = [];
  for (const [type, schema] of Object.entries(schemas)) {
    if (schema === undefined) continue;
    const candidate = schema as { kind?: unknown; async?: unknown; "~run"?: unknown } | null;
    if (typeof candidate !== "object" || candidate?.kind !== "schema" || typeof candidate["~run"] !== "function") {
      issues.push({ path: [type], message: `must be a valibot schema, got ${kindOf(schema)}` });
    } else if (candidate.async === true) {
      issues.push({
        path: [type],
        message:
          "is an async schema (objectAsync, pipeAsync, …); validation() checks synchronously: give a synchronous one",
      });
    } else {
      table.set(type, { schema: schema as AnySchema, misplacedArrays: objectShapeCheck(schema) });
    }
  }
  if (issues.length > 0) throw new ValidationError("Invalid validation schemas", issues);
  return table;
}

/**
 * valibot's issue (with its `path` of items) as our {@link Issue}. A schema's own message is kept;
 * valibot's default ones ("Invalid length: Expected >=1 but received 0") become sentences that say
 * what is wanted ("must be at least 1 characters long, got 0").
 */
export function toIssue(issue: BaseIssue<unknown>): Issue {
  const path = (issue as { path?: unknown } | null)?.path;
  if (typeof issue !== "object" || issue === null || (path !== undefined && !Array.isArray(path))) {
    throw new ValidationError("Invalid toIssue argument", [
      { path: [], message: `must be a valibot issue (with an optional path array), got ${kindOf(issue)}` },
    ]);
  }
  return issueOf(issue, true);
}

/**
 * @internal `toIssue`, or with `quoteReceived: false` without what was received (", got 0"): for
 * stored data, which may be personal and must not reach logs through an error.
 */
export function issueOf(issue: BaseIssue<unknown>, quoteReceived: boolean): Issue {
  const path = (issue.path ?? []).map((item) => {
    const key = (item as { key?: unknown } | null)?.key;
    return typeof key === "number" ? key : textOf(key);
  });
  return { path, message: readableMessage(issue, quoteReceived) };
}

// valibot's default message; any other message was written by the schema's author and is kept,
// except on stored data (quoteReceived false): there the author's message may quote the value
// (`v.email((issue) => \`${issue.input} is not an email\`)`), so ours, which never does, replaces it.
const DEFAULT_MESSAGE = /^Invalid [^:]+: (?:Expected [\s\S]* but r|R)eceived /;

// Every issue gets a message: one given to `toIssue` by hand may lack any field valibot's have (a
// message, a type, what was received), and then says what it can ("is invalid" when nothing).
function readableMessage(issue: BaseIssue<unknown>, quoteReceived: boolean): string {
  const message = typeof issue.message === "string" ? issue.message : "";
  const ours = DEFAULT_MESSAGE.test(message);
  if (!ours && quoteReceived && message.trim() !== "") return message;
  const got = quoteReceived && typeof issue.received === "string" ? `, got ${clip(issue.received)}` : "";
  const type = typeof issue.type === "string" ? issue.type : "";
  const expected = typeof issue.expected === "string" ? issue.expected : null;
  // valibot's schema issues always say what was expected; a hand-made one without it says what the rest can.
  if (issue.kind === "schema" && expected !== null) {
    // A key missing (expected: the key, quoted) or not allowed (expected: never) in an object schema.
    const key = ours
      ? message.startsWith("Invalid key:")
      : type.endsWith("object") && (expected === "never" || expected.startsWith('"'));
    if (key) return issue.received === "undefined" ? "is required" : "is not allowed here";
    return `must be ${describeExpected(expected)}${got}`;
  }
  const requirement = issue.requirement as unknown;
  const wanted = requirement instanceof RegExp ? String(requirement) : clip(textOf(requirement));
  const length = (bound: string) =>
    typeof issue.input === "string"
      ? `must be ${bound} ${wanted} characters long${got}`
      : `must have ${bound} ${wanted} items${got}`;
  switch (issue.type) {
    case "min_length":
      return length("at least");
    case "max_length":
      return length("at most");
    case "length":
      return length("exactly");
    case "non_empty":
      return "must not be empty";
    case "min_value":
      return `must be at least ${wanted}${got}`;
    case "max_value":
      return `must be at most ${wanted}${got}`;
    case "integer":
      return `must be an integer${got}`;
    case "regex":
      return `must match ${wanted}${got}`;
    case "email":
      return `must be an email address${got}`;
    case "url":
      return `must be a URL${got}`;
    case "uuid":
      return `must be a UUID${got}`;
    case "ulid":
      return `must be a ULID${got}`;
    default:
      if (type === "") return `is invalid${got}`;
      return `fails the ${type.replaceAll("_", " ")} check${expected === null ? "" : ` (expected ${clip(expected)})`}${got}`;
  }
}

function describeExpected(expected: string): string {
  switch (expected) {
    case "string":
    case "number":
    case "boolean":
    case "bigint":
    case "symbol":
    case "function":
      return `a ${expected}`;
    case "Object":
      return "an object";
    case "Array":
      return "an array";
    case "Date":
      return "a Date";
    default:
      return expected.includes(" | ") ? `one of ${clip(expected.replace(/^\((.*)\)$/, "$1"))}` : clip(expected);
  }
}

/** `String(value)`, or "?" for a value that has none (an object without a prototype). */
function textOf(value: unknown): string {
  try {
    return String(value);
  } catch {
    return "?";
  }
}

// Received values go into messages that can reach HTTP clients and logs: never a whole payload.
function clip(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

export interface RetryOptions {
  /**
   * Attempts in all, the first included. Defaults to 6: with the default backoff, enough for ten
   * concurrent commands updating one aggregate on PostgreSQL to all get through.
   */
  readonly maxAttempts?: number;
  /** Base delay before a retry; doubled each time, with full jitter. Defaults to 10 ms; 0 retries at once. */
  readonly baseDelayMs?: number;
}

const RETRY_OPTIONS = ["maxAttempts", "baseDelayMs"] as const satisfies readonly (keyof RetryOptions)[];

/**
 * Runs the rest of the pipeline again when it throws a {@link ConcurrencyError}: the handler reloads
 * its aggregate and decides again. The last error is rethrown once attempts run out. The same retry
 * and defaults as `AggregateRepository.update`.
 */
export function retryOnConcurrency(given?: RetryOptions | null): Middleware {
  // A misspelt `maxAttempts` was dropped: the defaults (6 attempts) ran where the caller asked for others.
  // Checked first, as it also refuses options whose keys cannot be read, before their fields are.
  assertKnownOptions(given, RETRY_OPTIONS, "retry options");
  const retry = conflictRetry(given ?? {}, "retry options");
  return (_message, next) => retryConflicts(retry, () => next());
}

/**
 * Logs each dispatch's type, id, correlation and causation ids, duration and outcome, as structured
 * fields. Never logs payloads. Writes to `logger` (only its `info` and `error` are used), else to the
 * library's logger (see `setLogger`) as it is at each dispatch.
 */
export function logging(logger?: Pick<Logger, "info" | "error">): Middleware {
  // Taken, `logging("console")` or a logger without `error` logged nothing, failures included.
  const given = logger as { info?: unknown; error?: unknown } | undefined | null;
  if (given !== undefined && (typeof given?.info !== "function" || typeof given.error !== "function")) {
    throw new ValidationError("Invalid logging middleware", [
      { path: ["logger"], message: `must be a logger with info and error methods, got ${kindOf(logger)}` },
    ]);
  }
  return async (message, next) => {
    const log = logger ?? getLogger();
    const started = performance.now();
    const fields = () => ({
      kind: message.kind,
      type: message.type,
      id: message.id,
      correlationId: message.metadata.correlationId,
      causationId: message.metadata.causationId,
      durationMs: Math.round((performance.now() - started) * 1000) / 1000,
    });
    let result: unknown;
    try {
      result = await next();
    } catch (error) {
      observe(() => log.error(`${message.kind} ${message.type} failed`, { ...fields(), error: describeError(error) }));
      throw error;
    }
    observe(() => log.info(`${message.kind} ${message.type} handled`, fields()));
    return result;
  };
}

/**
 * Runs a log call that only observes: a logger that throws (a closed sink) must not turn a command
 * that ran into a failure its caller would retry, nor replace the error a failed one has.
 */
function observe(write: () => void): void {
  try {
    write();
  } catch {
    // The logger is what failed: there is nowhere left to report it.
  }
}

/**
 * The error's `code` when it has one, else its text; never a throw (a null-prototype object, a throwing toString).
 * Masked as the library's loggers mask text (a connection URL's password, a `password=` pair): a logger given
 * here is the caller's own, which may write the field as it comes, and it comes as text, not as the error.
 */
function describeError(error: unknown): string {
  try {
    const code = (error as { code?: unknown })?.code;
    return redactText(typeof code === "string" ? code : String(error));
  } catch {
    return Object.prototype.toString.call(error);
  }
}
