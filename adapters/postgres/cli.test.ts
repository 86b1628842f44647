/**
 * `--url` refused when it spells a password, without a database: the refusal comes before any
 * connection. The URLs here are spelt as postgres.js reads them, not only as WHATWG URL does.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { resolvePostgresUrl, runPostgresCli } from "./index.js";

async function run(args: readonly string[]) {
  const out: string[] = [];
  const code = await runPostgresCli(args, {
    stdout: (line) => void out.push(line),
    stderr: (line) => void out.push(line),
    env: {},
  });
  return { code, out: out.join("\n") };
}

describe("a password in --url, written as postgres.js reads it", () => {
  // postgres.js ends a URL's authority at the first `/` or `?` only and takes the user and password from
  // before its last `@`: a `#` in a password is the password's (WHATWG URL would start a fragment there).
  const raw = fc.string({ minLength: 1, maxLength: 12 }).filter((text) => !/[/?]/.test(text) && !text.includes("Pw#"));
  const user = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/);

  test("a raw `#` in the password is refused with exit 2, the password never printed", async () => {
    const { code, out } = await run(["status", "--url", "postgres://admin:hunter#2@db.internal:5432/app"]);
    expect(code).toBe(2);
    expect(out).toContain("--url carries a password");
    expect(out).not.toContain("hunter#2");
  });

  test("any password postgres.js would read from the URL is refused, by both commands' rules (property)", async () => {
    await fc.assert(
      fc.asyncProperty(user, raw, async (name, text) => {
        const password = `Pw#${text}`;
        const url = `postgres://${name}:${password}@db.internal:5432/app`;
        const { code, out } = await run(["migrate", "--url", url]);
        expect(code).toBe(2);
        expect(out).not.toContain(password);
        await expect(resolvePostgresUrl({ url }, { env: {} })).rejects.toThrow("--url carries a password");
      }),
    );
  });

  test("a URL without a password passes the check (a user and a `#` elsewhere are not one)", async () => {
    for (const url of ["postgres://admin@db.internal:5432/app", "postgres://admin@db.internal:5432/app#x:y@z"]) {
      expect(await resolvePostgresUrl({ url }, { env: {} })).toBe(url);
    }
  });
});
