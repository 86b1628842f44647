import { keepableText } from "../internal/unicode.js";
import { kindOf } from "../internal/validate.js";
import { redactText } from "../logging/redaction.js";
import { MAX_SAGA_ID_LENGTH } from "./saga-store.js";
import type { SagaCommit, SagaRecord } from "./types.js";

/** The instance as it is, for a commit that changes only its status. */
export function carry(record: SagaRecord): SagaCommit {
  return {
    saga: record.saga,
    key: record.key,
    expectedVersion: record.version,
    state: record.state,
    status: record.status,
    step: record.step,
    compensations: record.compensations,
    attention: record.attention,
  };
}

/**
 * Name, code and message: what an operator needs, without a stack or a payload, credentials masked
 * (`redactText`, as logs mask them: the record is read by operators and kept), cut to 2,000
 * characters and kept as every saga store can (see {@link keepableText}), so that the instance can
 * still be parked and the failure recorded.
 */
export function describe(error: unknown): string {
  try {
    if (error instanceof Error) {
      const code = (error as { code?: unknown }).code;
      return keepableText(
        redactText(`${error.name}${typeof code === "string" ? ` (${code})` : ""}: ${error.message}`),
        2000,
      );
    }
    return keepableText(redactText(String(error)), 2000);
  } catch {
    // Thrown values with no text (an object without a prototype, a getter that throws): the record
    // and the parking must still be written.
    return "a thrown value that cannot be turned into text";
  }
}

/**
 * An event id, event type or key as a failure record keeps it: the step may have failed because the
 * store cannot keep the text as it is (U+0000, a lone surrogate, over the handled-id length), and the
 * record must still be written. Ids a store can keep (at most 2,048 characters) are unchanged; an id that
 * is not a string at all (an event from an untyped source) is recorded as its {@link textOf} form.
 */
export function recordedText(text: unknown): string {
  return keepableText(textOf(text), MAX_SAGA_ID_LENGTH);
}

/**
 * A value's `String` form, or its kind (`object`) when it has none: JSON from a queue can hold
 * `{"id": {"toString": 0}}`, on which `String()` and a template literal throw, and a failed step
 * must still be reported, recorded and answered, never thrown.
 */
export function textOf(value: unknown): string {
  try {
    return String(value);
  } catch {
    return kindOf(value);
  }
}
