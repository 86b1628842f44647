/**
 * The shared half of every `option-keys.test.ts` (the core's and each adapter's): an entry's option
 * object refuses a key it does not take with one `ValidationError` issue at that key's path.
 */
import { expect } from "bun:test";
import fc from "fast-check";
import { isValidationError, type ValidationError } from "../../src/index.js";

/** An entry built from valid options plus `extra`: `keys` are those it takes, `at` the path its options sit under. */
export interface OptionBuilder {
  readonly keys: readonly string[];
  readonly at?: string;
  readonly build: (extra: object) => unknown;
  /** The valid options would reach a service (a query): only the refusals are built. */
  readonly reaches?: true;
}

/** The paths of the ValidationError `build` throws (or rejects with); fails the test on any other outcome. */
export async function refusedPaths(build: () => unknown): Promise<string[]> {
  let caught: unknown;
  try {
    await build();
  } catch (error) {
    caught = error;
  }
  expect(isValidationError(caught)).toBe(true);
  return (caught as ValidationError).issues.map((issue) => issue.path.join("."));
}

/**
 * Each entry builds from its valid options, and refuses any generated key it does not take with one
 * issue naming it (25 keys each). `__proto__` is left to the entries' own cases where noted: as a
 * spread key it is an own property for some builders and the prototype for others.
 */
export async function expectOtherKeysRefused(
  builders: Readonly<Record<string, OptionBuilder>>,
  options: { readonly skipProto?: boolean } = {},
): Promise<void> {
  for (const { keys, at = "", build, reaches } of Object.values(builders)) {
    // The valid options build: what follows fails on the unknown key alone.
    if (reaches === undefined) await build({});
    await fc.assert(
      fc.asyncProperty(
        fc
          .string({ minLength: 1, maxLength: 12 })
          .filter((key) => !keys.includes(key) && !(options.skipProto === true && key === "__proto__")),
        async (key) => {
          expect(await refusedPaths(() => build({ [key]: 1 }))).toEqual([`${at}${key}`]);
        },
      ),
      { numRuns: 25 },
    );
  }
}
