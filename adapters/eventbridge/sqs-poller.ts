import { getLogger, type Issue, unknownKeyIssues, ValidationError } from "../../src/index.js";
import { AwsJsonClient, type AwsJsonClientOptions, isCredentialFreeHttpUrl, sqsService } from "../aws/index.js";
import type { ConsumeResult, SqsEventConsumer } from "./consumer.js";

export interface ReceiveAndConsumeOptions {
  /** The queue's URL: http(s), with no user or password in it. */
  readonly queueUrl: string;
  readonly consumer: SqsEventConsumer;
  /** An SQS client; otherwise one is made from `aws`. Make it once and pass it when polling in a loop. */
  readonly client?: AwsJsonClient;
  readonly aws?: AwsJsonClientOptions;
  /** 1 to 10. Defaults to 10. */
  readonly maxMessages?: number;
  /** Long polling, 0 to 20 seconds. Defaults to 0 (return at once). */
  readonly waitTimeSeconds?: number;
  /** How long received messages stay hidden, 0 to 43,200 seconds (12 hours); defaults to the queue's setting. */
  readonly visibilityTimeoutSeconds?: number;
  /** Make failed messages visible again at once instead of after the visibility timeout. Defaults to false. */
  readonly releaseFailed?: boolean;
  /**
   * Stops the receive (a long poll), which then rejects with the signal's reason. A batch already
   * received is handled and deleted in full: stopping never makes handled messages come back.
   */
  readonly signal?: AbortSignal;
}

export interface ReceiveAndConsumeResult {
  readonly received: number;
  readonly result: ConsumeResult;
  /** Messages deleted: those handled, duplicates and unhandled. Failed ones stay for redelivery. */
  readonly deleted: number;
  /**
   * Messages handled but not deleted (DeleteMessageBatch failed for them or did not list them as done, or
   * failed as a whole after its retries; logged): they come back, and dedup skips them.
   */
  readonly undeleted: number;
}

/** What DeleteMessageBatch and ChangeMessageVisibilityBatch answer: the ids of the entries done, and of those not. */
interface BatchAnswer {
  readonly Successful?: readonly { readonly Id?: unknown }[];
  readonly Failed?: readonly unknown[];
}

/**
 * How many of a batch's `count` entries (ids "0" to count - 1) SQS did not list as done: those it failed, and
 * those in neither list. Done only when SQS says so, as the dead-letter sink counts a message kept: an entry in
 * neither list was taken for deleted, and its message, back after the visibility timeout, for gone.
 */
function unconfirmed(answer: BatchAnswer, count: number): number {
  const done = new Set((answer.Successful ?? []).map((entry) => entry.Id));
  let left = 0;
  for (let id = 0; id < count; id++) if (!done.has(String(id))) left++;
  return left;
}

interface ReceivedMessage {
  readonly MessageId: string;
  readonly ReceiptHandle: string;
  readonly Body: string;
}

/**
 * One poll of an SQS queue outside Lambda (a container, a Bun or Node worker): receives a batch,
 * hands it to the consumer, deletes what it handled and leaves failed messages to be redelivered,
 * as Lambda's partial batch responses do.
 */
const RECEIVE_OPTIONS = Object.keys({
  queueUrl: true,
  consumer: true,
  client: true,
  aws: true,
  maxMessages: true,
  waitTimeSeconds: true,
  visibilityTimeoutSeconds: true,
  releaseFailed: true,
  signal: true,
} satisfies Record<keyof ReceiveAndConsumeOptions, true>);

export async function receiveAndConsume(given: ReceiveAndConsumeOptions): Promise<ReceiveAndConsumeResult> {
  // From JavaScript, no options at all: refused below like missing ones, not a TypeError.
  const options = (given ?? {}) as ReceiveAndConsumeOptions;
  // A misspelt `waitTimeSecond` polled short, not long, without a word.
  const issues: Issue[] = unknownKeyIssues(options, RECEIVE_OPTIONS);
  const maxMessages = options.maxMessages ?? 10;
  const waitTimeSeconds = options.waitTimeSeconds ?? 0;
  if (!Number.isSafeInteger(maxMessages) || maxMessages < 1 || maxMessages > 10) {
    issues.push({ path: ["maxMessages"], message: "maxMessages must be an integer from 1 to 10" });
  }
  if (!Number.isSafeInteger(waitTimeSeconds) || waitTimeSeconds < 0 || waitTimeSeconds > 20) {
    issues.push({ path: ["waitTimeSeconds"], message: "waitTimeSeconds must be an integer from 0 to 20" });
  }
  const visibility = options.visibilityTimeoutSeconds;
  if (visibility !== undefined && (!Number.isSafeInteger(visibility) || visibility < 0 || visibility > 43_200)) {
    issues.push({
      path: ["visibilityTimeoutSeconds"],
      message: "visibilityTimeoutSeconds must be an integer from 0 to 43200 (12 hours)",
    });
  }
  if (!isCredentialFreeHttpUrl(options.queueUrl)) {
    issues.push({ path: ["queueUrl"], message: "queueUrl must be an http(s) URL without a user or password" });
  }
  if (typeof options.consumer?.consume !== "function") {
    issues.push({ path: ["consumer"], message: "consumer must be an SqsEventConsumer" });
  }
  // What TypeScript says of the rest, for JavaScript callers.
  if (options.client !== undefined && typeof options.client?.send !== "function") {
    issues.push({ path: ["client"], message: "client must be an AwsJsonClient" });
  }
  if (options.releaseFailed !== undefined && typeof options.releaseFailed !== "boolean") {
    issues.push({ path: ["releaseFailed"], message: "releaseFailed must be a boolean" });
  }
  if (issues.length > 0) throw new ValidationError("Invalid receiveAndConsume options", issues);
  const client = options.client ?? new AwsJsonClient(sqsService, options.aws);
  // A long poll is held by SQS for up to waitTimeSeconds: each attempt gets that on top of its own time.
  // The signal stops the receive only: a batch received is handled, then deleted (or released) whatever
  // the signal says since, or a worker stopping mid-batch would see the whole batch redelivered and
  // handled again (its in-memory dedup store gone with it). Those calls keep the client's deadline.
  const receive = {
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    serverWaitMs: waitTimeSeconds * 1000,
  };
  const received = await client.send<{ Messages?: readonly ReceivedMessage[] }>(
    "ReceiveMessage",
    {
      QueueUrl: options.queueUrl,
      MaxNumberOfMessages: maxMessages,
      WaitTimeSeconds: waitTimeSeconds,
      ...(options.visibilityTimeoutSeconds === undefined
        ? {}
        : { VisibilityTimeout: options.visibilityTimeoutSeconds }),
    },
    receive,
  );
  const messages = received.Messages ?? [];
  const result = await options.consumer.consume(messages.map((m) => ({ messageId: m.MessageId, body: m.Body })));
  const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
  const done = messages.filter((m) => !failed.has(m.MessageId));
  let undeleted = 0;
  for (let i = 0; i < done.length; i += 10) {
    const chunk = done.slice(i, i + 10);
    try {
      const response = await client.send<BatchAnswer>("DeleteMessageBatch", {
        QueueUrl: options.queueUrl,
        Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })),
      });
      const left = unconfirmed(response, chunk.length);
      undeleted += left;
      if (left > 0) {
        getLogger().error("SQS DeleteMessageBatch did not delete every handled message: those will be received again", {
          undeleted: left,
        });
      }
    } catch (error) {
      // After the client's retries: these come back after the visibility timeout and dedup skips
      // them. Thrown, the error would lose the result of a batch whose handlers have run.
      undeleted += chunk.length;
      getLogger().error("SQS DeleteMessageBatch failed: the handled messages will be received again", { error });
    }
  }
  if (options.releaseFailed === true) {
    const retry = messages.filter((m) => failed.has(m.MessageId));
    for (let i = 0; i < retry.length; i += 10) {
      const chunk = retry.slice(i, i + 10);
      try {
        const response = await client.send<BatchAnswer>("ChangeMessageVisibilityBatch", {
          QueueUrl: options.queueUrl,
          Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })),
        });
        const left = unconfirmed(response, chunk.length);
        if (left > 0) {
          getLogger().error(
            "SQS ChangeMessageVisibilityBatch did not release every failed message: those come back after the timeout",
            {
              unreleased: left,
            },
          );
        }
      } catch (error) {
        // Failed messages come back after the visibility timeout anyway.
        getLogger().error("SQS ChangeMessageVisibilityBatch failed: failed messages come back after the timeout", {
          error,
        });
      }
    }
  }
  return { received: messages.length, result, deleted: done.length - undeleted, undeleted };
}
