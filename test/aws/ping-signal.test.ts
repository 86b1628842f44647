/**
 * A readiness probe's timeout aborts its `ping(signal)`: against a loopback server that accepts
 * connections and never answers, every DynamoDB store's ping (and the EventBridge bus's) stops when
 * the signal fires, rather than holding its request and socket for the client's whole `timeoutMs`
 * (60 s here, past the test's limit, so a ping that ignored the signal fails the test by hanging). DynamoDB Local and moto always answer.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { FetchFunction } from "../../adapters/aws/index.js";
import {
  DynamoDbCheckpointStore,
  DynamoDbDedupStore,
  DynamoDbEventStore,
  DynamoDbIdempotencyStore,
  DynamoDbSnapshotStore,
} from "../../adapters/dynamodb/index.js";
import { EventBridgeEventBus } from "../../adapters/eventbridge/index.js";

let silent: { readonly port: number; stop(closeActive?: boolean): void } | undefined;
beforeAll(() => {
  silent = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
});
afterAll(() => {
  silent?.stop(true);
});

/** Client options whose fetch reports each request sent, so the test aborts once one is in flight. */
function silentOptions(sent: () => void) {
  const fetch: FetchFunction = (request) => {
    sent();
    return globalThis.fetch(request);
  };
  return {
    tableName: "never_answers",
    region: "eu-west-1",
    endpoint: `http://127.0.0.1:${silent?.port}`,
    credentials: { accessKeyId: "AKIDTEST", secretAccessKey: "secret" },
    timeoutMs: 60_000,
    fetch,
  };
}

const stores: Record<
  string,
  (options: ReturnType<typeof silentOptions>) => { ping(signal?: AbortSignal): Promise<void> }
> = {
  DynamoDbEventStore: (options) => new DynamoDbEventStore(options),
  DynamoDbSnapshotStore: (options) => new DynamoDbSnapshotStore(options),
  DynamoDbCheckpointStore: (options) => new DynamoDbCheckpointStore(options),
  DynamoDbDedupStore: (options) => new DynamoDbDedupStore(options),
  DynamoDbIdempotencyStore: (options) => new DynamoDbIdempotencyStore(options),
  EventBridgeEventBus: ({ tableName: _, ...aws }) => new EventBridgeEventBus({ aws }),
};

for (const [name, create] of Object.entries(stores)) {
  test(`${name}.ping(signal) stops when the signal fires, its request in flight, with the signal's reason`, async () => {
    const controller = new AbortController();
    const reason = new Error("readiness probe timed out");
    const store = create(silentOptions(() => queueMicrotask(() => controller.abort(reason))));
    const error = await store.ping(controller.signal).catch((e: unknown) => e);
    expect(error).toBe(reason);
  }, 5_000);
}
