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

/** An object whose `fields`, where present, are strings: a PutEvents entry's result (its event id, or its error). */
export const hasOptionalStrings =
  (...fields: string[]): FieldCheck =>
  (value) =>
    isObject(value) &&
    fields.every((field) => {
      const given = (value as Record<string, unknown>)[field];
      return given === undefined || typeof given === "string";
    });

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

/** An operation that pages: the request field that says where a page starts, the answer field where the next one does. */
export type Paging = readonly [startField: string, nextField: string];

/**
 * Whether an answer of a paging operation names as its next page the one the request started from: an
 * answer replayed by something in between, which a caller paging on from it would ask for again without end.
 */
export function pageRepeats(paging: Paging | undefined, input: unknown, answer: Record<string, unknown>): boolean {
  if (paging === undefined) return false;
  const start = (input as Record<string, unknown> | null)?.[paging[0]];
  const next = answer[paging[1]];
  return start !== undefined && next !== undefined && canonical(start) === canonical(next);
}

/** JSON text with the keys of every object sorted: the same key however its attributes are ordered. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_, v: unknown) =>
    isObject(v) ? Object.fromEntries(Object.entries(v as object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
