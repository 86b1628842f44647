/**
 * A long poll is held by SQS for up to `WaitTimeSeconds`: the poller's receive must outlast it even
 * when the client's own attempt timeout and deadline are shorter. Against moto, an empty queue.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { ulid } from "../../src/index.js";
import { motoAwsOptions } from "../../test/services/moto.ts";
import { AwsJsonClient, sqsService } from "../aws/index.js";
import { createSqsEventConsumer, receiveAndConsume } from "./index.js";

let sqs: AwsJsonClient;
let queueUrl: string;

beforeAll(async () => {
  const aws = await motoAwsOptions();
  sqs = new AwsJsonClient(sqsService, { ...aws.sqs, timeoutMs: 400, attemptTimeoutMs: 300 });
  const created = await new AwsJsonClient(sqsService, aws.sqs).send<{ QueueUrl: string }>("CreateQueue", {
    QueueName: `long-poll-${ulid()}`,
  });
  queueUrl = created.QueueUrl;
}, 120_000);

describe("receiveAndConsume long polls", () => {
  test("a wait longer than the client's attempt timeout and deadline ends with nothing received, not a timeout", async () => {
    const consumer = createSqsEventConsumer({ handlers: () => undefined, dedup: false });
    // moto holds the poll the whole second on an empty queue: a 300 ms attempt would be cut (TimeoutError).
    const result = await receiveAndConsume({ client: sqs, queueUrl, consumer, waitTimeSeconds: 1 });
    expect(result.received).toBe(0);
    expect(result.result.batchItemFailures).toEqual([]);
  });
});
