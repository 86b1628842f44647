import { ValidationError } from "../errors.js";
import { assertStreamId, kindOf, MAX_STREAM_ID_LENGTH, nameIssues } from "../internal/validate.js";

/**
 * Stream names are `<category>-<id>`, e.g. `Order-01J9Z…`. The category is everything before the
 * first `-`, so categories must not contain one; ids may.
 */
export const STREAM_SEPARATOR = "-";

/**
 * Why a category that holds the separator is refused (projections, live filters, retention, snapshot
 * declarations): the category ends at a stream id's first `-`, so `Cart-1` is a stream, and as a
 * category it would match nothing. `advice` says what to do instead where the caller knows it: only
 * filters take a `streams` list, so naming it elsewhere pointed at an option that does not exist.
 */
export function categorySeparatorIssue(category: string, advice: string): string | undefined {
  return category.includes(STREAM_SEPARATOR)
    ? `a category holds no "${STREAM_SEPARATOR}" ("${STREAM_SEPARATOR}" ends it): ${advice}`
    : undefined;
}

export function streamName(category: string, id: string): string {
  assertCategory(category);
  const idIssues = nameIssues(id, "the id", MAX_STREAM_ID_LENGTH);
  if (idIssues.length > 0) throw new ValidationError("Invalid stream id", idIssues);
  const name = `${category}${STREAM_SEPARATOR}${id}`;
  assertStreamId(name);
  return name;
}

/**
 * Splits a stream name into its category and id. A name without a separator is all category.
 * @throws {ValidationError} `name` is not a string.
 */
export function parseStreamName(name: string): { category: string; id: string } {
  assertString(name);
  const at = name.indexOf(STREAM_SEPARATOR);
  return at < 0 ? { category: name, id: "" } : { category: name.slice(0, at), id: name.slice(at + 1) };
}

/** @throws {ValidationError} `streamId` is not a string. */
export function categoryOf(streamId: string): string {
  assertString(streamId);
  const at = streamId.indexOf(STREAM_SEPARATOR);
  return at < 0 ? streamId : streamId.slice(0, at);
}

/** The streams of one aggregate type. */
export interface EventStream {
  readonly category: string;
  /** The stream name for an aggregate id. */
  name(id: string): string;
  /** The aggregate id in a stream name of this category; throws {@link ValidationError} for another category. */
  idOf(streamId: string): string;
  /** Whether a stream name belongs to this category. */
  matches(streamId: string): boolean;
}

/** @example const Orders = defineStream("Order"); Orders.name(id) // "Order-<id>" */
export function defineStream(category: string): EventStream {
  assertCategory(category);
  const prefix = `${category}${STREAM_SEPARATOR}`;
  return {
    category,
    name: (id) => streamName(category, id),
    matches: (streamId) =>
      typeof streamId === "string" && streamId.startsWith(prefix) && streamId.length > prefix.length,
    idOf(streamId) {
      if (typeof streamId !== "string" || !streamId.startsWith(prefix) || streamId.length === prefix.length) {
        // kindOf: a long name is described by its length, not echoed.
        throw new ValidationError(`Stream ${kindOf(streamId)} is not in category "${category}"`);
      }
      return streamId.slice(prefix.length);
    },
  };
}

function assertString(streamId: unknown): asserts streamId is string {
  if (typeof streamId !== "string") {
    throw new ValidationError("Invalid stream id", [
      { path: [], message: `stream id must be a string, got ${kindOf(streamId)}` },
    ]);
  }
}

function assertCategory(category: unknown): asserts category is string {
  const issues = nameIssues(category, "the category", MAX_STREAM_ID_LENGTH);
  if (issues.length === 0 && (category as string).includes(STREAM_SEPARATOR)) {
    issues.push({
      path: [],
      message: `${kindOf(category)} contains "${STREAM_SEPARATOR}", which separates a stream's category from its id`,
    });
  }
  if (issues.length > 0) throw new ValidationError("Invalid stream category", issues);
}
