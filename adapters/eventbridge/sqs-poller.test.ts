import { expect, test } from "bun:test";
import { isValidationError, jsonLogger, setLogger, type ValidationError } from "../../src/index.js";
import { testEnvelope } from "../../src/testing/index.js";
import { createSqsEventConsumer, envelopeDetail, receiveAndConsume } from "./index.js";

const sent: Request[] = [];
const aws = {
  region: "us-east-1",
  endpoint: "http://127.0.0.1:9",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  fetch: async (request: Request): Promise<Response> => {
    sent.push(request);
    throw new Error("this test must not send anything");
  },
};

test("receiveAndConsume refuses a queue URL that is not http(s) or has a user or password, without echoing it", async () => {
  const consumer = createSqsEventConsumer({ handlers: {} });
  for (const queueUrl of [
    "https://user:pw-secret@sqs.eu-west-1.amazonaws.com/1/q",
    "http://pw-secret@127.0.0.1:9/q",
    "not a url",
    "",
  ]) {
    let thrown: unknown;
    try {
      await receiveAndConsume({ queueUrl, consumer, aws });
    } catch (error) {
      thrown = error;
    }
    expect(isValidationError(thrown)).toBe(true);
    expect((thrown as ValidationError).issues).toEqual([
      { path: ["queueUrl"], message: "queueUrl must be an http(s) URL without a user or password" },
    ]);
    expect(JSON.stringify(thrown) + String(thrown) + (thrown as Error).stack).not.toContain("pw-secret");
  }
  expect(sent).toHaveLength(0);
});

test("receiveAndConsume refuses numbers SQS would refuse (maxMessages, waitTimeSeconds, visibilityTimeoutSeconds) before any request", async () => {
  const consumer = createSqsEventConsumer({ handlers: {} });
  const queueUrl = "http://127.0.0.1:9/000000000000/q";
  const cases: [Record<string, unknown>, string][] = [
    [{ maxMessages: 0 }, "maxMessages"],
    [{ maxMessages: 11 }, "maxMessages"],
    [{ waitTimeSeconds: 21 }, "waitTimeSeconds"],
    [{ waitTimeSeconds: 0.5 }, "waitTimeSeconds"],
    // SQS takes 0 to 43,200 seconds (12 hours), whole.
    [{ visibilityTimeoutSeconds: -5 }, "visibilityTimeoutSeconds"],
    [{ visibilityTimeoutSeconds: 1.5 }, "visibilityTimeoutSeconds"],
    [{ visibilityTimeoutSeconds: 43_201 }, "visibilityTimeoutSeconds"],
    [{ visibilityTimeoutSeconds: "30" }, "visibilityTimeoutSeconds"],
    // From JavaScript, options of the wrong kind: each was a bare TypeError (the client's at its first request).
    [{ client: {} }, "client"],
    [{ releaseFailed: "yes" }, "releaseFailed"],
  ];
  for (const [options, path] of cases) {
    let thrown: unknown;
    try {
      await receiveAndConsume({ queueUrl, consumer, aws, ...options });
    } catch (error) {
      thrown = error;
    }
    expect(isValidationError(thrown)).toBe(true);
    expect((thrown as ValidationError).issues.map((issue) => issue.path.join("."))).toEqual([path]);
  }
  expect(sent).toHaveLength(0);
  // No options at all: a ValidationError naming what is missing, not a TypeError.
  const none = await receiveAndConsume(undefined as never).catch((error: unknown) => error);
  expect(isValidationError(none)).toBe(true);
  expect((none as ValidationError).issues.map((issue) => issue.path.join("."))).toEqual(["queueUrl", "consumer"]);
});

test("a DeleteMessageBatch or release request that fails outright after its retries is counted undeleted, not thrown with the batch's result lost (a test double answers SQS)", async () => {
  const bodies = [testEnvelope("A", "S-1"), testEnvelope("B", "S-2")].map((event) =>
    JSON.stringify({ source: "test", "detail-type": event.type, detail: envelopeDetail(event) }),
  );
  bodies.push("not json");
  const calls: string[] = [];
  const double = async (request: Request): Promise<Response> => {
    const action = request.headers.get("x-amz-target")?.split(".")[1] ?? "";
    calls.push(action);
    if (action === "ReceiveMessage") {
      return Response.json({
        Messages: bodies.map((Body, i) => ({ MessageId: `m-${i}`, ReceiptHandle: `r-${i}`, Body })),
      });
    }
    return Response.json({ __type: "com.amazonaws.sqs#InternalError", message: "internal" }, { status: 500 });
  };
  const handled: string[] = [];
  const consumer = createSqsEventConsumer({ handlers: (event) => void handled.push(event.type), onFailure: () => {} });
  const result = await receiveAndConsume({
    queueUrl: "http://127.0.0.1:9/000000000000/q",
    consumer,
    aws: { ...aws, fetch: double, retry: { maxAttempts: 2, baseDelayMs: 0 } },
    releaseFailed: true,
  });
  expect(handled).toEqual(["A", "B"]);
  expect(result.received).toBe(3);
  expect(result.result.handled).toBe(2);
  expect(result.deleted).toBe(0);
  expect(result.undeleted).toBe(2);
  expect(calls).toContain("ChangeMessageVisibilityBatch");
});

test("delete and release entries SQS fails, or answers in neither list, are counted undeleted and logged, never taken for done (a test double answers SQS: moto fails no such entry)", async () => {
  const bodies = ["A", "B", "C", "D"].map((type, i) => {
    const event = testEnvelope(type, `S-${i}`);
    return JSON.stringify({ source: "test", "detail-type": event.type, detail: envelopeDetail(event) });
  });
  bodies.push("not json", "still not json");
  const double = async (request: Request): Promise<Response> => {
    const action = request.headers.get("x-amz-target")?.split(".")[1] ?? "";
    if (action === "ReceiveMessage") {
      return Response.json({
        Messages: bodies.map((Body, i) => ({ MessageId: `m-${i}`, ReceiptHandle: `r-${i}`, Body })),
      });
    }
    // Of each batch: the first entry done, the second failed, the rest in neither list.
    const { Entries } = (await request.json()) as { Entries: { Id: string }[] };
    return Response.json({
      Successful: Entries.slice(0, 1).map(({ Id }) => ({ Id })),
      Failed: Entries.slice(1, 2).map(({ Id }) => ({ Id, SenderFault: true, Code: "ReceiptHandleIsInvalid" })),
    });
  };
  const lines: string[] = [];
  setLogger(jsonLogger({ write: (line) => void lines.push(line) }));
  try {
    const consumer = createSqsEventConsumer({ handlers: () => undefined, onFailure: () => {} });
    const result = await receiveAndConsume({
      queueUrl: "http://127.0.0.1:9/000000000000/q",
      consumer,
      aws: { ...aws, fetch: double },
      releaseFailed: true,
    });
    expect(result.result.handled).toBe(4);
    expect({ deleted: result.deleted, undeleted: result.undeleted }).toEqual({ deleted: 1, undeleted: 3 });
    const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
    expect(messages.filter((msg) => msg.includes("DeleteMessageBatch"))).toHaveLength(1);
    expect(messages.filter((msg) => msg.includes("ChangeMessageVisibilityBatch"))).toHaveLength(1);
  } finally {
    setLogger(undefined);
  }
});
