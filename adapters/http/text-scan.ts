/**
 * Checks applied to text a client sent, each one pass over its input with no backtracking: their
 * cost grows linearly with the input, whatever the input (no regular expression can be made to
 * take quadratic time here). Lengths are bounded by the callers before any of these run.
 */

/** What the scanners read: a string, or anything with its `length` and `charCodeAt` (tests count reads). */
export interface CharSource {
  readonly length: number;
  charCodeAt(index: number): number;
}

/** Longest text the number check converts; a double needs far fewer characters than this. */
export const MAX_NUMBER_TEXT_LENGTH = 64;

/** Every character is visible ASCII (0x21 to 0x7e), and there is at least one. */
export function isVisibleAscii(text: CharSource): boolean {
  const length = text.length;
  if (length === 0) return false;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x21 || code > 0x7e) return false;
  }
  return true;
}

/**
 * A decimal number as a query string may spell it: `-`? digits with an optional fraction (or a
 * fraction alone), then an optional exponent: `12`, `-1.5`, `.5`, `3.`, `1e-7`. Reads each character
 * at most once; text over {@link MAX_NUMBER_TEXT_LENGTH} characters is not a number here.
 */
export function isDecimalNumber(text: CharSource): boolean {
  const length = text.length;
  if (length === 0 || length > MAX_NUMBER_TEXT_LENGTH) return false;
  let i = 0;
  let code = text.charCodeAt(0);
  if (code === 0x2d /* - */) {
    i = 1;
    code = i < length ? text.charCodeAt(i) : -1;
  }
  let digits = 0;
  while (isDigit(code)) {
    digits++;
    i++;
    code = i < length ? text.charCodeAt(i) : -1;
  }
  if (code === 0x2e /* . */) {
    i++;
    code = i < length ? text.charCodeAt(i) : -1;
    while (isDigit(code)) {
      digits++;
      i++;
      code = i < length ? text.charCodeAt(i) : -1;
    }
  }
  if (digits === 0) return false;
  if (code === 0x65 /* e */ || code === 0x45 /* E */) {
    i++;
    code = i < length ? text.charCodeAt(i) : -1;
    if (code === 0x2b /* + */ || code === 0x2d /* - */) {
      i++;
      code = i < length ? text.charCodeAt(i) : -1;
    }
    let exponent = 0;
    while (isDigit(code)) {
      exponent++;
      i++;
      code = i < length ? text.charCodeAt(i) : -1;
    }
    if (exponent === 0) return false;
  }
  return i === length;
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

/**
 * How deeply JSON text nests arrays and objects, read in one pass over its UTF-8 bytes without
 * parsing it (JSON's structural characters are ASCII, and UTF-8 never uses ASCII bytes inside a
 * multi-byte character). Stops as soon as the depth passes `limit` and returns `limit + 1`, so the
 * work is bounded by the bytes read. Brackets inside strings do not count. Malformed JSON gets a
 * number too; the parser then refuses it.
 */
export function jsonNestingDepth(bytes: Uint8Array, limit: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (inString) {
      if (byte === 0x5c /* \ */) i++;
      else if (byte === 0x22 /* " */) inString = false;
    } else if (byte === 0x22) inString = true;
    else if (byte === 0x5b /* [ */ || byte === 0x7b /* { */) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (byte === 0x5d /* ] */ || byte === 0x7d /* } */) depth--;
  }
  return deepest;
}
