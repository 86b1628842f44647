import { ValidationError } from "../errors.js";

// `String.prototype.isWellFormed` (ES2024) where the runtime has it; TypeScript's ES2023 lib does not declare it.
const native = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/**
 * Whether a string is well-formed UTF-16: no lone surrogate. A lone surrogate has no UTF-8 encoding,
 * so backends replace it (DynamoDB stores `?`) or refuse it (PostgreSQL jsonb), and two different
 * names would become one. Uses `isWellFormed` where the runtime has it.
 */
export const isWellFormed: (text: string) => boolean =
  native === undefined ? isWellFormedFallback : (text) => native.call(text);

/**
 * `isWellFormed` as the package exports it (`isWellFormedUnicode`): what is not a string is a
 * ValidationError, not the runtime's TypeError. The library's own checks call `isWellFormed`.
 */
export function isWellFormedUnicode(text: string): boolean {
  if (typeof text !== "string") throw notText("isWellFormedUnicode", [], text);
  return isWellFormed(text);
}

function notText(what: string, path: readonly number[], value: unknown): ValidationError {
  const kind = value === null ? "null" : typeof value;
  return new ValidationError(`Invalid ${what} argument`, [
    { path: [...path], message: `must be a string, got ${kind}` },
  ]);
}

/** The scan `isWellFormed` does, for runtimes without it. Exported for its tests. */
export function isWellFormedFallback(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0xd800 || code > 0xdfff) continue;
    // A high surrogate must be followed by a low one; a low one must never come first.
    if (code > 0xdbff) return false;
    const next = text.charCodeAt(i + 1);
    if (!(next >= 0xdc00 && next <= 0xdfff)) return false;
    i++;
  }
  return true;
}

/**
 * Text as every store keeps it, for records that describe rather than identify (a failure's event id,
 * an error message): cut to `max` characters, then U+0000 (which PostgreSQL text refuses) and lone
 * surrogates (no UTF-8 form; a cut may leave one) become U+FFFD.
 */
export function keepableText(text: string, max: number): string {
  const cut = text.length > max ? text.slice(0, max) : text;
  const formed = isWellFormed(cut) ? cut : replaceLoneSurrogates(cut);
  return formed.includes("\0") ? formed.replaceAll("\0", "\ufffd") : formed;
}

function replaceLoneSurrogates(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += text.slice(i, i + 2);
        i++;
        continue;
      }
      out += "\ufffd";
    } else out += code >= 0xdc00 && code <= 0xdfff ? "\ufffd" : String.fromCharCode(code);
  }
  return out;
}

export const LONE_SURROGATE = "contains a lone UTF-16 surrogate (ill-formed Unicode)";

/**
 * Orders strings by code point, as the backends order text (PostgreSQL's "C" collation, SQLite's
 * BINARY and DynamoDB compare UTF-8 bytes, which follow code points). JavaScript's `<` compares UTF-16
 * code units, which puts a character above U+FFFF (a surrogate pair, 0xD800-0xDFFF) before U+E000-U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  if (typeof a !== "string" || typeof b !== "string") {
    throw notText("compareCodePoints", [typeof a === "string" ? 1 : 0], typeof a === "string" ? b : a);
  }
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// Surrogates move above U+E000-U+FFFF, which move down into the gap they leave: code point order.
function codePointRank(unit: number): number {
  return unit < 0xd800 ? unit : unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}
