import {
  assertObject,
  type EventEnvelope,
  type Issue,
  PayloadTooLargeError,
  ServiceError,
  utf8Length,
  ValidationError,
} from "../../src/index.js";
import { type AwsJsonClient, backoffDelay, retryPolicy, sleep } from "../aws/index.js";
import { batchBySize } from "./batches.js";
import type { PutEventsRequestEntry } from "./eventbridge-types.js";

/** An event EventBridge did not take, and why. */
export interface DeadLetter {
  readonly event: EventEnvelope;
  /** The entry as it was sent. */
  readonly entry: PutEventsRequestEntry;
  /** EventBridge's entry error code (`InternalFailure`, `ThrottlingException`, `AccessDeniedException`, ...) or the request's. */
  readonly errorCode: string;
  readonly errorMessage: string;
  /** PutEvents attempts made for this entry. */
  readonly attempts: number;
}

/** Receives dead letters; throw to say they were not kept (the publish then fails, naming them). */
export type DeadLetterHandler = (letters: readonly DeadLetter[]) => void | Promise<void>;

/** Where entries that cannot be published go. */
export interface DeadLetterSink {
  /** Keeps what it can; returns the letters it could not keep, each with why. */
  send(letters: readonly DeadLetter[]): Promise<readonly { letter: DeadLetter; error: unknown }[]>;
}

/**
 * SQS's message size limit, body and message attributes together, which SendMessageBatch also
 * applies to a whole batch.
 */
export const SQS_MAX_MESSAGE_BYTES = 256 * 1024;

/** Marks a dead letter's body; also tells what happened, for whoever reads the queue. */
export const DEAD_LETTER_FIELD = "eventflows-dead-letter";

/**
 * The SQS body of a dead letter: an EventBridge event (as a rule would have delivered it, with the
 * same `source`, `detail-type` and `detail`), so the SQS consumer reads it back like any event, and
 * re-driving it is consuming the queue. Why it failed is in the `eventflows-dead-letter` field.
 */
export function deadLetterBody(letter: DeadLetter, eventBusName: string, region: string): string {
  assertObject(letter, "letter", "dead letter");
  const entry = letter.entry;
  const issues: Issue[] = [];
  if (typeof (letter.event as Partial<EventEnvelope> | null)?.id !== "string") {
    issues.push({ path: ["letter", "event"], message: "must be the event, with its id" });
  }
  if (typeof (entry as Partial<PutEventsRequestEntry> | null)?.Detail !== "string") {
    issues.push({ path: ["letter", "entry"], message: "must be the PutEvents entry, with its Detail" });
  }
  if (typeof eventBusName !== "string") issues.push({ path: ["eventBusName"], message: "must be a string" });
  if (typeof region !== "string") issues.push({ path: ["region"], message: "must be a string" });
  let detail: unknown;
  if (issues.length === 0) {
    try {
      detail = JSON.parse(entry.Detail);
    } catch {
      issues.push({ path: ["letter", "entry", "Detail"], message: "must be JSON" });
    }
  }
  if (issues.length > 0) throw new ValidationError("Invalid dead letter", issues);
  return sqsSafeJson({
    version: "0",
    id: letter.event.id,
    "detail-type": entry.DetailType,
    source: entry.Source,
    account: "",
    time: new Date((entry.Time ?? Date.now() / 1000) * 1000).toISOString(),
    region,
    resources: entry.Resources ?? [],
    detail,
    [DEAD_LETTER_FIELD]: {
      eventBusName,
      errorCode: letter.errorCode,
      errorMessage: letter.errorMessage,
      attempts: letter.attempts,
      failedAt: new Date().toISOString(),
    },
  });
}

/**
 * Characters SQS refuses in a message body and in attribute values (it takes #x9, #xA, #xD, #x20 to
 * #xD7FF, #xE000 to #xFFFD and #x10000 to #x10FFFF). JSON text escapes the rest of them already, but
 * not U+FFFE and U+FFFF, which JSON and EventBridge take, and an event's data may hold.
 */
const SQS_REFUSED = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** JSON text SQS takes: the same value, U+FFFE and U+FFFF written as escapes. */
function sqsSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(SQS_REFUSED, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** An attribute value SQS takes: what it refuses becomes U+FFFD (the body holds the exact text). */
function sqsSafeText(text: string): string {
  return text.replace(SQS_REFUSED, "\uFFFD");
}

type MessageAttributes = Readonly<Record<string, { readonly DataType: "String"; readonly StringValue: string }>>;

interface SendMessageBatchResponse {
  readonly Successful?: readonly { readonly Id: string }[];
  readonly Failed?: readonly {
    readonly Id: string;
    readonly SenderFault?: boolean;
    readonly Code?: string;
    readonly Message?: string;
  }[];
}

export interface SqsDeadLetterSinkOptions {
  readonly client: AwsJsonClient;
  readonly queueUrl: string;
  readonly eventBusName: string;
  /** Largest SQS message, in bytes. Defaults to 256 KiB. */
  readonly maxMessageBytes?: number;
  /** Attempts for entries SQS fails on its side (`SenderFault: false`). Defaults to 5. */
  readonly maxAttempts?: number;
}

/** Sends dead letters to an SQS queue with SendMessageBatch: ten at a time, within the size limit. */
export function sqsDeadLetterSink(options: SqsDeadLetterSinkOptions): DeadLetterSink {
  const limit = options.maxMessageBytes ?? SQS_MAX_MESSAGE_BYTES;
  const policy = retryPolicy({ maxAttempts: options.maxAttempts ?? 5, baseDelayMs: 50, maxDelayMs: 1_000 });
  return {
    async send(letters) {
      const lost: { letter: DeadLetter; error: unknown }[] = [];
      const messages: { letter: DeadLetter; body: string; attributes: MessageAttributes; size: number }[] = [];
      for (const letter of letters) {
        const body = deadLetterBody(letter, options.eventBusName, options.client.region);
        const attributes: MessageAttributes = {
          errorCode: { DataType: "String", StringValue: sqsSafeText(letter.errorCode) },
          eventType: { DataType: "String", StringValue: sqsSafeText(letter.event.type) },
        };
        // SQS counts every part of each message attribute (name, type, value) against the limit too.
        let size = utf8Length(body);
        for (const [name, value] of Object.entries(attributes)) {
          size += utf8Length(name) + utf8Length(value.DataType) + utf8Length(value.StringValue);
        }
        if (size > limit) {
          lost.push({
            letter,
            error: new PayloadTooLargeError(`dead letter of event ${letter.event.id}`, size, limit),
          });
        } else messages.push({ letter, body, attributes, size });
      }
      for (const batch of batchBySize(messages, 10, limit)) {
        let pending = batch;
        for (let attempt = 1; pending.length > 0; attempt++) {
          let response: SendMessageBatchResponse;
          try {
            response = await options.client.send<SendMessageBatchResponse>("SendMessageBatch", {
              QueueUrl: options.queueUrl,
              Entries: pending.map((message, index) => ({
                Id: String(index),
                MessageBody: message.body,
                MessageAttributes: message.attributes,
              })),
            });
          } catch (error) {
            // The client already retried what was worth retrying.
            for (const message of pending) lost.push({ letter: message.letter, error });
            break;
          }
          const retry: typeof pending = [];
          // Kept only when SQS says so: an entry in neither list is lost, as PutEvents' missing results are.
          const answered = new Set([...(response.Successful ?? []), ...(response.Failed ?? [])].map((e) => e.Id));
          pending.forEach((message, index) => {
            if (answered.has(String(index))) return;
            const error = new ServiceError(
              "SQS",
              "SendMessageBatch",
              "MissingResultEntry",
              false,
              "SendMessageBatch returned no result for this entry",
            );
            lost.push({ letter: message.letter, error });
          });
          for (const failed of response.Failed ?? []) {
            const message = pending[Number(failed.Id)];
            if (message === undefined) continue;
            const retryable = failed.SenderFault === false;
            const code = failed.Code ?? "Unknown";
            const error = new ServiceError(
              "SQS",
              "SendMessageBatch",
              code,
              retryable,
              failed.Message ?? "entry failed",
            );
            if (retryable && attempt < policy.maxAttempts) retry.push(message);
            else lost.push({ letter: message.letter, error });
          }
          pending = retry;
          if (pending.length > 0) await sleep(backoffDelay(policy, attempt));
        }
      }
      return lost;
    },
  };
}

/** Passes dead letters to a function; if it throws, all of them count as not kept. */
export function handlerDeadLetterSink(handler: DeadLetterHandler): DeadLetterSink {
  return {
    async send(letters) {
      try {
        await handler(letters);
        return [];
      } catch (error) {
        return letters.map((letter) => ({ letter, error }));
      }
    },
  };
}
