import type { BaseIssue } from "valibot";
import { type Issue, ValidationError } from "../errors.js";
import { issueOf } from "../messaging/middleware.js";
import type { StandardIssue, StandardSchema } from "./types.js";

/**
 * Checks `value` against a Standard Schema and returns its problems as our issues, under `path`.
 * valibot's issues get the readable messages command validation gives (`toIssue`); other libraries'
 * keep their own. Returns a promise only for a schema that validates asynchronously. A schema that
 * throws (or rejects), or answers with something that is not a Standard Schema result, is reported
 * as a `ValidationError` naming it (`what`: `"CartOpened" v2`), its own error as the cause.
 * `quoteReceived: false` (stored data) leaves the received values out of valibot's messages.
 */
export function schemaIssues(
  schema: StandardSchema,
  value: unknown,
  path: readonly (string | number)[],
  what: string,
  quoteReceived = true,
): Issue[] | Promise<Issue[]> {
  let result: ReturnType<StandardSchema["~standard"]["validate"]>;
  try {
    result = schema["~standard"].validate(value);
  } catch (error) {
    throw schemaFailed(what, "threw", error);
  }
  if (result instanceof Promise) {
    return result.then(
      (settled) => mapIssues(settled, path, what, quoteReceived),
      (error: unknown) => {
        throw schemaFailed(what, "rejected", error);
      },
    );
  }
  return mapIssues(result, path, what, quoteReceived);
}

function mapIssues(result: unknown, path: readonly (string | number)[], what: string, quoteReceived: boolean): Issue[] {
  if (typeof result !== "object" || result === null) throw schemaFailed(what, "returned no result");
  const issues = (result as { issues?: unknown }).issues;
  if (issues === undefined) {
    // A Standard Schema's success is { value }: a result with neither (`{}`, `{ valid: true }`) has not
    // said the data is valid, and was taken as a pass, so data no check accepted was written.
    if (!("value" in result)) throw schemaFailed(what, "returned neither { value } nor { issues }");
    return [];
  }
  if (!Array.isArray(issues) || issues.some((issue) => typeof issue?.message !== "string")) {
    throw schemaFailed(what, "returned issues that are not a list of { message, path? }");
  }
  // A Standard Schema result with `issues` is a failure; with none in it, taken as no problem, data the
  // schema had failed was written. Failing closed names the schema instead.
  if (issues.length === 0) throw schemaFailed(what, "returned { issues: [] }, a failure without an issue");
  return (issues as StandardIssue[]).map((issue) => {
    const mapped =
      "kind" in issue ? issueOf(issue as unknown as BaseIssue<unknown>, quoteReceived) : standardIssue(issue);
    return { path: [...path, ...mapped.path], message: mapped.message };
  });
}

function standardIssue(issue: StandardIssue): Issue {
  const path = (Array.isArray(issue.path) ? issue.path : []).map((item) => {
    const key = typeof item === "object" && item !== null ? item.key : item;
    return typeof key === "number" ? key : String(key);
  });
  return { path, message: issue.message };
}

function schemaFailed(what: string, how: string, cause?: unknown): ValidationError {
  return new ValidationError(
    `The schema of ${what} failed`,
    [{ path: [], message: `its ~standard.validate ${how}: it must return { value } or { issues } (fix the schema)` }],
    cause === undefined ? undefined : { cause },
  );
}
