import { afterEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { InMemoryEventBus, jsonLogger, type LogFields, type Logger, setLogger } from "../index.js";
import { testEnvelope } from "../testing/index.js";

afterEach(() => setLogger(undefined));

/** A logger of the application's own: it keeps what it is given, as a logging library would. */
function collecting() {
  const lines: { level: string; message: string; fields: LogFields | undefined }[] = [];
  const at =
    (level: string) =>
    (message: string, fields?: LogFields): void =>
      void lines.push({ level, message, fields });
  const logger: Logger = { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
  return { logger, lines };
}

/** Makes the event bus write its own line: a handler fails with `error`, and no onError is given. */
async function failingHandler(error: Error, type = "OrderPlaced"): Promise<void> {
  const bus = new InMemoryEventBus();
  bus.subscribe(
    { type },
    () => {
      throw error;
    },
    { name: "mailer" },
  );
  await bus.publish([testEnvelope(type, "Order-7")]);
}

describe("the library's logger set to a custom logger", () => {
  // A custom logger used to get the library's fields as they were: this error's message, password and all.
  test("gets the library's lines redacted: no connection-string password or password= value, the rest of the line intact", async () => {
    const { logger, lines } = collecting();
    setLogger(logger);
    await failingHandler(
      new Error("connect to postgres://user:secret@host/db failed (host=db port=5432 password=hunter2 user=app)"),
    );
    const seen = JSON.stringify(lines);
    expect(seen).not.toContain("secret");
    expect(seen).not.toContain("hunter2");
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line?.level).toBe("error");
    expect(line?.message).toBe('handler "mailer" failed for event OrderPlaced');
    expect(line?.fields).toMatchObject({
      eventType: "OrderPlaced",
      streamId: "Order-7",
      subscription: "mailer",
      error: {
        name: "Error",
        message:
          "connect to postgres://user:[redacted]@host/db failed (host=db port=5432 password=[redacted] user=app)",
        stack: expect.stringContaining("postgres://user:[redacted]@host/db"),
      },
    });
  });

  test("property: a password in an error's URL or key=value pair never reaches a custom logger, whatever the text around it", async () => {
    const { logger, lines } = collecting();
    setLogger(logger);
    const word = fc.stringMatching(/^[A-Za-z0-9]{1,12}$/);
    await fc.assert(
      fc.asyncProperty(word, word, fc.stringMatching(/^[A-Za-z0-9]{8,16}$/), async (before, after, password) => {
        lines.length = 0;
        const secret = `S3cr${password}`;
        await failingHandler(
          new Error(`${before} postgres://app:${secret}@db:5432/orders ${after} dbname=orders password='${secret}'`),
        );
        expect(lines).toHaveLength(1);
        expect(JSON.stringify(lines)).not.toContain(secret);
        expect(JSON.stringify(lines)).toContain(`${before} postgres://app:[redacted]@db:5432/orders ${after}`);
      }),
      { numRuns: 50 },
    );
  });

  test("a copy of a library logger with a method of the application's is a custom logger: its lines are redacted", async () => {
    const { logger, lines } = collecting();
    setLogger({ ...jsonLogger(), error: logger.error });
    await failingHandler(new Error("dial postgres://user:secret@host/db refused"));
    expect(lines).toHaveLength(1);
    expect(lines[0]?.fields?.error).toMatchObject({ message: "dial postgres://user:[redacted]@host/db refused" });
  });

  test("a logger of the library's, which redacts for itself, still writes the line redacted", async () => {
    const written: string[] = [];
    setLogger(jsonLogger({ write: (line) => void written.push(line) }));
    await failingHandler(new Error("dial postgres://user:secret@host/db refused"));
    expect(written).toHaveLength(1);
    const line = JSON.parse(written[0] as string);
    expect(line.error).toMatchObject({ name: "Error", message: "dial postgres://user:[redacted]@host/db refused" });
    expect(written[0]).not.toContain("secret");
  });
});
