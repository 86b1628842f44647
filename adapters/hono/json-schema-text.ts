/**
 * Text rules of the valibot → JSON Schema converter, where the two count differently. valibot's
 * `minLength`/`maxLength` count UTF-16 code units (`string.length`); JSON Schema's count code points,
 * so a character outside the Basic Multilingual Plane (an emoji) is 2 for valibot and 1 for JSON
 * Schema. The document must not accept what the server refuses, so lengths are written in a form
 * that holds under both counts: exact for text without such characters, conservative otherwise.
 */
/** A JSON Schema node, as plain data. */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** Any one character of the Basic Multilingual Plane: what one UTF-16 unit holds. */
export const BMP_ONLY_PATTERN = "^[\\u0000-\\uFFFF]*$";

/**
 * The JSON Schema keywords for "at most `max` UTF-16 units". `maxLength: max` alone would accept
 * `max` emoji (2 units each); so unless the text is known to hold BMP characters only, a string also
 * has to be either at most `max / 2` code points long (then it has at most `max` units whatever it
 * holds) or made of BMP characters only (then units and code points are the same count).
 */
export function maxUnits(max: number, bmpOnly: boolean): JsonSchema {
  if (bmpOnly || max < 2) return { maxLength: max };
  return { maxLength: max, anyOf: [{ maxLength: Math.floor(max / 2) }, { pattern: BMP_ONLY_PATTERN }] };
}

/**
 * Whether every string the regex accepts is made of BMP characters, so that valibot's lengths and
 * JSON Schema's agree. Conservative: `true` only for an anchored pattern (`^…$`, no `|`, no `m` flag)
 * written in ASCII, without the `u`/`v` flags, in which no atom can match half of a surrogate pair
 * (no `.`, negated classes, `\S`, `\W`, `\D`, `\u`/`\x` escapes). `^[A-Za-z0-9-]+$` qualifies.
 */
export function acceptsBmpOnly(regex: RegExp): boolean {
  if (/[uvm]/.test(regex.flags)) return false;
  const source = regex.source;
  if (!/^[\x20-\x7e]*$/.test(source)) return false;
  if (!source.startsWith("^") || !source.endsWith("$") || source.endsWith("\\$")) return false;
  if (source.includes("|") || source.includes("[^")) return false;
  // An unescaped `.` anywhere (inside a class it is literal, but ruling it out costs nothing).
  if (/(^|[^\\])(\\\\)*\./.test(source)) return false;
  return !/\\[SWDux]/.test(source);
}

// What `String.prototype.trim` removes: ECMAScript's WhiteSpace and LineTerminator characters, spelled
// out because `\s` differs between regex dialects (Python's includes \x1c-\x1f and \x85).
const SPACE = "\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff";
const NOT_SPACE = `[^${SPACE}]`;

/**
 * The pattern a request's text must match for `trim`, `trimStart` or `trimEnd` to leave it as it is:
 * the document asks for text without the surrounding whitespace those actions remove, so the checks
 * after them hold for the text as sent. `undefined` for any other transformation.
 */
export function untrimmedPattern(transformation: string): string | undefined {
  switch (transformation) {
    case "trim":
      return `^(?:${NOT_SPACE}(?:[\\s\\S]*${NOT_SPACE})?)?$`;
    case "trim_start":
      return `^(?:${NOT_SPACE}[\\s\\S]*)?$`;
    case "trim_end":
      return `^(?:[\\s\\S]*${NOT_SPACE})?$`;
    default:
      return undefined;
  }
}

/** `text` as a pattern that matches it literally. */
export function escapePattern(text: string): string {
  // Only syntax characters: other identity escapes are errors under the `u` flag validators use.
  return text.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}
