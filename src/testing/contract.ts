import { type Issue, ValidationError } from "../errors.js";
import { functionIssues, kindOf, unknownKeyIssues } from "../internal/validate.js";

/**
 * A contract suite is plain data: named cases, each an async function that throws on failure.
 * `registerContract` hands them to a test framework; `runContract` runs them anywhere, a Worker
 * included, and reports results.
 */
export interface ContractCase {
  readonly name: string;
  readonly run: () => Promise<void>;
  /** Per-case time limit for frameworks that take one. */
  readonly timeoutMs?: number;
}

export interface ContractSuite {
  readonly name: string;
  readonly cases: readonly ContractCase[];
}

/** The part of a test framework a contract needs: `describe` and `test` from bun:test, node:test, vitest. */
export interface TestFramework {
  describe(name: string, body: () => void): unknown;
  test(name: string, body: () => Promise<void>, timeoutMs?: number): unknown;
}

export function registerContract(suite: ContractSuite, framework: TestFramework): void {
  checkSuite(suite);
  if (typeof framework?.describe !== "function" || typeof framework.test !== "function") {
    throw new ValidationError("Invalid test framework", [
      { path: ["framework"], message: "must have the framework's describe and test functions" },
    ]);
  }
  framework.describe(suite.name, () => {
    for (const testCase of suite.cases) framework.test(testCase.name, testCase.run, testCase.timeoutMs ?? 30_000);
  });
}

export interface CaseResult {
  readonly suite: string;
  readonly name: string;
  readonly ok: boolean;
  readonly error?: string;
  readonly durationMs: number;
}

/** Runs every case in order and reports each; never throws for a failing case. */
export async function runContract(suite: ContractSuite): Promise<CaseResult[]> {
  checkSuite(suite);
  const results: CaseResult[] = [];
  for (const testCase of suite.cases) {
    const started = Date.now();
    try {
      await testCase.run();
      results.push({ suite: suite.name, name: testCase.name, ok: true, durationMs: Date.now() - started });
    } catch (error) {
      const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      results.push({
        suite: suite.name,
        name: testCase.name,
        ok: false,
        error: text,
        durationMs: Date.now() - started,
      });
    }
  }
  return results;
}

/** What a contract factory's options must hold, besides a `name`: its functions, required and optional. */
export interface ContractOptionsShape {
  readonly functions: readonly string[];
  readonly optionalFunctions?: readonly string[];
  /** Options that must be objects (the remote bus's `limits`). */
  readonly objects?: readonly string[];
  /** The factory's other options (flags, counts), which it checks itself: named so that no other key is taken. */
  readonly values?: readonly string[];
}

/**
 * The check every contract factory makes of its options before it builds a suite: a `name`, the
 * functions it calls (`create`, `open`, `forTenant`, ...), and no key it does not take. Without it, a missing `create` built a
 * suite whose every case failed with "options.create is not a function".
 * @throws {ValidationError} naming each option that is missing or of the wrong kind.
 */
export function checkContractOptions(factory: string, options: unknown, shape: ContractOptionsShape): void {
  if (typeof options !== "object" || options === null) {
    throw new ValidationError(`Invalid ${factory} options`, [
      {
        path: [],
        message: `expected an options object ({ name, ${shape.functions.join(", ")} }), got ${kindOf(options)}`,
      },
    ]);
  }
  const given = options as Record<string, unknown>;
  // A misspelt option was ignored: `holdComit` ran the suite without its held-commit cases, passing.
  const known = [
    "name",
    ...shape.functions,
    ...(shape.optionalFunctions ?? []),
    ...(shape.objects ?? []),
    ...(shape.values ?? []),
  ];
  const issues: Issue[] = unknownKeyIssues(given, known);
  if (typeof given.name !== "string" || given.name.length === 0) {
    issues.push({ path: ["name"], message: "must be a non-empty string naming the suite" });
  }
  for (const key of shape.functions) issues.push(...functionIssues(given[key], key, true));
  for (const key of shape.optionalFunctions ?? []) issues.push(...functionIssues(given[key], key));
  for (const key of shape.objects ?? []) {
    if (typeof given[key] !== "object" || given[key] === null) {
      issues.push({ path: [key], message: `must be an object, got ${kindOf(given[key])}` });
    }
  }
  if (issues.length > 0) throw new ValidationError(`Invalid ${factory} options`, issues);
}

/** A suite as the contract factories make it: a name and a list of cases, each a name and a function. */
function checkSuite(suite: ContractSuite): void {
  const given = suite as Partial<ContractSuite> | null | undefined;
  const cases = given?.cases;
  if (typeof given?.name === "string" && Array.isArray(cases)) {
    const bad = cases.findIndex((c) => typeof c?.name !== "string" || typeof c.run !== "function");
    if (bad === -1) return;
    throw new ValidationError("Invalid contract suite", [
      { path: ["cases", bad], message: "a case must have a name and a run function" },
    ]);
  }
  throw new ValidationError("Invalid contract suite", [
    { path: [], message: `expected what a contract factory returns ({ name, cases }), got ${kindOf(suite)}` },
  ]);
}
