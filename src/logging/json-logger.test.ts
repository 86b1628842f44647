import { afterEach, describe, expect, test } from "bun:test";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { TracerProvider } from "@opentelemetry/sdk-trace";
import fc from "fast-check";
import { ValidationError } from "../errors.js";
import { consoleLogger, jsonLogger, pinoLogger } from "./json-logger.js";
import { eventFields, getLogger, setLogger } from "./library-logger.js";

function capture(options: Parameters<typeof jsonLogger>[0] = {}) {
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  const logger = jsonLogger({
    ...options,
    write: (line) => {
      raw.push(line);
      lines.push(JSON.parse(line));
    },
  });
  return { logger, lines, raw };
}

afterEach(() => setLogger(undefined));

describe("jsonLogger", () => {
  test("writes one JSON object per line with time, level, msg and the fields", () => {
    const { logger, lines } = capture({ now: () => new Date("2026-01-02T03:04:05.000Z"), base: { service: "shop" } });
    logger.info("order placed", { correlationId: "c-1", causationId: "m-1", count: 2 });
    expect(lines).toEqual([
      {
        time: "2026-01-02T03:04:05.000Z",
        level: "info",
        msg: "order placed",
        service: "shop",
        correlationId: "c-1",
        causationId: "m-1",
        count: 2,
      },
    ]);
  });

  test("fields named time, level, msg, traceId or spanId cannot forge the line's own: they are written as field.<name>", () => {
    const { logger, lines } = capture({ now: () => new Date("2026-01-02T03:04:05.000Z"), base: { level: "base" } });
    logger.info("hello", { level: "error", msg: "forged", time: "1970-01-01T00:00:00.000Z", traceId: "t", other: 1 });
    expect(lines).toEqual([
      {
        time: "2026-01-02T03:04:05.000Z",
        level: "info",
        msg: "hello",
        "field.level": "error",
        "field.msg": "forged",
        "field.time": "1970-01-01T00:00:00.000Z",
        "field.traceId": "t",
        other: 1,
      },
    ]);
  });

  test("drops lines below its level", () => {
    const { logger, lines } = capture({ level: "warn" });
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    expect(lines.map((line) => line.level)).toEqual(["warn", "error"]);
    expect(() => jsonLogger({ level: "loud" as "info" })).toThrow(ValidationError);
  });

  test("adds the trace and span ids of the active span", () => {
    const manager = new AsyncLocalStorageContextManager();
    context.setGlobalContextManager(manager.enable());
    trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [] }));
    try {
      const { logger, lines } = capture();
      trace.getTracer("test").startActiveSpan("work", (span) => {
        logger.info("inside");
        span.end();
        expect(lines[0]?.traceId).toBe(span.spanContext().traceId);
        expect(lines[0]?.spanId).toBe(span.spanContext().spanId);
      });
      logger.info("outside");
      expect(lines[1]?.traceId).toBeUndefined();
    } finally {
      trace.disable();
      context.disable();
    }
  });

  test("errors become name, code, message and stack", () => {
    const { logger, lines } = capture();
    logger.error("failed", { error: new ValidationError("Invalid thing") });
    expect(lines[0]?.error).toMatchObject({
      name: "ValidationError",
      code: "VALIDATION_FAILED",
      message: "Invalid thing",
    });
  });

  test("property: a secret-looking value in a credential field, a URL, a bearer header or a SigV4 header never reaches a line", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9]{12,40}$/), (tail) => {
        const secret = `sk_live_${tail}`;
        const { logger, raw } = capture({ redact: ["cardNumber"] });
        logger.error(`connect to postgres://app:${secret}@db.internal/shop failed`, {
          password: secret,
          nested: { apiKey: secret, "x-api-key": secret, Authorization: `Bearer ${secret}`, cardNumber: secret },
          list: [{ client_secret: secret }],
          header: `AWS4-HMAC-SHA256 Credential=AKIA${tail}/20260101/us-east-1/sqs/aws4_request, Signature=${secret}`,
          error: new Error(`postgres://app:${secret}@db.internal failed`),
        });
        expect(raw.join("\n")).not.toContain(tail);
      }),
    );
  });

  test("property: a connection URL's whole password is masked, with an empty user or an `@` or `:` in the password", () => {
    // What a URL's userinfo may hold unencoded (RFC 3986 sub-delims, unreserved, `:`), and the `@` a
    // URL parser also takes into the password when it is not the last one (`p@ss@db`: password `p@ss`).
    const userinfo = fc.stringMatching(/^[A-Za-z0-9@:!$&'()*+,;=._~%-]{0,12}$/);
    fc.assert(
      fc.property(
        fc.constantFrom("", "app", "user.name"),
        userinfo,
        fc.stringMatching(/^[A-Za-z0-9]{12,40}$/),
        userinfo,
        fc.constantFrom("redis", "postgres", "amqps", "mongodb+srv"),
        (user, before, tail, after, scheme) => {
          const url = `${scheme}://${user}:${before}${tail}${after}@db.internal:6379/0`;
          const { logger, raw } = capture();
          logger.error(`connect to ${url} failed`, { error: new Error(`${url} refused`), target: url });
          expect(raw.join("\n")).not.toContain(tail);
          expect(raw.join("\n")).toContain("@db.internal:6379/0");
        },
      ),
    );
  });

  test("property: a key=value credential (a libpq connection string, a query string) is masked, quoted or not", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("password", "PASSWORD", "passwd", "pwd", "secret", "token", "api_key", "apikey"),
        fc.stringMatching(/^[A-Za-z0-9]{12,40}$/),
        fc.constantFrom(
          (v: string) => v,
          (v: string) => `'${v} x'`,
          (v: string) => `"${v} x"`,
        ),
        fc.constantFrom(" = ", "="),
        (key, tail, quote, equals) => {
          const { logger, raw } = capture();
          const text = `host=db.internal port=5432 ${key}${equals}${quote(tail)} dbname=shop`;
          logger.error(`connect failed: ${text}`, { error: new Error(`/login?user=a&${key}=${tail}&next=/`) });
          expect(raw.join("\n")).not.toContain(tail);
          expect(raw.join("\n")).toContain("dbname=shop");
          expect(raw.join("\n")).toContain("next=/");
        },
      ),
    );
  });

  test("property: a pair whose key contains a credential word (access_token, client_secret) is masked", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("access_", "client_", "db_", "x-", "session", "aws_", "refresh-", ""),
        fc.constantFrom("token", "Token", "secret", "password", "PASSWD", "api_key", "apikey"),
        fc.constantFrom("", "_key", "s", "-value"),
        fc.stringMatching(/^[A-Za-z0-9]{12,40}$/),
        fc.constantFrom("=", " = "),
        (prefix, word, suffix, tail, equals) => {
          const { logger, raw } = capture();
          const key = `${prefix}${word}${suffix}`;
          logger.error(`callback /cb?code=1&${key}${equals}${tail}&state=ok failed`, {
            error: new Error(`token request sent ${key}${equals}'${tail} x' to=idp`),
          });
          expect(raw.join("\n")).not.toContain(tail);
          expect(raw.join("\n")).toContain("code=1&");
          expect(raw.join("\n")).toContain("&state=ok");
          expect(raw.join("\n")).toContain("to=idp");
        },
      ),
    );
  });

  test("property: a credential header in a request dump is masked to the end of its line, whatever its value", () => {
    // Any value a header line can hold (no line break), of every character class: a bare token, `Token …`, cookies.
    const value = fc
      .string({ minLength: 1, maxLength: 40, unit: "binary" })
      .map((v) => `Zq7${v.replace(/[\r\n]/g, "")}`);
    fc.assert(
      fc.property(
        fc.constantFrom(
          "Authorization",
          "proxy-authorization",
          "Cookie",
          "Set-Cookie",
          "X-Api-Key",
          "api-key",
          "x-auth-token",
          "X-Amz-Security-Token",
        ),
        fc.constantFrom(": ", ":", " :\t"),
        value,
        (name, colon, secret) => {
          const { logger, lines } = capture();
          const dump = `POST /v1/metrics\nHost: otlp.internal\n${name}${colon}${secret}\nContent-Type: application/json`;
          logger.error(`export failed: ${dump}`, { error: new Error(dump) });
          const line = JSON.stringify(lines[0]);
          expect(`${lines[0]?.msg}`).not.toContain(secret);
          expect(line).not.toContain(JSON.stringify(secret).slice(1, -1));
          expect(`${lines[0]?.msg}`).toContain("Host: otlp.internal");
          expect(`${lines[0]?.msg}`).toContain("Content-Type: application/json");
        },
      ),
    );
  });

  test("property: a credential quoted after a colon (a JSON body, an inspected object) is masked, whatever its value", () => {
    const secret = fc.string({ minLength: 1, maxLength: 40, unit: "binary" }).map((v) => `Zq7${v}`);
    fc.assert(
      fc.property(
        fc.constantFrom("password", "client_secret", "accessToken", "apiKey", "Authorization", "secretAccessKey"),
        secret,
        (key, value) => {
          const { logger, lines } = capture();
          // JSON.stringify escapes what a JSON string cannot hold: the body as a server or a client writes it.
          const body = JSON.stringify({ user: "app", [key]: value, region: "eu-west-1" });
          const pretty = JSON.stringify({ [key]: value, n: 1 }, null, 2);
          logger.error(`the identity provider answered 400: ${body}`, { error: new Error(`sent ${pretty}`) });
          const msg = `${lines[0]?.msg}`;
          expect(msg).not.toContain(JSON.stringify(value));
          expect(msg).toContain('"user":"app"');
          expect(msg).toContain('"region":"eu-west-1"');
          expect(JSON.stringify(lines[0])).not.toContain(JSON.stringify(JSON.stringify(value)).slice(1, -1));
        },
      ),
    );
    const { logger, lines } = capture();
    logger.error(`config { secretAccessKey: 'wJalr-inspected', sessionToken: "IQo-inspected", region: 'eu-west-1' }`);
    logger.error('{"token": null, "password": 12345678, "user": "app"}');
    expect(JSON.stringify(lines)).not.toContain("inspected");
    expect(JSON.stringify(lines)).not.toContain("12345678");
    expect(JSON.stringify(lines)).toContain("eu-west-1");
  });

  test("an issue's path before a colon keeps its words: only a quoted value or a credential header is masked there", () => {
    const { logger, lines } = capture();
    const issues = [
      "Invalid DynamoDB client configuration: credentials.secretAccessKey: secretAccessKey is missing",
      "Invalid command: password: Invalid length: Expected >=12 but received 3",
      "Invalid options: token: must be a string",
    ];
    for (const message of issues) logger.error(message);
    expect(lines.map((line) => line.msg)).toEqual(issues);
  });

  test("a libpq value with an escaped quote is masked to its closing quote; an error's name is masked too", () => {
    const { logger, raw } = capture();
    const error = new Error("refused");
    error.name = "ConnectError password=hunter2name";
    logger.error("connect failed: host=db password='it\\'s hunter2rest' dbname=shop", { error });
    expect(raw.join("\n")).not.toContain("hunter2");
    expect(raw.join("\n")).toContain("dbname=shop");
  });

  test("redaction takes linear time: a long word quoted in an error does not stall the line", () => {
    const { logger, raw } = capture();
    // An application error quoting what a client sent: as many letters as a 1 MiB body holds. No clock is
    // read: the line is written within the test's timeout, or the test fails. The size makes that a matter
    // of the pattern, not of the machine: the linear pattern redacts a million letters in milliseconds; the
    // old one, tried again from each letter, grows with the square (0.74 s on 40,000 letters on the 2-core
    // machine that replaced the clock check, so some 8 minutes on a million, past the suite's 60 s timeout).
    const word = "a".repeat(1_000_000);
    logger.error(`unknown sku ${word}`, { error: new Error(`unknown sku ${word} at postgres://app:pw-secret@db/x`) });
    expect(raw).toHaveLength(1);
    expect(raw.join("\n")).not.toContain("pw-secret");
    expect(raw.join("\n")).toContain("postgres://app:[redacted]@db/x");
  });

  test("a cycle or a deep object is cut, not a crash", () => {
    const { logger, lines } = capture();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    logger.info("cyclic", { cyclic, big: 10n });
    expect(lines[0]).toMatchObject({ cyclic: { a: 1, self: "[elided]" }, big: "10" });
  });
});

describe("the library's logger", () => {
  test("is the JSON logger until setLogger replaces it; eventFields names an event without its data", () => {
    const seen: unknown[][] = [];
    setLogger({ ...jsonLogger(), error: (...args) => void seen.push(args) });
    const event = {
      id: "01J00000000000000000000000",
      type: "Paid",
      streamId: "Order-1",
      version: 1,
      timestamp: "2026-01-01T00:00:00.000Z",
      data: { card: "4111" },
      metadata: { correlationId: "c-9", causationId: "m-9", secret: "x" },
    };
    getLogger().error("failed", eventFields(event));
    expect(seen).toEqual([
      [
        "failed",
        { eventId: event.id, eventType: "Paid", streamId: "Order-1", correlationId: "c-9", causationId: "m-9" },
      ],
    ]);
  });

  test("a field named __proto__ (an own key, as JSON.parse makes it) is logged as a field, redacted inside, at the top and nested", () => {
    const { logger, raw, lines } = capture();
    const fields = JSON.parse('{"__proto__":{"password":"hunter2","n":1},"order":{"__proto__":{"token":"t0k"}}}');
    logger.info("parsed", fields);
    expect(raw[0]).not.toContain("hunter2");
    expect(raw[0]).not.toContain("t0k");
    const line = lines[0] as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(line, "__proto__")?.value).toEqual({ password: "[redacted]", n: 1 });
    const order = line.order as Record<string, unknown>;
    expect(Object.getOwnPropertyDescriptor(order, "__proto__")?.value).toEqual({ token: "[redacted]" });
    const calls: object[] = [];
    const log = (record: object) => void calls.push(record);
    pinoLogger({ debug: log, info: log, warn: log, error: log }).info("parsed", fields);
    const record = calls[0] as Record<string, unknown>;
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(record, "__proto__")?.value).toEqual({ password: "[redacted]", n: 1 });
  });

  test("pinoLogger passes fields first, redacted", () => {
    const calls: [string, object, string][] = [];
    const pino = {
      debug: (fields: object, message: string) => void calls.push(["debug", fields, message]),
      info: (fields: object, message: string) => void calls.push(["info", fields, message]),
      warn: (fields: object, message: string) => void calls.push(["warn", fields, message]),
      error: (fields: object, message: string) => void calls.push(["error", fields, message]),
    };
    pinoLogger(pino).warn("slow", { token: "abc", ms: 5 });
    expect(calls).toEqual([["warn", { token: "[redacted]", ms: 5 }, "slow"]]);
  });
});

describe("logger options", () => {
  // Each was a TypeError (when the logger was made, or at the library's first line, which the logger
  // guard then dropped) or was ignored: a misspelt `redact` logged the fields it was meant to hide.
  const cases: [string, () => unknown, readonly (string | number)[]][] = [
    ["jsonLogger null", () => jsonLogger(null as never), []],
    ["jsonLogger 5", () => jsonLogger(5 as never), []],
    ["jsonLogger redcat", () => jsonLogger({ redcat: ["cardNumber"] } as never), ["redcat"]],
    ["jsonLogger redact string", () => jsonLogger({ redact: "cardNumber" as never }), ["redact"]],
    ["jsonLogger redact [5]", () => jsonLogger({ redact: [5] as never }), ["redact", 0]],
    ["jsonLogger write 5", () => jsonLogger({ write: 5 as never }), ["write"]],
    ["jsonLogger now 5", () => jsonLogger({ now: 5 as never }), ["now"]],
    ["jsonLogger base []", () => jsonLogger({ base: [] as never }), ["base"]],
    ["consoleLogger level", () => consoleLogger({ level: "warn" } as never), ["level"]],
    ["consoleLogger console 5", () => consoleLogger({ console: 5 as never }), ["console"]],
    ["consoleLogger redact string", () => consoleLogger({ redact: "x" as never }), ["redact"]],
    ["pinoLogger 5", () => pinoLogger(5 as never), ["pino"]],
    ["pinoLogger without error", () => pinoLogger({ debug() {}, info() {}, warn() {} } as never), ["pino"]],
    [
      "pinoLogger redcat",
      () => pinoLogger({ debug() {}, info() {}, warn() {}, error() {} }, { redcat: [] } as never),
      ["redcat"],
    ],
  ];
  for (const [name, make, path] of cases) {
    test(`${name}: a ValidationError naming ${JSON.stringify(path)} when the logger is made`, () => {
      const error = (() => {
        try {
          make();
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual([path]);
    });
  }

  test("the options each logger documents are taken", () => {
    const lines: string[] = [];
    const logger = jsonLogger({
      level: "debug",
      write: (line) => void lines.push(line),
      redact: ["cardNumber"],
      base: { service: "orders" },
      now: () => new Date(0),
    });
    logger.debug("x", { card_number: "4111" });
    expect(JSON.parse(lines[0] as string)).toMatchObject({ service: "orders", card_number: "[redacted]" });
    expect(() => consoleLogger({ console, redact: ["cardNumber"] })).not.toThrow();
    expect(() => jsonLogger()).not.toThrow();
  });
});
