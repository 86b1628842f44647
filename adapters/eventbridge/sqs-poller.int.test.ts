/**
 * A long poll is held by SQS for up to `WaitTimeSeconds`: the poller's receive must outlast it even
 * when the client's own attempt timeout and deadline are shorter. And a stop (the signal) ends a
 * receive, never a batch already received. Against moto.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { type EventEnvelope, ulid } from "../../src/index.js";
import { testEnvelope } from "../../src/testing/index.js";
import { motoAwsOptions } from "../../test/services/moto.ts";
import { AwsJsonClient, sqsService } from "../aws/index.js";
import { createSqsEventConsumer, envelopeDetail, receiveAndConsume } from "./index.js";

let sqs: AwsJsonClient;
let plain: AwsJsonClient;
let queueUrl: string;

beforeAll(async () => {
  const aws = await motoAwsOptions();
  plain = new AwsJsonClient(sqsService, aws.sqs);
  // A deadline and attempt timeout shorter than the long poll below, with seconds to spare for moto's own time.
  sqs = new AwsJsonClient(sqsService, { ...aws.sqs, timeoutMs: 2_000, attemptTimeoutMs: 1_000 });
  const created = await new AwsJsonClient(sqsService, aws.sqs).send<{ QueueUrl: string }>("CreateQueue", {
    QueueName: `long-poll-${ulid()}`,
  });
  queueUrl = created.QueueUrl;
}, 120_000);

describe("receiveAndConsume long polls", () => {
  test("a wait longer than the client's attempt timeout and deadline ends with nothing received, not a timeout", async () => {
    const consumer = createSqsEventConsumer({ handlers: () => undefined, dedup: false });
    // moto holds the poll the whole 3 s on an empty queue: a 1 s attempt would be cut (TimeoutError).
    const result = await receiveAndConsume({ client: sqs, queueUrl, consumer, waitTimeSeconds: 3 });
    expect(result.received).toBe(0);
    expect(result.result.batchItemFailures).toEqual([]);
  });
});

async function queueWith(events: readonly EventEnvelope[]): Promise<string> {
  const { QueueUrl } = await plain.send<{ QueueUrl: string }>("CreateQueue", {
    QueueName: `stop-${ulid()}`,
    Attributes: { VisibilityTimeout: "1" },
  });
  await plain.send("SendMessageBatch", {
    QueueUrl,
    Entries: events.map((event, i) => ({
      Id: String(i),
      MessageBody: JSON.stringify({ source: "test", "detail-type": event.type, detail: envelopeDetail(event) }),
    })),
  });
  return QueueUrl;
}

describe("receiveAndConsume and its signal", () => {
  test("a stop while a received batch is being handled: the batch is still deleted, not redelivered to run again", async () => {
    const events = [testEnvelope("A", "S-1"), testEnvelope("B", "S-2"), testEnvelope("C", "S-3")];
    const url = await queueWith(events);
    const stop = new AbortController();
    const seen: string[] = [];
    // A worker stopping (SIGTERM) while its handlers run: its in-memory dedup store goes with it.
    const consumer = createSqsEventConsumer({
      handlers: (event) => {
        seen.push(event.id);
        stop.abort(new Error("stopping"));
      },
    });
    const result = await receiveAndConsume({ client: plain, queueUrl: url, consumer, signal: stop.signal });
    expect(result.received).toBe(3);
    expect(result.result.handled).toBe(3);
    expect(result.deleted).toBe(3);
    expect(seen.sort()).toEqual(events.map((e) => e.id).sort());
    // Past the 1 s visibility timeout, nothing comes back.
    await Bun.sleep(1_500);
    const again = await plain.send<{ Messages?: unknown[] }>("ReceiveMessage", {
      QueueUrl: url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
    });
    expect(again.Messages ?? []).toEqual([]);
  });

  test("a stop during a long poll ends it with the signal's reason, having handled nothing", async () => {
    const { QueueUrl: url } = await plain.send<{ QueueUrl: string }>("CreateQueue", { QueueName: `stop-${ulid()}` });
    // The receive's own requests, seen going out: the stop comes once the long poll is in flight.
    let polling!: () => void;
    const inFlight = new Promise<void>((resolve) => {
      polling = resolve;
    });
    const client = new AwsJsonClient(sqsService, {
      ...(await motoAwsOptions()).sqs,
      fetch: (request) => {
        polling();
        return fetch(request);
      },
    });
    const seen: unknown[] = [];
    const consumer = createSqsEventConsumer({ handlers: (event) => void seen.push(event) });
    const reason = new Error("stopping");
    const stop = new AbortController();
    const outcome = receiveAndConsume({
      client,
      queueUrl: url,
      consumer,
      waitTimeSeconds: 20,
      signal: stop.signal,
    }).catch((error: unknown) => error);
    await inFlight;
    // A witness: a second long poll of the same empty queue, started after the first with half its
    // wait. A stop heeded only once SQS answers would leave the receive running past the witness's end.
    const witnessStop = new AbortController();
    let witnessEnded = false;
    const witness = plain
      .send(
        "ReceiveMessage",
        { QueueUrl: url, WaitTimeSeconds: 10 },
        { serverWaitMs: 10_000, signal: witnessStop.signal },
      )
      .catch(() => undefined)
      .finally(() => {
        witnessEnded = true;
      });
    stop.abort(reason);
    expect(await outcome).toBe(reason);
    expect(witnessEnded).toBe(false);
    expect(seen).toEqual([]);
    witnessStop.abort(new Error("done"));
    await witness;
  });
});
