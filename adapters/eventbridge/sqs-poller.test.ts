import { expect, test } from "bun:test";
import { isValidationError, type ValidationError } from "../../src/index.js";
import { createSqsEventConsumer, receiveAndConsume } from "./index.js";

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
});
