/**
 * EventBridge on an emulator (moto) as a {@link RemoteBusRoute}: per case a custom bus, a rule to
 * an SQS queue and a dead-letter queue of its own; delivery through createSqsEventConsumer and
 * receiveAndConsume. Web-standard only, so the same route runs under bun:test, Node and workerd.
 * Refusals are injected by a wrapping fetch (moto accepts every entry): refused entries never reach
 * moto and come back failed with AccessDeniedException, as EventBridge reports them.
 */
import {
  AwsJsonClient,
  type AwsJsonClientOptions,
  eventBridgeService,
  type FetchFunction,
  sqsService,
} from "../../../adapters/aws/index.js";
import {
  createSqsEventConsumer,
  EventBridgeEventBus,
  MAX_ENTRIES_PER_REQUEST,
  MAX_REQUEST_BYTES,
  receiveAndConsume,
} from "../../../adapters/eventbridge/index.js";
import type { EventEnvelope, EventPublisher } from "../../../src/index.js";
import {
  type RemoteBusContractOptions,
  type RemoteBusRoute,
  type RemoteBusRouteSettings,
  remoteBusContract,
  type SentRequest,
} from "../../../src/testing/index.js";

export interface MotoEndpoints {
  readonly events: AwsJsonClientOptions;
  readonly sqs: AwsJsonClientOptions;
}

const SOURCE = "com.example.eventflows-remote-contract";

/** The remote-bus contract for EventBridgeEventBus; `wrap` lets a test swap in a broken publisher. */
export function eventBridgeRemoteBusContract(
  aws: MotoEndpoints,
  name = "EventBridgeEventBus remote-bus contract (moto)",
  wrap: (publisher: EventPublisher) => EventPublisher = (publisher) => publisher,
): ReturnType<typeof remoteBusContract> {
  const options: RemoteBusContractOptions = {
    name,
    limits: { maxEventsPerRequest: MAX_ENTRIES_PER_REQUEST, maxRequestBytes: MAX_REQUEST_BYTES },
    open: async (settings) => {
      const route = await openEventBridgeRoute(aws, settings);
      return { ...route, publisher: wrap(route.publisher) };
    },
  };
  return remoteBusContract(options);
}

export async function openEventBridgeRoute(
  aws: MotoEndpoints,
  settings: RemoteBusRouteSettings,
): Promise<RemoteBusRoute> {
  const events = new AwsJsonClient(eventBridgeService, aws.events);
  const sqs = new AwsJsonClient(sqsService, aws.sqs);
  const name = `rb-${crypto.randomUUID().slice(0, 13)}`;
  const eventBusName = `${name}-bus`;
  await events.send("CreateEventBus", { Name: eventBusName });
  const queue = async (suffix: string) =>
    (await sqs.send<{ QueueUrl: string }>("CreateQueue", { QueueName: `${name}-${suffix}` })).QueueUrl;
  const [eventsQueueUrl, deadLetterQueueUrl] = [await queue("events"), await queue("dlq")];
  const { Attributes } = await sqs.send<{ Attributes: { QueueArn: string } }>("GetQueueAttributes", {
    QueueUrl: eventsQueueUrl,
    AttributeNames: ["QueueArn"],
  });
  await events.send("PutRule", {
    Name: `${name}-rule`,
    EventBusName: eventBusName,
    EventPattern: JSON.stringify({ source: [SOURCE] }),
    State: "ENABLED",
  });
  await events.send("PutTargets", {
    Rule: `${name}-rule`,
    EventBusName: eventBusName,
    Targets: [{ Id: "queue", Arn: Attributes.QueueArn }],
  });

  const sent: SentRequest[] = [];
  const publisher = new EventBridgeEventBus({
    aws: {
      ...aws.events,
      fetch: recordingAndRefusingFetch(
        sent,
        settings.refuse,
        aws.events.fetch ?? ((request: Request) => fetch(request)),
      ),
    },
    eventBusName,
    source: SOURCE,
    entryRetry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 5 },
    deadLetter: { queueUrl: deadLetterQueueUrl, aws: aws.sqs },
    onError: () => undefined,
  });
  const consumer = (handler: (event: EventEnvelope) => unknown) =>
    createSqsEventConsumer({ handlers: async (event) => void (await handler(event)), onFailure: () => undefined });
  // One consumer for the route, so its dedup store spans polls as a long-running worker's does.
  let handle: (event: EventEnvelope) => unknown = () => undefined;
  const routeConsumer = consumer((event) => handle(event));
  return {
    publisher,
    sentRequests: () => sent,
    receive: async (handler) => {
      handle = handler;
      const poll = await receiveAndConsume({
        client: sqs,
        queueUrl: eventsQueueUrl,
        consumer: routeConsumer,
        releaseFailed: true,
        waitTimeSeconds: 1,
      });
      return poll.received;
    },
    deadLetters: async () => {
      const decode = createSqsEventConsumer({ handlers: () => undefined, dedup: false });
      const letters = new Map<string, EventEnvelope>();
      for (let empty = 0; empty < 2; ) {
        const { Messages = [] } = await sqs.send<{ Messages?: { Body: string; ReceiptHandle: string }[] }>(
          "ReceiveMessage",
          { QueueUrl: deadLetterQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 },
        );
        empty = Messages.length === 0 ? empty + 1 : 0;
        for (const message of Messages) {
          const event = decode.decode(message.Body);
          letters.set(event.id, event);
          await sqs.send("DeleteMessage", { QueueUrl: deadLetterQueueUrl, ReceiptHandle: message.ReceiptHandle });
        }
      }
      return [...letters.values()];
    },
    close: async () => {
      await events.send("RemoveTargets", { Rule: `${name}-rule`, EventBusName: eventBusName, Ids: ["queue"] });
      await events.send("DeleteRule", { Name: `${name}-rule`, EventBusName: eventBusName });
      await events.send("DeleteEventBus", { Name: eventBusName });
      for (const url of [eventsQueueUrl, deadLetterQueueUrl]) await sqs.send("DeleteQueue", { QueueUrl: url });
    },
  };
}

/** Records each PutEvents request; entries whose event `refuse` names are failed here, the rest go to moto. */
function recordingAndRefusingFetch(
  sent: SentRequest[],
  refuse: (event: EventEnvelope) => boolean,
  next: FetchFunction,
): FetchFunction {
  return async (request) => {
    if (request.headers.get("x-amz-target") !== "AWSEvents.PutEvents") return next(request);
    const text = await request.clone().text();
    const body = JSON.parse(text) as { Entries: PutEntry[] };
    const detail = body.Entries.map((entry) => JSON.parse(entry.Detail) as EventEnvelope);
    sent.push({
      eventIds: detail.map((event) => event.id),
      bytes: body.Entries.reduce((n, e) => n + entryBytes(e), 0),
    });
    const refused = detail.map((event) => refuse(event));
    if (!refused.includes(true)) return next(request);
    const through = body.Entries.filter((_, i) => !refused[i]);
    let results: { EventId?: string }[] = [];
    if (through.length > 0) {
      const headers = new Headers(request.headers);
      headers.delete("content-length");
      // moto does not check signatures, so the shortened body can go with the original headers.
      const response = await next(
        new Request(request.url, { method: "POST", headers, body: JSON.stringify({ Entries: through }) }),
      );
      results = ((await response.json()) as { Entries: typeof results }).Entries;
    }
    let index = 0;
    const entries = refused.map((no) =>
      no ? { ErrorCode: "AccessDeniedException", ErrorMessage: "injected refusal" } : results[index++],
    );
    return Response.json({ FailedEntryCount: refused.filter(Boolean).length, Entries: entries });
  };
}

interface PutEntry {
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
  readonly Resources?: readonly string[];
  readonly Time?: number;
}

/** An entry's size as AWS documents it for the PutEvents limit (computed here, not by the adapter). */
function entryBytes(entry: PutEntry): number {
  const utf8 = (text: string) => new TextEncoder().encode(text).length;
  const resources = (entry.Resources ?? []).reduce((n, resource) => n + utf8(resource), 0);
  return (
    (entry.Time === undefined ? 0 : 14) + utf8(entry.Source) + utf8(entry.DetailType) + utf8(entry.Detail) + resources
  );
}
