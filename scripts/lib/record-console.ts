/**
 * Preloaded by scripts/check-docs.ts into each doc sample it runs. check-docs rewrites each
 * `console.log(` whose line states its output into `__checkDocsLog("file", line)(`: that prints as
 * console.log does and records what was printed, by file and line, into the JSON file named by
 * CHECK_DOCS_RECORD when the process exits. (Tagging the call, rather than reading the caller's line
 * from a stack trace, also works in `.catch((e) => console.log(e))`, whose frame a tail call drops.)
 * Values are formatted as Bun's console.log formats them (`Bun.inspect`; strings as they are).
 */
import { writeFileSync } from "node:fs";

const recordFile = process.env.CHECK_DOCS_RECORD;
/** `file:line` → what each call there printed, in order. */
const printed: Record<string, string[]> = {};

Object.assign(globalThis, {
  __checkDocsLog:
    (file: string, line: number) =>
    (...args: unknown[]): void => {
      const text = args.map((arg) => (typeof arg === "string" ? arg : Bun.inspect(arg))).join(" ");
      const key = `${file}:${line}`;
      printed[key] = [...(printed[key] ?? []), text];
      console.log(...args);
    },
});

if (recordFile !== undefined) process.on("exit", () => writeFileSync(recordFile, JSON.stringify(printed)));
