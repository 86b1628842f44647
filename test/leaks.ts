/**
 * What an error shows wherever it ends up: `String(error)`, its stack, `JSON.stringify`, `Bun.inspect`
 * (what `console.log` and `util.inspect` print: every own field, `path` and `input` included), for the
 * error and each cause under it. Tests assert a secret, SQL or a backend's internals never appear in it.
 */
export function everythingShown(error: unknown): string {
  const seen: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    const e = current as Error & { input?: unknown };
    let json = "";
    try {
      json = JSON.stringify(e) ?? "";
    } catch {
      // A cycle or a BigInt: the other surfaces still show what it holds.
    }
    seen.push(String(e), e.stack ?? "", json, String(e.input ?? ""), Bun.inspect(e));
    current = e.cause;
  }
  return seen.join("\n");
}
