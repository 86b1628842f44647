import { ValidationError } from "../../src/index.js";
import { canonical } from "./answer-shape.js";

/** How many next-page keys a trail holds exactly: a read of more pages than this has read about a GB. */
const HELD_KEYS = 1_024;

/**
 * The next-page keys one paged read (one query, paged on with `ExclusiveStartKey`) has been given, for the AWS
 * client to refuse an answer that names one of them again: a cycle (A, B, A, ...) of answers replayed by
 * something in between, which the check of one answer against its own request (`pageRepeats`) cannot see and a
 * reader would page through without end. DynamoDB never names a page twice in one read.
 *
 * Cheap and bounded: the first {@link HELD_KEYS} keys are held exactly, so a cycle among them is caught at its
 * first repeat; past them only one key is kept (Brent's method: replaced after 1, 2, 4, ... further pages), so a
 * longer or later cycle is still caught, within twice as many pages as its start and length, in constant memory.
 * Make one per read, and a new one when the read starts its query over (another bound, a restart after a gap):
 * that query may legitimately name the same keys again.
 */
export class PageTrail {
  readonly #held = new Set<string>();
  #kept: string | undefined;
  #steps = 0;
  #power = 1;

  /**
   * Whether `next` (a next-page key of an answer) is one this read was given already.
   * @throws {ValidationError} `next` is not JSON (a BigInt, a cycle, undefined): no answer gives such a key.
   */
  repeats(next: unknown): boolean {
    const key = keyOf(next);
    return this.#held.has(key) || key === this.#kept;
  }

  /**
   * Records `next`, the next-page key of an answer the read takes.
   * @throws {ValidationError} `next` is not JSON, as for {@link PageTrail.repeats}; nothing is recorded.
   */
  record(next: unknown): void {
    const key = keyOf(next);
    if (this.#held.size < HELD_KEYS) {
      this.#held.add(key);
      return;
    }
    if (this.#kept === undefined || ++this.#steps === this.#power) {
      this.#kept = key;
      this.#power *= 2;
      this.#steps = 0;
    }
  }
}

/**
 * `next` as canonical JSON text. The client passes keys parsed from an answer, always JSON; a caller of the
 * public export may not: a BigInt made JSON.stringify throw its TypeError, a cycle the stack's RangeError, and
 * undefined (no text at all) matched the empty kept key, a repeat on a fresh trail. That is the caller's mistake:
 * a ValidationError (not a MalformedResponse, which blames an answer), without the value or the runtime's message.
 */
function keyOf(next: unknown): string {
  let key: string | undefined;
  try {
    // The plain text first: it refuses a cycle at once, where canonical's sorted copies hide the cycle from
    // JSON.stringify, which then recursed until the stack ran out (a RangeError after 5 s on Bun).
    key = JSON.stringify(next) === undefined ? undefined : canonical(next);
  } catch {
    key = undefined;
  }
  if (typeof key === "string") return key;
  throw new ValidationError("Invalid PageTrail argument", [
    {
      path: ["next"],
      message: "must be a next-page key as an answer gives it: JSON, not a BigInt, a cycle or undefined",
    },
  ]);
}
