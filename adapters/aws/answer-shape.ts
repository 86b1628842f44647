/**
 * What the library reads of a service's answers, by field: an answer whose field has another kind came from
 * something in between (a proxy, a wrong endpoint), not from the service, and read on it was a TypeError deep
 * in a store, a string's characters taken for items, or a paging key that never ended a loop. Only the fields
 * the library reads are checked, and only their kind: a field that is absent is the service saying "none".
 */

/** A check of one field's value, which is present (not undefined). */
export type FieldCheck = (value: unknown) => boolean;

/** The fields of a service's answers the library reads, with the kind each must have when present. */
export type AnswerShape = Readonly<Record<string, FieldCheck>>;

export const isObject: FieldCheck = (value) => typeof value === "object" && value !== null && !Array.isArray(value);

export const isListOf =
  (item: FieldCheck): FieldCheck =>
  (value) =>
    Array.isArray(value) && value.every(item);

export const isMapOf =
  (entry: FieldCheck): FieldCheck =>
  (value) =>
    isObject(value) && Object.values(value as object).every(entry);

/** An object whose `fields` are all strings: an SQS message's id, receipt handle and body. */
export const hasStrings =
  (...fields: string[]): FieldCheck =>
  (value) =>
    isObject(value) && fields.every((field) => typeof (value as Record<string, unknown>)[field] === "string");

/**
 * The first field of `answer` (a JSON object) that `shape` holds of another kind, or undefined. Names the
 * field, never its value: the value is the answer's body.
 */
export function malformedField(shape: AnswerShape | undefined, answer: Record<string, unknown>): string | undefined {
  if (shape === undefined) return undefined;
  for (const [field, check] of Object.entries(shape)) {
    const value = answer[field];
    if (value !== undefined && !check(value)) return field;
  }
  return undefined;
}
