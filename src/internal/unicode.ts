// `String.prototype.isWellFormed` (ES2024) where the runtime has it; TypeScript's ES2023 lib does not declare it.
const native = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/**
 * Whether a string is well-formed UTF-16: no lone surrogate. A lone surrogate has no UTF-8 encoding,
 * so backends replace it (DynamoDB stores `?`) or refuse it (PostgreSQL jsonb), and two different
 * names would become one. Uses `isWellFormed` where the runtime has it.
 */
export const isWellFormed: (text: string) => boolean =
  native === undefined ? isWellFormedFallback : (text) => native.call(text);

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

export const LONE_SURROGATE = "contains a lone UTF-16 surrogate (ill-formed Unicode)";
