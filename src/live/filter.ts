import { type Issue, ValidationError } from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";
import { categoryOf, categorySeparatorIssue } from "../events/stream.js";
import {
  MAX_STREAM_ID_LENGTH,
  MAX_TYPE_LENGTH,
  nameIssues,
  objectIssues,
  unknownKeyIssues,
} from "../internal/validate.js";

/**
 * Which events a live subscriber receives. Each list that is present must match (streams, then
 * categories, then types are ANDed); within a list any entry matches. An empty filter matches every event.
 */
export interface LiveFilter {
  /** Exact stream ids (`Order-01J…`). */
  readonly streams?: readonly string[];
  /** Stream categories: the part of the stream id before the first `-` (`Order`). */
  readonly categories?: readonly string[];
  /** Event types (`OrderPlaced`). */
  readonly types?: readonly string[];
}

const FILTER_KEYS = ["streams", "categories", "types"] as const satisfies readonly (keyof LiveFilter)[];

/** The most entries a filter may list in all: a filter is checked against every event, for every subscriber. */
export const MAX_FILTER_ENTRIES = 100;
/** As long as what an entry names may be: any stream id (or its category, the whole id without a `-`), any type. */
const MAX_ENTRY_LENGTH = { streams: MAX_STREAM_ID_LENGTH, categories: MAX_STREAM_ID_LENGTH, types: MAX_TYPE_LENGTH };

export function matchesFilter(filter: LiveFilter, event: EventEnvelope): boolean {
  if (filter.streams !== undefined && !filter.streams.includes(event.streamId)) return false;
  if (filter.categories !== undefined && !filter.categories.includes(categoryOf(event.streamId))) return false;
  if (filter.types !== undefined && !filter.types.includes(event.type)) return false;
  return true;
}

/**
 * Reads a filter from query parameters: `stream`, `category` and `type`, each repeated or
 * comma-separated (`?category=Order,Cart&type=OrderPlaced`).
 * @throws {ValidationError} more than {@link MAX_FILTER_ENTRIES} entries, or an empty or overlong one.
 */
export function filterFromQuery(params: URLSearchParams): LiveFilter {
  const list = (name: string) => {
    const values = params.getAll(name).flatMap((value) => value.split(","));
    return values.length === 0 ? undefined : values;
  };
  return checkFilter({ streams: list("stream"), categories: list("category"), types: list("type") });
}

/** The query string of a filter, as {@link filterFromQuery} reads it. */
export function filterToQuery(filter: LiveFilter, params: URLSearchParams = new URLSearchParams()): URLSearchParams {
  for (const [name, values] of [
    ["stream", filter.streams],
    ["category", filter.categories],
    ["type", filter.types],
  ] as const) {
    for (const value of values ?? []) params.append(name, value);
  }
  return params;
}

/**
 * @throws {ValidationError} see {@link filterFromQuery}; an entry holding a comma, which the query form would
 * split; one no stream id or type can be (only whitespace, a control character, or a lone UTF-16 surrogate,
 * which the query form would also turn into U+FFFD), which would match nothing; an empty list, which it cannot carry
 * (sent as no list, it would match every event, not none); a key other than `streams`, `categories` and `types`.
 */
export function checkFilter(filter: LiveFilter): LiveFilter {
  const { issues, checked } = readFilter(filter, []);
  if (issues.length > 0) throw new ValidationError("Invalid live filter", issues);
  return checked;
}

/**
 * What {@link checkFilter} finds wrong with a filter, each issue under `at` (`["filter"]` for one given
 * among other options), and the filter it keeps (each list without repeats) when there is nothing.
 */
export function readFilter(
  filter: unknown,
  at: readonly (string | number)[],
): { issues: Issue[]; checked: LiveFilter } {
  const result: { streams?: string[]; categories?: string[]; types?: string[] } = {};
  // Not an object (a stream id given as the filter): read as no filter, it matched every event.
  const notObject = objectIssues(filter, at, true);
  if (notObject.length > 0) return { issues: notObject, checked: result };
  const given = filter as Record<keyof LiveFilter, unknown>;
  // A misspelt list (`type`) was no list: the filter matched every event.
  const issues: Issue[] = unknownKeyIssues(filter, FILTER_KEYS, at);
  const path = (key: string): (string | number)[] => [...at, key];
  let total = 0;
  for (const key of ["streams", "categories", "types"] as const) {
    const values = given[key];
    if (values === undefined) continue;
    if (!Array.isArray(values)) {
      issues.push({ path: path(key), message: `${key} must be a list of strings` });
      continue;
    }
    // The query form cannot carry an empty list: sent as none, it would match every event.
    if (values.length === 0) {
      issues.push({ path: path(key), message: `${key} must list at least one entry, or be left out to match any` });
      continue;
    }
    total += values.length;
    for (const value of values) {
      if (typeof value !== "string" || value.length === 0 || value.length > MAX_ENTRY_LENGTH[key]) {
        issues.push({
          path: path(key),
          message: `each of ${key} must be a string of 1 to ${MAX_ENTRY_LENGTH[key]} characters`,
        });
        break;
      }
      // What no stream id or type can be (only whitespace, a control character, a lone surrogate)
      // would match nothing, silently: refused by the rule names are held to.
      const [nameIssue] = nameIssues(value, `an entry of ${key}`, MAX_ENTRY_LENGTH[key], path(key));
      if (nameIssue !== undefined) {
        issues.push(nameIssue);
        break;
      }
      // The query form separates entries with commas: "Order-a,b" would reach the server as two entries,
      // and the subscriber would get the events of streams it never named.
      if (value.includes(",")) {
        issues.push({
          path: path(key),
          message: `an entry of ${key} cannot hold a comma (the query separates entries with it)`,
        });
        break;
      }
      // "Order-1" as a category would match nothing, silently (see categorySeparatorIssue).
      const separator = key === "categories" ? categorySeparatorIssue(value, "list a stream under streams") : undefined;
      if (separator !== undefined) {
        issues.push({ path: path(key), message: separator });
        break;
      }
    }
    result[key] = [...new Set(values as string[])];
  }
  if (total > MAX_FILTER_ENTRIES) {
    issues.push({
      path: [...at],
      message: `a filter lists at most ${MAX_FILTER_ENTRIES} streams, categories and types`,
    });
  }
  return { issues, checked: result };
}
