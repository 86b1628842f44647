/**
 * `--url` refused when it spells a password, without a database: the refusal comes before any
 * connection. The URLs here are spelt as postgres.js reads them, not only as WHATWG URL does.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { LATEST_SCHEMA_VERSION, resolvePostgresUrl, runPostgresCli } from "./index.js";

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

describe("--to past the latest schema version", () => {
  // A usage error, as `eventflows migrate postgres` has it: known without the database. It was
  // migrate()'s ValidationError, exit 1, which the page reserves for the database and the schema.
  test("is exit 2 naming the range, before any connection", async () => {
    for (const to of [String(LATEST_SCHEMA_VERSION + 1), "99999"]) {
      const out: string[] = [];
      const code = await runPostgresCli(["migrate", "--to", to], {
        stdout: (line) => void out.push(line),
        stderr: (line) => void out.push(line),
        env: { DATABASE_URL: "postgres://app@127.0.0.1:1/app" },
      });
      expect({ code, out }).toEqual({
        code: 2,
        out: [expect.stringContaining(`--to takes a schema version from 0 to ${LATEST_SCHEMA_VERSION}`)],
      });
    }
  });
});
