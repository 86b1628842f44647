import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { jsonLogger, redactedCause, redactText, ValidationError } from "../index.js";

// A secret as someone may write it by hand: it opens with letters (not a port's digits), ends with a letter or
// digit, and holds what a URL or a config line does not encode in between.
function secretOf(middle: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc.tuple(middle, fc.stringMatching(/^[A-Za-z0-9]$/)).map(([inside, last]) => `Zq7${inside}${last}`);
}

/** What a line of the library's JSON logger writes for this message and error. */
function logged(message: string): string {
  const lines: string[] = [];
  jsonLogger({ write: (line) => void lines.push(line) }).error(message, { error: new Error(message) });
  return lines.join("\n");
}

describe("redactText", () => {
  test("property: a URL password with an unencoded `#`, `/`, `?` or blank is masked whole, and the host kept", () => {
    const secret = secretOf(fc.string({ unit: fc.constantFrom(..."ab9#/? .-_"), minLength: 1, maxLength: 20 }));
    fc.assert(
      fc.property(
        fc.constantFrom("", "app", "u"),
        secret,
        fc.constantFrom("postgres", "redis", "mongodb+srv"),
        fc.constantFrom("", "connect to ", "refused: "),
        fc.constantFrom("", " failed", "\nnext line: ok", " (user@example.com)"),
        (user, password, scheme, before, after) => {
          const url = `${scheme}://${user}:${password}@db.internal:5432/shop`;
          const masked = `${scheme}://${user}:[redacted]@db.internal:5432/shop`;
          expect(redactText(`${before}${url}${after}`)).toBe(`${before}${masked}${after}`);
          expect(redactedCause(new Error(url))?.message).toBe(masked);
          expect(logged(`${before}${url}${after}`)).not.toContain(password);
        },
      ),
    );
  });

  test("property: a bare credential value after a key and a colon (a config dump, an inspected object) is masked", () => {
    const secret = secretOf(fc.string({ unit: fc.constantFrom(..."aZ9#/?@:,;}]'\"=.-_+"), maxLength: 20 }));
    fc.assert(
      fc.property(
        fc.constantFrom(
          "password",
          "passwd",
          "secret_access_key",
          "aws_secret_access_key",
          "apiKey",
          "token",
          "dbPassword",
        ),
        secret,
        fc.constantFrom(
          (pair: string) => pair,
          (pair: string) => `host: db\n${pair}\nuser: app`,
          (pair: string) => `user: app, ${pair}, region: eu-west-1`,
          (pair: string) => `{ ${pair} }`,
          (pair: string) => `settings: [${pair}]`,
        ),
        fc.constantFrom(": ", ":", " :\t"),
        (key, value, shape, colon) => {
          const text = shape(`${key}${colon}${value}`);
          expect(redactText(text)).toBe(shape(`${key}${colon}[redacted]`));
          expect(logged(text)).not.toContain(value);
        },
      ),
    );
  });

  test("the other shapes asked about are masked: `password=value` and a quoted `secret_access_key`", () => {
    expect(redactText("password=hunter2 dbname=shop")).toBe("password=[redacted] dbname=shop");
    expect(redactText('{"secret_access_key": "wJalr/K7MDENG"}')).toBe('{"secret_access_key": "[redacted]"}');
  });

  // The header rule masked the value, then the colon rule took `[redacted` (a bare value stops at `]`)
  // for a credential and masked it again: `x-amz-security-token:[redacted]]` in a masked AWS message.
  test("a header the header rule masked is masked once: no stray `]` after it", () => {
    for (const header of ["x-amz-security-token", "X-Amz-Security-Token", "authorization", "x-api-key"]) {
      for (const colon of [":", ": "]) {
        expect(redactText(`${header}${colon}IQoJb3JpZ2luX2VjEJ7 x-amz-date:20261206T000000Z`)).toBe(
          `${header}${colon}[redacted]`,
        );
        expect(redactText(`{${header}${colon}AbC123}`)).toBe(`{${header}${colon}[redacted]`);
      }
    }
  });

  test("what is no credential keeps its words: an issue's message, a port and a path with an `@`", () => {
    const kept = [
      "Invalid command: password: Invalid length: Expected >=12 but received 3",
      "Invalid options: token: must be a string",
      "Invalid options: token: token must be a string",
      "Invalid options: token: token: must be a string",
      "GET http://api.internal:8080/users/@me failed",
      "postgres://db.internal:5432 refused the connection for ops@example.com",
      "https://example.com/docs?q=a:b@c#top",
    ];
    for (const text of kept) expect(redactText(text)).toBe(text);
  });

  // A JWT after a credential word and a blank (`token eyJ…`) matched no rule: no `=`, no colon, no scheme.
  test("property: a JSON Web Token is masked anywhere in text, whatever stands before it", () => {
    const part = fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/);
    fc.assert(
      fc.property(
        fc.constantFrom("token ", "id_token is ", "sent ", "", "(", "?jwt=", "refresh token\t", '["'),
        part,
        part,
        fc.constantFrom("", "c2lnbmF0dXJl", "S-i_g"),
        fc.constantFrom("", " to the API", ".", ")", '"]', ", retry"),
        (before, header, payload, signature, after) => {
          const jwt = `eyJ${header}.${payload}.${signature}`;
          expect(redactText(`${before}${jwt}${after}`)).toBe(`${before}[redacted]${after}`);
          expect(logged(`${before}${jwt}${after}`)).not.toContain(jwt);
        },
      ),
    );
  });

  test("an encrypted JWT's five parts are masked whole; a word merely starting `eyJ` is kept", () => {
    expect(redactText("got eyJhbGciOiJkaXIifQ..aXY.Y2lwaGVy.dGFn back")).toBe("got [redacted] back");
    const kept = ["eyJ alone", "see eyJhbGciOiJIUzI1NiJ9 and a.b.c", "keyJa.b.c", "eyJa.b"];
    for (const text of kept) expect(redactText(text)).toBe(text);
  });

  // `token: token: x`: the first key's value ran on in words (`token: x`), so the pair inside it, whose
  // value stands alone, was passed over with it and `x` written as it was.
  test("property: an issue whose message is itself a credential key and a value standing alone is masked", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("token", "password", "apiKey", "client_secret"),
        // Marked: a bare word (`operty`) can stand in the logged line's stack trace (fast-check's `Property`).
        secretOf(fc.stringMatching(/^[A-Za-z0-9]{2,26}$/)),
        fc.constantFrom(": ", " : ", ":"),
        (key, secret, colon) => {
          const error = new ValidationError("Invalid options", [{ path: [key], message: `${key}${colon}${secret}` }]);
          // Without a blank, `token:x` is one word standing alone: the first key's value, masked whole.
          const masked = colon === ":" ? "[redacted]" : `${key}${colon}[redacted]`;
          expect(redactText(error.message)).toBe(`Invalid options: ${key}: ${masked}`);
          expect(logged(error.message)).not.toContain(secret);
        },
      ),
    );
  });

  test("a long word of keys, separators or URL starts is read in linear time, not once per key", () => {
    // No clock is read: a pass over each key to the word's end would take minutes on these, past the timeout.
    const words = [
      `${"password:".repeat(100_000)} and more`,
      `password: a${",;".repeat(500_000)}b and more`,
      `${"x://u:p#".repeat(100_000)} and more`,
      `${"-----BEGIN A B ".repeat(100_000)}C-PRIVATE KEY----- and more`,
      // 100,000 characters and more each: JWT starts with no dots, or with one dot and no second.
      `${"eyJ".repeat(34_000)} and more`,
      `eyJa.${"b".repeat(100_000)} and more`,
      `${"eyJ.".repeat(25_000)} and more`,
      `${"eyJa.b ".repeat(15_000)}and more`,
      // A chain of keys each the value of the one before (`token: token: …`), ending in words that run on.
      `${"token: ".repeat(15_000)}x and more`,
      `${"token:token: ".repeat(8_000)}x and more`,
    ];
    for (const text of words) expect(redactText(text)).toBe(text);
    const unclosed = "-----BEGIN PRIVATE KEY-----\n".repeat(100_000);
    expect(redactText(unclosed)).toBe("-----BEGIN PRIVATE KEY-----[redacted]");
  });
});

describe("one list of credential names for fields and text", () => {
  // `pwd=` was masked in text while a field or a JSON key `pwd` was written as it was; a TLS `passphrase`
  // and a PEM private key (a logged `ssl` option's `key`) were written whole.
  test("property: `pwd` and `passphrase`, in any case and spelling, are credentials as a field, a JSON key and a pair", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("pwd", "PWD", "db_pwd", "passphrase", "keyPassphrase", "ssl-passphrase", "PASSPHRASE"),
        fc.stringMatching(/^[A-Za-z0-9]{12,40}$/),
        (key, secret) => {
          const lines: string[] = [];
          const logger = jsonLogger({ write: (line) => void lines.push(line) });
          logger.error("options", { ssl: { [key]: secret } });
          logger.error(`connect failed: {"${key}":"${secret}"}`);
          logger.error(`connect failed: ${key}=${secret} host=db`);
          logger.error("failed", { error: new Error(`${key}: ${secret}`) });
          expect(lines).toHaveLength(4);
          expect(lines.join("\n")).not.toContain(secret);
        },
      ),
    );
  });

  test("property: a PEM private key's body is masked in any text, its armour kept", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(
          "PRIVATE KEY",
          "RSA PRIVATE KEY",
          "EC PRIVATE KEY",
          "ENCRYPTED PRIVATE KEY",
          "OPENSSH PRIVATE KEY",
        ),
        fc.array(fc.stringMatching(/^[A-Za-z0-9+/]{16,64}$/), { minLength: 1, maxLength: 4 }),
        fc.constantFrom("\n", "\r\n"),
        fc.boolean(),
        (label, body, eol, closed) => {
          const pem = `-----BEGIN ${label}-----${eol}${body.join(eol)}${closed ? `${eol}-----END ${label}-----` : ""}`;
          const masked = `-----BEGIN ${label}-----[redacted]${closed ? `-----END ${label}-----` : ""}`;
          expect(redactText(`bad key ${pem} given`)).toBe(`bad key ${masked}${closed ? " given" : ""}`);
          const lines: string[] = [];
          jsonLogger({ write: (line) => void lines.push(line) }).error("options", { ssl: { key: pem, cert: "ok" } });
          for (const part of body) expect(lines.join("\n")).not.toContain(part);
        },
      ),
    );
  });

  test("a public key or certificate is not masked: only private keys are credentials", () => {
    const cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----";
    expect(redactText(cert)).toBe(cert);
  });
});

describe("redactValue of what cannot be read", () => {
  test("a value whose reading throws (a revoked Proxy, as an error's cause) is logged as unreadable, and the line kept", () => {
    const revoked = () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    };
    const lines: string[] = [];
    const logger = jsonLogger({ write: (line) => void lines.push(line) });
    // Before: redacting the fields threw the Proxy's TypeError, so the line was lost (the library's
    // guarded logger then dropped it): a projection failing on such a throw logged nothing about it.
    logger.error("projection failed", { error: new Error("failed", { cause: revoked() }), value: revoked() });
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] ?? "{}");
    expect([line.msg, line.error.message, line.error.cause, line.value]).toEqual([
      "projection failed",
      "failed",
      "[unreadable]",
      "[unreadable]",
    ]);
  });
});
