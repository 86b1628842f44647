import {
  callHook,
  type EventBusCapabilities,
  type EventBusOptions,
  type EventEnvelope,
  type EventPublisher,
  type HandlerFailure,
  type Issue,
  isServiceError,
  isValidationError,
  objectIssues,
  PayloadTooLargeError,
  ServiceError,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
// Not on the aws entry point: how the client keeps a service's message, which the bus keeps an entry's by.
import { serviceMessage } from "../aws/errors.js";
import {
  AwsJsonClient,
  type AwsJsonClientOptions,
  backoffDelay,
  eventBridgeService,
  isCredentialFreeHttpUrl,
  type RetryPolicy,
  retryPolicy,
  sleep,
  sqsService,
} from "../aws/index.js";
import { batchBySize } from "./batches.js";
import {
  type DeadLetter,
  type DeadLetterHandler,
  type DeadLetterSink,
  handlerDeadLetterSink,
  SQS_MAX_MESSAGE_BYTES,
  sqsDeadLetterSink,
} from "./dead-letters.js";
import { mapped, PublishIncompleteError } from "./errors.js";
import type { PutEventsRequestEntry, PutEventsResponse } from "./eventbridge-types.js";
import {
  type EntryParts,
  type EnvelopeMappingOptions,
  type EventBridgeMapping,
  entrySize,
  envelopeIssues,
  envelopeMapping,
} from "./mapping.js";
import type { EventBridgePublishResult } from "./publish-result.js";

/** EventBridge's limits for one PutEvents request. */
export const MAX_ENTRIES_PER_REQUEST = 10;
export const MAX_REQUEST_BYTES = 256 * 1024;

/**
 * The most SQS takes in one message and in one SendMessageBatch request. Dead letters are batched up to
 * `maxMessageBytes`: above this, a batch SQS refuses whole (BatchRequestTooLong) loses every letter in it.
 */
const SQS_LARGEST_MESSAGE_BYTES = 1024 * 1024;

/** Entry error codes worth another attempt: EventBridge's own transient failures. */
export const RETRYABLE_ENTRY_CODES: ReadonlySet<string> = new Set(["InternalFailure", "ThrottlingException"]);

export interface DeadLetterQueueOptions {
  /** The queue's URL: http(s), with no user or password in it. */
  readonly queueUrl: string;
  /** An SQS client; otherwise one is made from `aws` (or the bus's own `aws` options). */
  readonly client?: AwsJsonClient;
  readonly aws?: AwsJsonClientOptions;
  /** Largest message the queue takes, in bytes. Defaults to 256 KiB. */
  readonly maxMessageBytes?: number;
}

export interface EntryRetryOptions {
  /** PutEvents attempts per entry, the first included. Defaults to 5. */
  readonly maxAttempts?: number;
  /** Backoff ceiling of the first retry in ms, doubling each time. Defaults to 100. */
  readonly baseDelayMs?: number;
  /** Highest backoff ceiling in ms. Defaults to 5,000. */
  readonly maxDelayMs?: number;
  /** The jitter's source, for tests. */
  readonly random?: () => number;
}

export interface EventBridgeEventBusOptions extends EventBusOptions, EnvelopeMappingOptions {
  /** The bus's name or ARN. Defaults to `"default"`. */
  readonly eventBusName?: string;
  /**
   * How envelopes become entries. Defaults to {@link envelopeMapping} with the `source`,
   * `detailType` and `resources` options given here.
   */
  readonly mapping?: EventBridgeMapping;
  /** An EventBridge client; otherwise one is made from `aws`. */
  readonly client?: AwsJsonClient;
  /** Region, credentials, endpoint, `fetch`, request retries: read from the environment where not given. */
  readonly aws?: AwsJsonClientOptions;
  /** The request size limit entries are batched under. Defaults to EventBridge's 256 KiB. */
  readonly maxRequestBytes?: number;
  /** Retries of entries that fail with a retryable code (the client retries whole failed requests). */
  readonly entryRetry?: EntryRetryOptions;
  /** Entry error codes to retry. Defaults to {@link RETRYABLE_ENTRY_CODES}. */
  readonly retryableEntryCodes?: ReadonlySet<string>;
  /**
   * Where events go that EventBridge would not take: an SQS queue, or a function. Without one, such
   * events make `publish` throw a {@link PublishIncompleteError} naming them.
   */
  readonly deadLetter?: DeadLetterQueueOptions | DeadLetterHandler;
}

interface Pending {
  readonly event: EventEnvelope;
  readonly entry: PutEventsRequestEntry;
  readonly size: number;
  attempts: number;
}

const BUS_OPTIONS = Object.keys({
  onError: true,
  telemetry: true,
  source: true,
  detailType: true,
  resources: true,
  eventBusName: true,
  mapping: true,
  client: true,
  aws: true,
  maxRequestBytes: true,
  entryRetry: true,
  retryableEntryCodes: true,
  deadLetter: true,
} satisfies Record<keyof EventBridgeEventBusOptions, true>);
const ENTRY_RETRY_OPTIONS = Object.keys({
  maxAttempts: true,
  baseDelayMs: true,
  maxDelayMs: true,
  random: true,
} satisfies Record<keyof EntryRetryOptions, true>);
const DEAD_LETTER_OPTIONS = Object.keys({
  queueUrl: true,
  client: true,
  aws: true,
  maxMessageBytes: true,
} satisfies Record<keyof DeadLetterQueueOptions, true>);

/**
 * Publishes events to an Amazon EventBridge bus with PutEvents. Events are sent in order, in
 * requests of at most 10 entries and `maxRequestBytes`; each envelope travels whole in `Detail`.
 * Entries EventBridge fails with a retryable code are sent again with backoff; what still fails, or
 * fails for good, goes to the dead-letter queue or handler, and the result says which events did.
 * Nothing is dropped silently: if an event can be neither published nor dead-lettered, `publish`
 * throws a {@link PublishIncompleteError} that names it.
 *
 * A remote bus: an {@link EventPublisher} (what an event store's `bus` option takes), with no
 * `subscribe` at all. Subscriptions are EventBridge rules; consume what a rule delivers to an SQS
 * queue with {@link SqsEventConsumer}.
 *
 * @throws {ValidationError} from the constructor: missing region or credentials, bad options.
 */
export class EventBridgeEventBus implements EventPublisher {
  readonly capabilities: EventBusCapabilities = { localSubscribers: false };
  readonly eventBusName: string;
  readonly client: AwsJsonClient;
  readonly #mapping: EventBridgeMapping;
  readonly #maxRequestBytes: number;
  readonly #retry: RetryPolicy;
  readonly #retryable: ReadonlySet<string>;
  readonly #deadLetters: DeadLetterSink | undefined;
  readonly #onError: ((failure: HandlerFailure) => void) | undefined;
  readonly #subscription: string;
  /** Whether `Detail` comes from the caller's mapping, so must be checked (the default's is always an object). */
  readonly #customMapping: boolean;

  constructor(given: EventBridgeEventBusOptions = {}) {
    // null is no options, as everywhere in the library (it was a TypeError).
    const options = given ?? {};
    if (typeof options !== "object") {
      throw new ValidationError("Invalid EventBridge event bus options", [
        { path: [], message: "options must be an object" },
      ]);
    }
    // A misspelt `eventBusNmae` published to the default bus, `entryRetry: { maxAttempt }` kept 5 attempts.
    const issues: Issue[] = [
      ...unknownKeyIssues(options, BUS_OPTIONS),
      ...unknownKeyIssues(options.entryRetry, ENTRY_RETRY_OPTIONS, ["entryRetry"]),
      ...(typeof options.deadLetter === "function"
        ? []
        : unknownKeyIssues(options.deadLetter, DEAD_LETTER_OPTIONS, ["deadLetter"])),
    ];
    const eventBusName = options.eventBusName ?? "default";
    if (!isEventBusName(eventBusName)) {
      issues.push({
        path: ["eventBusName"],
        message:
          "eventBusName must be a bus name (letters, digits, . - _ /) or an event-bus ARN, of 1 to 1600 characters",
      });
    }
    const maxRequestBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
    if (!Number.isSafeInteger(maxRequestBytes) || maxRequestBytes < 1 || maxRequestBytes > MAX_REQUEST_BYTES) {
      issues.push({
        path: ["maxRequestBytes"],
        message: `maxRequestBytes must be an integer from 1 to ${MAX_REQUEST_BYTES}`,
      });
    }
    const retry = entryRetryPolicy(options.entryRetry);
    if (Array.isArray(retry)) issues.push(...retry);
    const deadLetter = options.deadLetter;
    if (
      deadLetter !== undefined &&
      typeof deadLetter !== "function" &&
      !isCredentialFreeHttpUrl(deadLetter?.queueUrl)
    ) {
      issues.push({
        path: ["deadLetter", "queueUrl"],
        message: "deadLetter must be a function or { queueUrl } with an http(s) URL without a user or password",
      });
    }
    if (
      deadLetter !== undefined &&
      typeof deadLetter !== "function" &&
      deadLetter?.client !== undefined &&
      typeof deadLetter.client?.send !== "function"
    ) {
      issues.push({ path: ["deadLetter", "client"], message: "deadLetter.client must be an AWS client (with send)" });
    }
    if (
      deadLetter !== undefined &&
      typeof deadLetter !== "function" &&
      deadLetter?.maxMessageBytes !== undefined &&
      (!Number.isSafeInteger(deadLetter.maxMessageBytes) ||
        deadLetter.maxMessageBytes < 1 ||
        deadLetter.maxMessageBytes > SQS_LARGEST_MESSAGE_BYTES)
    ) {
      issues.push({
        path: ["deadLetter", "maxMessageBytes"],
        message: `maxMessageBytes must be an integer from 1 to ${SQS_LARGEST_MESSAGE_BYTES} (SQS's largest message)`,
      });
    }
    // What TypeScript says of the rest, for JavaScript callers: each would otherwise fail later, at
    // publish, with a TypeError.
    const kinds: [keyof EventBridgeEventBusOptions, boolean, string][] = [
      ["source", isOneOf(options.source, "string", "function"), "a string or a function of the event"],
      ["detailType", isOneOf(options.detailType, "function"), "a function of the event"],
      ["resources", isOneOf(options.resources, "function"), "a function of the event"],
      [
        "mapping",
        options.mapping === undefined ||
          (typeof options.mapping?.toEntry === "function" && typeof options.mapping.fromEvent === "function"),
        "an object with toEntry and fromEvent functions",
      ],
      [
        "retryableEntryCodes",
        options.retryableEntryCodes === undefined || typeof options.retryableEntryCodes?.has === "function",
        "a set of error codes",
      ],
      ["onError", isOneOf(options.onError, "function"), "a function"],
      // A client without send failed every publish with a PublishIncompleteError quoting the TypeError.
      [
        "client",
        options.client === undefined || typeof options.client?.send === "function",
        "an AWS client (with send)",
      ],
      // Unused here, but refused as every bus refuses it (the page says it is taken as they take it).
      ["telemetry", isOneOf(options.telemetry, "boolean"), "a boolean"],
    ];
    for (const [name, ok, what] of kinds) if (!ok) issues.push({ path: [name], message: `${name} must be ${what}` });
    if (issues.length > 0) throw new ValidationError("Invalid EventBridge bus options", issues);
    this.eventBusName = eventBusName;
    this.#maxRequestBytes = maxRequestBytes;
    this.client = options.client ?? new AwsJsonClient(eventBridgeService, options.aws);
    this.#mapping =
      options.mapping ??
      envelopeMapping({ source: options.source, detailType: options.detailType, resources: options.resources });
    this.#customMapping = options.mapping !== undefined;
    this.#retry = retry as RetryPolicy;
    this.#retryable = options.retryableEntryCodes ?? RETRYABLE_ENTRY_CODES;
    this.#onError = options.onError;
    this.#subscription = `eventbridge:${eventBusName}`;
    if (deadLetter === undefined) this.#deadLetters = undefined;
    else if (typeof deadLetter === "function") this.#deadLetters = handlerDeadLetterSink(deadLetter);
    else {
      this.#deadLetters = sqsDeadLetterSink({
        client: deadLetter.client ?? new AwsJsonClient(sqsService, deadLetter.aws ?? options.aws),
        queueUrl: deadLetter.queueUrl,
        eventBusName,
        maxMessageBytes: deadLetter.maxMessageBytes ?? SQS_MAX_MESSAGE_BYTES,
      });
    }
  }

  /**
   * Publishes the events, in order.
   * @throws {ValidationError} an event is not a valid envelope: nothing is sent.
   * @throws {PayloadTooLargeError} an event's entry exceeds the request size limit: nothing is sent.
   * @throws {MappingFailedError} a mapping function (`source`, `detailType`, `resources`, `toEntry`) threw: nothing is sent.
   * @throws {PublishIncompleteError} some events were neither published nor dead-lettered.
   */
  async publish(events: readonly EventEnvelope[]): Promise<EventBridgePublishResult> {
    const pending = this.#prepare(events);
    const published: { event: EventEnvelope; eventId: string }[] = [];
    const failed: DeadLetter[] = [];
    // Letters whose failure is worth another try later: a retryable entry code, or a request that
    // failed for a passing reason (network, throttling, 5xx) after the client's retries.
    const transient = new Set<DeadLetter>();
    for (const batch of batchBySize(pending, MAX_ENTRIES_PER_REQUEST, this.#maxRequestBytes))
      await this.#putBatch(batch, published, failed, transient);
    if (failed.length === 0) return { delivered: published.length, failures: [], published, deadLettered: [] };

    const lost =
      this.#deadLetters === undefined
        ? failed.map((letter) => ({ letter, error: undefined }))
        : await this.#deadLetters.send(failed);
    const lostLetters = new Set(lost.map((l) => l.letter));
    const deadLettered = failed.filter((letter) => !lostLetters.has(letter));
    const failures = failed.map((letter) => this.#failure(letter, transient.has(letter)));
    const result: EventBridgePublishResult = { delivered: published.length, failures, published, deadLettered };
    if (lost.length > 0) {
      const retryable = lost.every(({ letter }) => transient.has(letter));
      throw new PublishIncompleteError(this.eventBusName, result, lost, retryable);
    }
    return result;
  }

  /** Checks the bus exists and the credentials may see it (DescribeEventBus): for readiness probes. */
  async ping(signal?: AbortSignal): Promise<void> {
    await this.client.send("DescribeEventBus", { Name: this.eventBusName }, signal === undefined ? {} : { signal });
  }

  #prepare(events: readonly EventEnvelope[]): Pending[] {
    if (!Array.isArray(events)) {
      throw new ValidationError("Invalid events", [{ path: [], message: "events must be an array of envelopes" }]);
    }
    // Array.from visits a hole of a sparse array (as undefined), which flatMap and map pass by.
    const issues = Array.from(events, (event, index) => envelopeIssues(event, index)).flat();
    if (issues.length > 0) throw new ValidationError("Invalid events", issues);
    // The mapping is the caller's code (the default one runs `source`, `detailType` and `resources`).
    const entries = events.map((event) => mapped("toEntry", event, () => this.#mapping.toEntry(event)));
    const entryProblems = entries.flatMap((parts, index) => entryIssues(parts, index, this.#customMapping));
    if (entryProblems.length > 0) throw new ValidationError("Invalid EventBridge entries", entryProblems);
    return events.map((event, index) => {
      const parts = entries[index] as EntryParts;
      const size = entrySize(parts);
      if (size > this.#maxRequestBytes) {
        throw new PayloadTooLargeError(
          `EventBridge entry for event ${event.id} (${event.type})`,
          size,
          this.#maxRequestBytes,
        );
      }
      const entry: PutEventsRequestEntry = {
        Source: parts.source,
        DetailType: parts.detailType,
        Detail: parts.detail,
        EventBusName: this.eventBusName,
        ...(parts.time === undefined ? {} : { Time: parts.time.getTime() / 1000 }),
        ...(parts.resources === undefined ? {} : { Resources: parts.resources }),
      };
      return { event, entry, size, attempts: 0 };
    });
  }

  async #putBatch(
    batch: readonly Pending[],
    published: { event: EventEnvelope; eventId: string }[],
    failed: DeadLetter[],
    transient: Set<DeadLetter>,
  ): Promise<void> {
    let pending = batch;
    for (let round = 1; pending.length > 0; round++) {
      for (const item of pending) item.attempts++;
      let response: PutEventsResponse;
      try {
        response = await this.client.send<PutEventsResponse>("PutEvents", { Entries: pending.map((p) => p.entry) });
      } catch (error) {
        // The whole request failed after the client's own retries: every entry in it failed alike.
        const code = (error as { serviceCode?: unknown }).serviceCode;
        const errorCode = typeof code === "string" ? code : errorName(error);
        const passing = (isServiceError(error) && error.retryable) || this.#retryable.has(errorCode);
        for (const item of pending) {
          const failure = letter(item, errorCode, requestErrorMessage(error, errorCode));
          failed.push(failure);
          if (passing) transient.add(failure);
        }
        return;
      }
      const results = response.Entries ?? [];
      const retry: Pending[] = [];
      pending.forEach((item, index) => {
        const result = results[index];
        if (result?.EventId !== undefined && result.ErrorCode === undefined) {
          published.push({ event: item.event, eventId: result.EventId });
          return;
        }
        const code = result?.ErrorCode ?? "MissingResultEntry";
        const message = result?.ErrorMessage ?? "PutEvents returned no result for this entry";
        if (this.#retryable.has(code) && item.attempts < this.#retry.maxAttempts) retry.push(item);
        else {
          const failure = letter(item, code, message);
          failed.push(failure);
          if (this.#retryable.has(code)) transient.add(failure);
        }
      });
      pending = retry;
      if (pending.length > 0) await sleep(backoffDelay(this.#retry, round));
    }
  }

  #failure(letter: DeadLetter, retryable: boolean): HandlerFailure {
    const failure: HandlerFailure = {
      error: new ServiceError("EventBridge", "PutEvents", letter.errorCode, retryable, letter.errorMessage),
      event: letter.event,
      subscription: this.#subscription,
    };
    if (this.#onError !== undefined) callHook("onError", this.#onError, failure);
    return failure;
  }
}

/**
 * EventBridge's own check of a bus name or ARN (`EventBusNameOrArn` in its API reference: PutEvents
 * entries, DescribeEventBus), so that a name it would refuse is a ValidationError from the constructor,
 * not a failure of every entry (dead-lettered) or of the readiness probe.
 */
const EVENT_BUS_NAME_OR_ARN = /^(arn:aws[\w-]*:events:[a-z]+-[a-z]+-[\w-]+:[0-9]{12}:event-bus\/)?[/.\-_A-Za-z0-9]+$/;
const MAX_EVENT_BUS_NAME_LENGTH = 1600;

function isEventBusName(name: unknown): name is string {
  return typeof name === "string" && name.length <= MAX_EVENT_BUS_NAME_LENGTH && EVENT_BUS_NAME_OR_ARN.test(name);
}

/**
 * The policy of `entryRetry`, or what is wrong with it. retryPolicy names its issues `retry.…`, the path of
 * the AWS client's own `aws.retry`: renamed here to where they were given, and gathered with the bus's other
 * issues rather than thrown alone.
 */
function entryRetryPolicy(given: EntryRetryOptions | null | undefined): RetryPolicy | Issue[] {
  // `entryRetry: 5000` (or a string, a boolean, a list) read no key and kept every default without a word.
  const notObject = given === null ? [] : objectIssues(given, ["entryRetry"]);
  if (notObject.length > 0) return notObject;
  const retry = given ?? {};
  try {
    return retryPolicy({
      maxAttempts: retry.maxAttempts ?? 5,
      baseDelayMs: retry.baseDelayMs ?? 100,
      maxDelayMs: retry.maxDelayMs ?? 5_000,
      ...(retry.random === undefined ? {} : { random: retry.random }),
    });
  } catch (error) {
    if (!isValidationError(error)) throw error;
    return error.issues.map((issue) => ({ ...issue, path: ["entryRetry", ...issue.path.slice(1)] }));
  }
}

function isOneOf(value: unknown, ...kinds: ("string" | "function" | "boolean")[]): boolean {
  return value === undefined || kinds.includes(typeof value as "string" | "function" | "boolean");
}

/**
 * What EventBridge fails an entry for whatever is retried: a `Source` or `DetailType` that is empty or
 * no string, a `Detail` that is no JSON object (`MalformedDetail`), `Resources` that are not strings, a
 * `Time` that is no valid date.
 * Such an entry is a mistake of the mapping, refused before anything is sent rather than dead-lettered.
 */
function entryIssues(parts: EntryParts, index: number, checkDetail: boolean): Issue[] {
  const issues: Issue[] = [];
  // PutEventsRequestEntry's rules: EventBridge fails an entry past them, after the request.
  if (typeof parts?.source !== "string" || parts.source === "" || parts.source.length > 256) {
    issues.push({ path: [index, "source"], message: "an entry's Source must be a string of 1 to 256 characters" });
  } else if (parts.source.startsWith("aws.")) {
    issues.push({ path: [index, "source"], message: "an entry's Source cannot start with aws. (reserved by AWS)" });
  }
  if (typeof parts?.detailType !== "string" || parts.detailType === "" || parts.detailType.length > 128) {
    issues.push({
      path: [index, "detailType"],
      message: "an entry's DetailType must be a string of 1 to 128 characters",
    });
  }
  const time: unknown = parts?.time;
  // Sent as seconds: anything but a valid Date threw a TypeError (a string) or sent null (an invalid Date).
  if (time !== undefined && !(time instanceof Date && !Number.isNaN(time.getTime()))) {
    issues.push({ path: [index, "time"], message: "an entry's Time must be a valid Date" });
  }
  if (checkDetail && !isJsonObjectText(parts?.detail)) {
    issues.push({ path: [index, "detail"], message: "an entry's Detail must be a JSON object, as text" });
  }
  const resources = parts?.resources;
  if (resources !== undefined) {
    if (!Array.isArray(resources)) {
      issues.push({ path: [index, "resources"], message: "an entry's Resources must be an array of strings" });
    } else {
      if (resources.length > 100) {
        issues.push({ path: [index, "resources"], message: "an entry holds at most 100 resources" });
      }
      resources.forEach((resource, at) => {
        if (typeof resource !== "string" || resource === "" || resource.length > 2048) {
          issues.push({
            path: [index, "resources", at],
            message: "a resource must be a string of 1 to 2048 characters",
          });
        }
      });
    }
  }
  return issues;
}

function isJsonObjectText(text: unknown): boolean {
  if (typeof text !== "string") return false;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/**
 * A dead letter. Its message is the service's or a thrown error's text, which goes on into the dead-letter
 * queue, the handler failure and PublishIncompleteError's message: credentials in it are masked first.
 */
function letter(item: Pending, errorCode: string, errorMessage: string): DeadLetter {
  return {
    event: item.event,
    entry: item.entry,
    errorCode,
    // An entry's message is EventBridge's, kept as the client keeps a service's (a request's is already so).
    errorMessage: serviceMessage(errorMessage),
    attempts: item.attempts,
  };
}

function errorName(error: unknown): string {
  return error instanceof Error ? error.name : "Error";
}

/**
 * What a failed request said, as an entry's `ErrorMessage` is: a service error's own text without
 * its "EventBridge PutEvents failed (code): " prefix, which the failure built from the letter adds again.
 */
function requestErrorMessage(error: unknown, code: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const prefix = `EventBridge PutEvents failed (${code}): `;
  return isServiceError(error) && message.startsWith(prefix) ? message.slice(prefix.length) : message;
}
