import type { BaseIssue } from "valibot";
import type { Issue } from "../errors.js";
import { toIssue } from "../messaging/middleware.js";
import type { StandardIssue, StandardSchema } from "./types.js";

/**
 * Checks `value` against a Standard Schema and returns its problems as our issues, under `path`.
 * valibot's issues get the readable messages command validation gives (`toIssue`); other libraries'
 * keep their own. Returns a promise only for a schema that validates asynchronously.
 */
export function schemaIssues(
  schema: StandardSchema,
  value: unknown,
  path: readonly (string | number)[],
): Issue[] | Promise<Issue[]> {
  const result = schema["~standard"].validate(value);
  if (result instanceof Promise) return result.then((settled) => mapIssues(settled.issues, path));
  return mapIssues(result.issues, path);
}

function mapIssues(issues: readonly StandardIssue[] | undefined, path: readonly (string | number)[]): Issue[] {
  if (issues === undefined) return [];
  return issues.map((issue) => {
    const mapped = "kind" in issue ? toIssue(issue as unknown as BaseIssue<unknown>) : standardIssue(issue);
    return { path: [...path, ...mapped.path], message: mapped.message };
  });
}

function standardIssue(issue: StandardIssue): Issue {
  const path = (issue.path ?? []).map((item) => {
    const key = typeof item === "object" && item !== null ? item.key : item;
    return typeof key === "number" ? key : String(key);
  });
  return { path, message: issue.message };
}
