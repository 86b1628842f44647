/**
 * Compares what a doc sample printed with the comments that state it (see scripts/check-docs.ts):
 * `console.log(x); // 2` says that line prints `2`.
 */

export interface OutputMismatch {
  /** 1-based line in the sample. */
  readonly line: number;
  readonly stated: string;
  readonly printed: string;
}

// A console.log call, then a trailing line comment (not inside a string: a quote after `//` is fine).
const STATED = /console\.log\(.*\)\S*\s*\/\/\s?(.*)$/;

/**
 * `code` with the `console.log(` of each line that states its output tagged for
 * scripts/lib/record-console.ts, line numbers unchanged.
 */
export function tagStatedLogs(code: string, file: string): string {
  return code
    .split("\n")
    .map((text, index) =>
      STATED.test(text) ? text.replace("console.log(", `__checkDocsLog(${JSON.stringify(file)}, ${index + 1})(`) : text,
    )
    .join("\n");
}

/**
 * The lines of `code` whose comment states output, and those whose printed output differs;
 * `printed` as recorded by scripts/lib/record-console.ts from the code tagged as `file`.
 */
export function outputMismatches(
  code: string,
  file: string,
  printed: Readonly<Record<string, readonly string[]>>,
): { checked: number; mismatches: OutputMismatch[] } {
  const mismatches: OutputMismatch[] = [];
  let checked = 0;
  code.split("\n").forEach((text, index) => {
    const match = STATED.exec(text);
    if (match === null) return;
    checked++;
    const line = index + 1;
    const stated = (match[1] ?? "").trim();
    const outputs = printed[`${file}:${line}`] ?? [];
    if (!agrees(stated, outputs)) {
      mismatches.push({
        line,
        stated,
        printed: outputs.length === 0 ? "(nothing)" : outputs.map(normalize).join(", "),
      });
    }
  });
  return { checked, mismatches };
}

/**
 * Layout out of the comparison: Bun's multi-line objects on one line, without trailing commas, and
 * no spaces just inside brackets (`{\n  a: [ 1 ],\n}` and `{ a: [1] }` both become `{a: [1]}`).
 */
export function normalize(output: string): string {
  return output
    .replace(/,(\s*[}\]])/g, "$1")
    .replace(/\s+/g, " ")
    .replace(/([[{]) /g, "$1")
    .replace(/ ([}\]])/g, "$1")
    .trim();
}

export function agrees(stated: string, outputs: readonly string[]): boolean {
  if (outputs.length === 0) return false;
  const comment = normalize(stated).replace(/, then /g, ", ");
  const actual = outputs.map(normalize).join(", ");
  const ellipsis = /\s*(\.\.\.|…)$/.exec(comment);
  if (ellipsis !== null) {
    const start = comment.slice(0, ellipsis.index);
    return start.length > 0 && actual.startsWith(start);
  }
  if (comment === actual) return true;
  // The output, then an explanation: `// 2: two events`, `// 2 (two events)`, `// 2, as before`.
  return comment.startsWith(actual) && /^(:\s|\s\(|,\s|\s—\s)/.test(comment.slice(actual.length));
}
