/**
 * Reading the admin API's inputs: query parameters and JSON bodies, each checked and bounded, every
 * problem a `ValidationError` (400) naming the parameter.
 */
import {
  assertKnownOptions,
  type Issue,
  MAX_STREAM_ID_LENGTH,
  nameIssues,
  ValidationError,
} from "../../../src/index.js";

/** The most items a page of the feed, a stream or the streams list holds. */
export const MAX_PAGE = 200;

/** A non-negative integer parameter, or `undefined` when absent or empty. */
export function integerParam(
  params: URLSearchParams,
  name: string,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const text = singleParam(params, name);
  if (text === null || text === "") return undefined;
  if (!/^\d{1,16}$/.test(text)) throw invalid(name, `${name} must be an integer from ${min} to ${max}`);
  return bounded(Number(text), name, min, max);
}

/** A required, non-empty text parameter of at most `maxLength` characters. */
export function textParam(params: URLSearchParams, name: string, maxLength = 1000): string {
  const text = singleParam(params, name);
  if (text === null || text === "") throw invalid(name, `${name} is required`);
  if (text.length > maxLength) throw invalid(name, `${name} is longer than ${maxLength} characters`);
  return text;
}

/** A required stream id parameter, checked as the stores check ids: their refusal named no parameter. */
export function streamIdParam(params: URLSearchParams, name: string): string {
  const id = singleParam(params, name);
  if (id === null || id === "") throw invalid(name, `${name} is required`);
  return streamIdOf(id, name);
}

/**
 * A stream id, or a 400 naming `name`: the stores' own bound (MAX_STREAM_ID_LENGTH, not the UI's 1,000)
 * and rules, so an id no store takes never reaches one.
 */
export function streamIdOf(id: unknown, name: string): string {
  const issues = nameIssues(id, name, MAX_STREAM_ID_LENGTH, [name]);
  if (issues.length > 0) throw new ValidationError(`Invalid ${name}`, issues);
  return id as string;
}

/**
 * A parameter's one value, or `null` when absent. Given twice (`id=a&id=b`) it names nothing: refused,
 * as the command routes refuse a repeated scalar, rather than read as whichever a proxy or log did not.
 */
export function singleParam(params: URLSearchParams, name: string): string | null {
  const values = params.getAll(name);
  if (values.length > 1) throw invalid(name, `${name} must be given once`);
  return values[0] ?? null;
}

/**
 * The body's fields, which must be an object of the `known` keys only: an action ignoring a misspelt
 * key would do more than asked (a replay without its `stream` reads the whole feed).
 */
export function objectBody(value: unknown, known: readonly string[]): Readonly<Record<string, unknown>> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ValidationError("Invalid request body", [{ path: [], message: "the body must be a JSON object" }]);
  }
  assertKnownOptions(value, known, "request body");
  return value as Record<string, unknown>;
}

export function bodyText(body: Readonly<Record<string, unknown>>, name: string, required: true): string;
export function bodyText(body: Readonly<Record<string, unknown>>, name: string, required: false): string | undefined;
export function bodyText(body: Readonly<Record<string, unknown>>, name: string, required: boolean): string | undefined {
  const value = body[name];
  if (value === undefined && !required) return undefined;
  if (typeof value !== "string" || value.length === 0) throw invalid(name, `${name} must be a non-empty string`);
  if (value.length > 1000) throw invalid(name, `${name} is longer than 1000 characters`);
  return value;
}

export function bodyInteger(body: Readonly<Record<string, unknown>>, name: string): number | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(name, `${name} must be a non-negative integer`);
  }
  return value;
}

export function bodyBoolean(body: Readonly<Record<string, unknown>>, name: string): boolean {
  const value = body[name];
  // Required: a replay writes only when told so in as many words.
  if (typeof value !== "boolean") throw invalid(name, `${name} must be true or false`);
  return value;
}

function bounded(value: number, name: string, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(name, `${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function invalid(name: string, message: string): ValidationError {
  const issue: Issue = { path: [name], message };
  return new ValidationError(`Invalid ${name}`, [issue]);
}
