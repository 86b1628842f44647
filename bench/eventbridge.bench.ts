/**
 * EventBridge bench (issue 5): publishing throughput of `EventBridgeEventBus` against moto, at
 * batches of 1 and 10 events per publish and 1 and 16 publishes in flight, next to the ceiling: the
 * same PutEvents request built by hand and sent through aws4fetch, with nothing of ours around it.
 * And the in-process costs per event: mapping an envelope to an entry (with its size), and signing
 * a PutEvents request (SigV4 with aws4fetch), per event of a 10-entry request.
 *
 * No AWS SDK EventBridge client is installed, so the peer is the bare aws4fetch request. The bus
 * has no rule, so moto only accepts the events: this measures publishing, not delivery.
 *
 * Run: `bun bench/eventbridge.bench.ts`, or `bun run bench eventbridge` to also refresh bench/RESULTS.md.
 */
import { AwsClient } from "aws4fetch";
import { bench, group, summary } from "mitata";
import { AwsJsonClient, eventBridgeService } from "../adapters/aws/index.js";
import { EventBridgeEventBus, entrySize, envelopeMapping } from "../adapters/eventbridge/index.js";
import { type EventEnvelope, ulid } from "../src/index.js";
import { motoAwsOptions } from "../test/services/moto.ts";
import { runAndReport } from "./lib/report.js";

const aws = await motoAwsOptions();
const events = new AwsJsonClient(eventBridgeService, aws.events);
const eventBusName = `bench-${ulid().toLowerCase()}`;
await events.send("CreateEventBus", { Name: eventBusName });
const SOURCE = "com.example.bench";

let sequence = 0;
function envelope(): EventEnvelope {
  sequence++;
  return {
    id: ulid(),
    type: "OrderPlaced",
    streamId: `Order-${ulid()}`,
    version: 1,
    globalPosition: sequence,
    timestamp: new Date().toISOString(),
    data: { orderId: ulid(), sku: "SKU-123", quantity: 2, total: 19.99, lines: [{ sku: "SKU-123", price: 9.995 }] },
    metadata: {
      correlationId: ulid(),
      causationId: ulid(),
      traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    },
  };
}

const bus = new EventBridgeEventBus({ client: events, eventBusName, source: SOURCE });

// The ceiling: one PutEvents request built and signed directly with aws4fetch.
const raw = new AwsClient({
  accessKeyId: aws.events.credentials.accessKeyId,
  secretAccessKey: aws.events.credentials.secretAccessKey,
  service: "events",
  region: aws.events.region,
  retries: 0,
});
async function bare(batch: readonly EventEnvelope[]): Promise<void> {
  const response = await raw.fetch(aws.events.endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-amz-json-1.1", "x-amz-target": "AWSEvents.PutEvents" },
    body: JSON.stringify({
      Entries: batch.map((event) => ({
        Source: SOURCE,
        DetailType: event.type,
        Detail: JSON.stringify(event),
        EventBusName: eventBusName,
      })),
    }),
  });
  const result = (await response.json()) as { FailedEntryCount?: number };
  if (!response.ok || (result.FailedEntryCount ?? 0) > 0) throw new Error(`bare PutEvents failed: ${response.status}`);
}

const eventsPerIteration: Record<string, number> = {};
const pairs: [string, string][] = [];
const implementations: [string, (batch: readonly EventEnvelope[]) => Promise<void>][] = [
  [
    "ours",
    async (batch) => {
      const result = await bus.publish(batch);
      if (result.delivered !== batch.length) throw new Error(`published ${result.delivered} of ${batch.length}`);
    },
  ],
  ["bare aws4fetch", bare],
];

for (const batchSize of [1, 10]) {
  for (const concurrency of [1, 16]) {
    group(`publish ${batchSize} per call, ${concurrency} in flight`, () => {
      summary(() => {
        for (const [label, publish] of implementations) {
          const name = `publish ${batchSize}, c${concurrency}: ${label}`;
          eventsPerIteration[name] = batchSize * concurrency;
          bench(name, async () => {
            await Promise.all(
              Array.from({ length: concurrency }, () => publish(Array.from({ length: batchSize }, envelope))),
            );
          }).gc(false);
        }
      });
    });
    pairs.push([
      `publish ${batchSize}, c${concurrency}: ours`,
      `publish ${batchSize}, c${concurrency}: bare aws4fetch`,
    ]);
  }
}

// In-process costs, per event.
const mapping = envelopeMapping({ source: SOURCE });
const sample = Array.from({ length: 10 }, envelope);
group("per event, in process", () => {
  eventsPerIteration["map envelope to entry (+ size)"] = 1;
  bench("map envelope to entry (+ size)", () => {
    const parts = mapping.toEntry(sample[0] as EventEnvelope);
    return entrySize(parts);
  });
  eventsPerIteration["sign a 10-entry PutEvents"] = 10;
  bench("sign a 10-entry PutEvents", async () => {
    const entries = sample.map((event) => {
      const parts = mapping.toEntry(event);
      return { Source: parts.source, DetailType: parts.detailType, Detail: parts.detail, EventBusName: eventBusName };
    });
    return events.sign("PutEvents", { Entries: entries });
  });
});

await runAndReport("eventbridge", "EventBridge publishing: EventBridgeEventBus vs a bare aws4fetch PutEvents (moto)", {
  eventsPerIteration,
  pairs,
  notes: [
    "Against moto 5.2.5 on loopback (the harness's moto server); the bus has no rule, so only PutEvents is measured.",
    "'bare aws4fetch' is the ceiling: the same request built by hand (Detail = the envelope as JSON), signed with aws4fetch, no validation, batching, retries or result checks.",
    "Ours validates every envelope, maps it (Source, DetailType, Detail, Time), computes its entry size, batches by 10 entries / 256 KiB, signs through the shared AWS client, and checks every result entry.",
    "Per-event rows are in-process only: the mapping of one envelope, and signing one 10-entry request (mapping included) divided by 10.",
  ],
});
