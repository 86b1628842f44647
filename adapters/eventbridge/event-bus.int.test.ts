/**
 * The EventBridge bus and the SQS consumer against moto (EventBridge rules delivering to SQS). Faults
 * moto cannot produce, failed PutEvents entries, are injected by a wrapping `fetch` that keeps the
 * failing entries from moto and reports them failed, as EventBridge does; tests that do this say so.
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { type EventEnvelope, isServiceError, isValidationError, ulid } from "../../src/index.js";
import {
  type BusWithQueues,
  createBusWithQueues,
  drainQueue,
  type MotoAwsOptions,
  motoAwsOptions,
} from "../../test/services/moto.ts";
import { AwsJsonClient, eventBridgeService, type FetchFunction, sqsService } from "../aws/index.js";
import {
  createSqsEventConsumer,
  DEAD_LETTER_FIELD,
  type DeadLetter,
  EventBridgeEventBus,
  type MessageFailure,
  PublishIncompleteError,
  receiveAndConsume,
} from "./index.js";

const SOURCE = "com.example.eventflows-tests";
const TIMEOUT = 120_000;

let aws: { events: MotoAwsOptions; sqs: MotoAwsOptions };
let events: AwsJsonClient;
let sqs: AwsJsonClient;

beforeAll(async () => {
  aws = await motoAwsOptions();
  events = new AwsJsonClient(eventBridgeService, aws.events);
  sqs = new AwsJsonClient(sqsService, aws.sqs);
}, TIMEOUT);

let sequence = 0;
function envelope(type: string, data: Record<string, unknown>, streamId = `Order-${ulid()}`): EventEnvelope {
  sequence++;
  return {
    id: ulid(),
    type,
    streamId,
    version: 1,
    globalPosition: sequence,
    timestamp: new Date(Date.UTC(2024, 0, 1, 0, 0, 0, sequence % 1000)).toISOString(),
    data,
    metadata: {
      correlationId: `corr-${sequence}`,
      causationId: ulid(),
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      tracestate: "vendor=1",
      tenant: "acme",
    },
  };
}

async function setup(): Promise<BusWithQueues> {
  return createBusWithQueues(events, sqs, { source: SOURCE });
}

/** Envelopes carried by messages of a queue, in arrival order (the queue is emptied). */
async function envelopesIn(queueUrl: string): Promise<EventEnvelope[]> {
  const consumer = createSqsEventConsumer({ handlers: () => undefined, dedup: false });
  const messages = await drainQueue(sqs, queueUrl);
  return messages.map((m) => consumer.decode(m.Body));
}

/** A fetch that forwards to moto and records each PutEvents request's entries. */
function recordingFetch(requests: { Detail: string }[][]): FetchFunction {
  return async (request) => {
    if (request.headers.get("x-amz-target") === "AWSEvents.PutEvents") {
      requests.push(((await request.clone().json()) as { Entries: { Detail: string }[] }).Entries);
    }
    return fetch(request);
  };
}

/**
 * Injected partial failures (a wrapping fetch; moto cannot fail entries): `plan` names the error code
 * an entry fails with on a given attempt, or undefined to let it through to moto. Failed entries never
 * reach moto; the response merges moto's results with the injected failures, in request order.
 */
function failingEntries(plan: (event: EventEnvelope, attempt: number) => string | undefined) {
  const attempts = new Map<string, number>();
  const wrapped: FetchFunction = async (request) => {
    if (request.headers.get("x-amz-target") !== "AWSEvents.PutEvents") return fetch(request);
    const body = (await request.clone().json()) as { Entries: { Detail: string }[] };
    const verdicts = body.Entries.map((entry) => {
      const event = JSON.parse(entry.Detail) as EventEnvelope;
      const attempt = (attempts.get(event.id) ?? 0) + 1;
      attempts.set(event.id, attempt);
      return plan(event, attempt);
    });
    const through = body.Entries.filter((_, i) => verdicts[i] === undefined);
    let results: { EventId?: string; ErrorCode?: string }[] = [];
    if (through.length > 0) {
      const headers = new Headers(request.headers);
      headers.delete("content-length");
      // moto does not check signatures, so the shortened body can go with the original headers.
      const response = await fetch(
        new Request(request.url, { method: "POST", headers, body: JSON.stringify({ Entries: through }) }),
      );
      results = ((await response.json()) as { Entries: typeof results }).Entries;
    }
    let next = 0;
    const entries = verdicts.map((code) =>
      code === undefined ? results[next++] : { ErrorCode: code, ErrorMessage: `injected ${code}` },
    );
    return Response.json({
      FailedEntryCount: entries.filter((e) => e?.ErrorCode !== undefined).length,
      Entries: entries,
    });
  };
  return { fetch: wrapped, attempts };
}

describe("EventBridgeEventBus on moto", () => {
  test("end to end: 1,000 events published, delivered by a rule to SQS, each consumed once with its envelope intact", async () => {
    const { eventBusName, eventsQueueUrl } = await setup();
    const bus = new EventBridgeEventBus({ aws: aws.events, eventBusName, source: SOURCE });
    const published = Array.from({ length: 1_000 }, (_, n) =>
      envelope(n % 2 === 0 ? "OrderPlaced" : "OrderShipped", { n, note: n % 7 === 0 ? "ünïcødé ✓" : "plain" }),
    );
    const byId = new Map(published.map((event) => [event.id, event]));
    const calls = new Map<string, number>();
    const received: EventEnvelope[] = [];
    const consumer = createSqsEventConsumer({
      handlers: (event) => {
        calls.set(event.id, (calls.get(event.id) ?? 0) + 1);
        received.push(event);
      },
    });
    // The consumer polls while the bus publishes, as in production; moto's receive slows down as
    // its queue grows, so this also keeps the test quick.
    let publishing = true;
    let duplicates = 0;
    const consuming = (async () => {
      const expired = deadlineIn(240_000);
      while (received.length < 1_000 && !expired()) {
        const poll = await receiveAndConsume({
          client: sqs,
          queueUrl: eventsQueueUrl,
          consumer,
          waitTimeSeconds: publishing ? 1 : 0,
        });
        expect(poll.result.batchItemFailures).toEqual([]);
        duplicates += poll.result.duplicates;
      }
    })();
    const result = await bus.publish(published).finally(() => {
      publishing = false;
    });
    await consuming;
    expect(result.delivered).toBe(1_000);
    expect(result.deadLettered).toEqual([]);
    expect(new Set(result.published.map((p) => p.eventId)).size).toBe(1_000);
    expect(received).toHaveLength(1_000);
    expect(duplicates).toBe(0);
    expect(calls.size).toBe(1_000);
    expect([...calls.values()].every((count) => count === 1)).toBe(true);
    for (const event of received) expect(event).toEqual(byId.get(event.id) as EventEnvelope);
    expect(await drainQueue(sqs, eventsQueueUrl)).toHaveLength(0);
  }, 300_000);

  test(
    "batches: at most 10 entries and the request size limit per PutEvents, in publish order",
    async () => {
      const { eventBusName, eventsQueueUrl } = await setup();
      const requests: { Detail: string }[][] = [];
      const bus = new EventBridgeEventBus({
        aws: { ...aws.events, fetch: recordingFetch(requests) },
        eventBusName,
        source: SOURCE,
      });
      const small = Array.from({ length: 23 }, (_, n) => envelope("Small", { n }));
      const large = Array.from({ length: 9 }, (_, n) => envelope("Large", { n, blob: "x".repeat(60_000) }));
      await bus.publish([...small, ...large]);
      expect(requests.map((r) => r.length)).toEqual([10, 10, 3 + 4, 4, 1]);
      for (const request of requests) {
        expect(request.length).toBeLessThanOrEqual(10);
        const bytes = request.reduce((sum, entry) => sum + new TextEncoder().encode(entry.Detail).length, 0);
        expect(bytes).toBeLessThanOrEqual(256 * 1024);
      }
      const order = requests.flat().map((entry) => (JSON.parse(entry.Detail) as EventEnvelope).id);
      expect(order).toEqual([...small, ...large].map((e) => e.id));
      expect((await envelopesIn(eventsQueueUrl)).length).toBe(32);
    },
    TIMEOUT,
  );

  test(
    "source, detail type and resources are configurable, and reach the rule target as EventBridge delivers them",
    async () => {
      const { eventBusName, eventsQueueUrl } = await setup();
      const bus = new EventBridgeEventBus({
        aws: aws.events,
        eventBusName,
        source: SOURCE,
        detailType: (event) => `orders.${event.type}`,
        resources: (event) => [`arn:aws:example:us-east-1:123456789012:stream/${event.streamId}`],
      });
      const event = envelope("Placed", { total: 3 });
      await bus.publish([event]);
      const [message] = await drainQueue(sqs, eventsQueueUrl);
      const body = JSON.parse(message?.Body ?? "{}");
      expect(body).toMatchObject({
        source: SOURCE,
        "detail-type": "orders.Placed",
        resources: [`arn:aws:example:us-east-1:123456789012:stream/${event.streamId}`],
      });
      expect(createSqsEventConsumer({ handlers: () => undefined }).decode(message?.Body ?? "")).toEqual(event);
    },
    TIMEOUT,
  );

  test(
    "injected partial failures (a wrapping fetch fails half the entries, retryable and not): every event is delivered or dead-lettered to SQS, and the counts add up",
    async () => {
      const { eventBusName, eventsQueueUrl, deadLetterQueueUrl } = await setup();
      // By n % 8: 0 fails once (InternalFailure), 1 fails once (ThrottlingException), 2 is always
      // throttled, 3 is refused for good (AccessDeniedException), 4-7 pass: half fail at first.
      const injected = failingEntries((event, attempt) => {
        const kind = (event.data as { n: number }).n % 8;
        if (kind === 0 && attempt === 1) return "InternalFailure";
        if (kind === 1 && attempt === 1) return "ThrottlingException";
        if (kind === 2) return "ThrottlingException";
        if (kind === 3) return "AccessDeniedException";
        return undefined;
      });
      const onError: unknown[] = [];
      const bus = new EventBridgeEventBus({
        aws: { ...aws.events, fetch: injected.fetch },
        eventBusName,
        source: SOURCE,
        entryRetry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
        deadLetter: { queueUrl: deadLetterQueueUrl, aws: aws.sqs },
        onError: (failure) => onError.push(failure),
      });
      const published = Array.from({ length: 200 }, (_, n) => envelope("Numbered", { n }));
      const result = await bus.publish(published);

      const kindOf = (event: EventEnvelope) => (event.data as { n: number }).n % 8;
      const expectDelivered = published.filter((e) => ![2, 3].includes(kindOf(e)));
      const expectDead = published.filter((e) => [2, 3].includes(kindOf(e)));
      expect(result.delivered).toBe(150);
      expect(result.deadLettered).toHaveLength(50);
      expect(result.failures).toHaveLength(50);
      expect(onError).toHaveLength(50);
      expect(result.delivered + result.deadLettered.length).toBe(published.length);

      // Retryable codes were retried (up to maxAttempts); the refused entry was tried once.
      for (const event of published) {
        const expected = { 0: 2, 1: 2, 2: 3, 3: 1 }[kindOf(event)] ?? 1;
        expect(injected.attempts.get(event.id)).toBe(expected);
      }
      const letters = new Map(result.deadLettered.map((letter: DeadLetter) => [letter.event.id, letter]));
      for (const event of expectDead) {
        expect(letters.get(event.id)?.errorCode).toBe(
          kindOf(event) === 2 ? "ThrottlingException" : "AccessDeniedException",
        );
      }

      const delivered = await envelopesIn(eventsQueueUrl);
      expect(new Set(delivered.map((e) => e.id))).toEqual(new Set(expectDelivered.map((e) => e.id)));
      const deadMessages = await drainQueue(sqs, deadLetterQueueUrl);
      expect(deadMessages).toHaveLength(50);
      const consumer = createSqsEventConsumer({ handlers: () => undefined, dedup: false });
      const byId = new Map(published.map((e) => [e.id, e]));
      for (const message of deadMessages) {
        const decoded = consumer.decode(message.Body);
        expect(decoded).toEqual(byId.get(decoded.id) as EventEnvelope);
        const why = JSON.parse(message.Body)[DEAD_LETTER_FIELD];
        expect(why).toMatchObject({ eventBusName, errorCode: letters.get(decoded.id)?.errorCode });
        expect(message.MessageAttributes?.errorCode?.StringValue).toBe(letters.get(decoded.id)?.errorCode);
      }
      expect(delivered.length + deadMessages.length).toBe(published.length);
    },
    TIMEOUT,
  );

  test(
    "injected failures with no dead-letter target: publish throws PublishIncompleteError naming each lost event",
    async () => {
      const { eventBusName, eventsQueueUrl } = await setup();
      const injected = failingEntries((event) =>
        (event.data as { n: number }).n < 3 ? "AccessDeniedException" : undefined,
      );
      const bus = new EventBridgeEventBus({
        aws: { ...aws.events, fetch: injected.fetch },
        eventBusName,
        source: SOURCE,
      });
      const published = Array.from({ length: 10 }, (_, n) => envelope("N", { n }));
      const error = (await bus.publish(published).catch((e) => e)) as PublishIncompleteError;
      expect(error).toBeInstanceOf(PublishIncompleteError);
      expect(isServiceError(error)).toBe(true);
      expect(error.undelivered.map((u) => u.letter.event.id)).toEqual(published.slice(0, 3).map((e) => e.id));
      expect(error.result.delivered).toBe(7);
      expect((await envelopesIn(eventsQueueUrl)).length).toBe(7);
    },
    TIMEOUT,
  );

  test(
    "injected failures and a dead-letter queue that does not exist: the lost events are named, nothing silently dropped",
    async () => {
      const { eventBusName } = await setup();
      const injected = failingEntries(() => "AccessDeniedException");
      const missingQueue = `${aws.sqs.endpoint}/123456789012/no-such-queue-${ulid()}`;
      const bus = new EventBridgeEventBus({
        aws: { ...aws.events, fetch: injected.fetch },
        eventBusName,
        source: SOURCE,
        deadLetter: { queueUrl: missingQueue, aws: aws.sqs },
      });
      const published = [envelope("A", {}), envelope("B", {})];
      const error = (await bus.publish(published).catch((e) => e)) as PublishIncompleteError;
      expect(error).toBeInstanceOf(PublishIncompleteError);
      expect(error.undelivered).toHaveLength(2);
      expect(isServiceError(error.undelivered[0]?.error)).toBe(true);
      expect(error.result.deadLettered).toEqual([]);
    },
    TIMEOUT,
  );

  test(
    "a dead-letter handler function receives the letters instead of a queue",
    async () => {
      const { eventBusName } = await setup();
      const injected = failingEntries((event) =>
        (event.data as { n: number }).n === 1 ? "InvalidArgument" : undefined,
      );
      const kept: DeadLetter[] = [];
      const bus = new EventBridgeEventBus({
        aws: { ...aws.events, fetch: injected.fetch },
        eventBusName,
        source: SOURCE,
        deadLetter: (letters) => void kept.push(...letters),
      });
      const published = [0, 1, 2].map((n) => envelope("N", { n }));
      const result = await bus.publish(published);
      expect(kept.map((l) => [l.event.id, l.errorCode, l.attempts])).toEqual([
        [published[1]?.id, "InvalidArgument", 1],
      ]);
      expect(result.deadLettered).toEqual(kept);
    },
    TIMEOUT,
  );

  test(
    "a bus that does not exist: the whole request fails and every event goes to the dead-letter queue",
    async () => {
      const { deadLetterQueueUrl } = await setup();
      const bus = new EventBridgeEventBus({
        aws: aws.events,
        eventBusName: `missing-${ulid()}`,
        source: SOURCE,
        deadLetter: { queueUrl: deadLetterQueueUrl, aws: aws.sqs },
      });
      const published = [envelope("A", {}), envelope("B", {})];
      const result = await bus.publish(published);
      expect(result.delivered).toBe(0);
      expect(result.deadLettered.map((l) => [l.event.id, l.errorCode])).toEqual(
        published.map((e) => [e.id, "ResourceNotFoundException"]),
      );
      // What AWS said, once: not the client's error text wrapped in the same "failed (code)" prefix again.
      const said = `Event bus ${bus.eventBusName} does not exist.`;
      expect(result.deadLettered.map((l) => l.errorMessage)).toEqual([said, said]);
      expect(result.failures.map((f) => (f.error as Error).message)).toEqual(
        published.map(() => `EventBridge PutEvents failed (ResourceNotFoundException): ${said}`),
      );
      const dead = await envelopesIn(deadLetterQueueUrl);
      expect(dead.map((e) => e.id).sort()).toEqual(published.map((e) => e.id).sort());
    },
    TIMEOUT,
  );

  test(
    "ping checks the bus exists",
    async () => {
      const { eventBusName } = await setup();
      await new EventBridgeEventBus({ aws: aws.events, eventBusName }).ping();
      const missing = new EventBridgeEventBus({ aws: aws.events, eventBusName: `missing-${ulid()}` });
      const error = await missing.ping().catch((e) => e);
      expect(isServiceError(error)).toBe(true);
      expect((error as { serviceCode: string }).serviceCode).toBe("ResourceNotFoundException");
    },
    TIMEOUT,
  );
});

describe("SQS consumer on moto", () => {
  test(
    "a handler that throws for some messages: only those are reported, and only those are redelivered",
    async () => {
      const { eventBusName, eventsQueueUrl } = await setup();
      const bus = new EventBridgeEventBus({ aws: aws.events, eventBusName, source: SOURCE });
      const published = Array.from({ length: 30 }, (_, n) => envelope("N", { n }));
      await bus.publish(published);
      const calls = new Map<string, number>();
      const failingOnce = new Set(published.filter((e) => (e.data as { n: number }).n % 5 === 0).map((e) => e.id));
      const reported: MessageFailure[] = [];
      const consumer = createSqsEventConsumer({
        handlers: (event) => {
          const count = (calls.get(event.id) ?? 0) + 1;
          calls.set(event.id, count);
          if (failingOnce.has(event.id) && count === 1) throw new Error(`first attempt at ${event.id} fails`);
        },
        onFailure: (failure) => reported.push(failure),
      });
      const expired = deadlineIn(60_000);
      const handled = () => [...calls.entries()].filter(([id, n]) => (failingOnce.has(id) ? n === 2 : n === 1)).length;
      while (handled() < published.length && !expired()) {
        await receiveAndConsume({
          client: sqs,
          queueUrl: eventsQueueUrl,
          consumer,
          releaseFailed: true,
          waitTimeSeconds: 1,
        });
      }
      expect(new Set(reported.map((f) => f.event?.id))).toEqual(failingOnce);
      expect(reported).toHaveLength(failingOnce.size);
      for (const event of published) expect(calls.get(event.id)).toBe(failingOnce.has(event.id) ? 2 : 1);
      expect(await drainQueue(sqs, eventsQueueUrl)).toHaveLength(0);
    },
    TIMEOUT,
  );

  test(
    "malformed SQS bodies are reported as typed failures; the batch's good messages are handled",
    async () => {
      const { eventBusName, eventsQueueUrl } = await setup();
      for (const body of ["not json", '{"source":"x"}', '{"source":"x","detail-type":"y","detail":{"id":1}}']) {
        await sqs.send("SendMessage", { QueueUrl: eventsQueueUrl, MessageBody: body });
      }
      const good = envelope("Good", {});
      await new EventBridgeEventBus({ aws: aws.events, eventBusName, source: SOURCE }).publish([good]);
      const failures: MessageFailure[] = [];
      const seen: EventEnvelope[] = [];
      const consumer = createSqsEventConsumer({
        handlers: (e) => void seen.push(e),
        onFailure: (f) => failures.push(f),
      });
      const poll = await receiveAndConsume({ client: sqs, queueUrl: eventsQueueUrl, consumer });
      expect(poll.received).toBe(4);
      expect(poll.result.batchItemFailures).toHaveLength(3);
      expect(failures).toHaveLength(3);
      expect(failures.every((f) => isValidationError(f.error))).toBe(true);
      expect(seen).toEqual([good]);
      expect(poll.deleted).toBe(1);
    },
    TIMEOUT,
  );
});

/** Bounds a polling loop (not a speed assertion): true once `ms` have passed. */
function deadlineIn(ms: number): () => boolean {
  const end = Date.now() + ms;
  return function expired() {
    const now = Date.now();
    return now >= end;
  };
}
