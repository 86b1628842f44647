/**
 * Live push from a Durable Object event store, in workerd: a subscriber (DurableObjectEventStore's
 * subscribeLive, one WebSocket to the object) receives what other requests append, in order, and
 * resumes from a position after reconnecting. Runs inside the test Worker against
 * SqliteEventStoreObject (sqlite-workerd.ts), which serves LiveSubscribers.
 */
import {
  type ClientWebSocketLike,
  DurableObjectEventStore,
  type DurableObjectStubLike,
  type LiveSubscribersOptions,
  type SubscribeLiveOptions,
} from "../../../adapters/sqlite/index.js";
import { ErrorCode, type EventEnvelope, LiveErrorCode, type StoreSubscription, ulid } from "../../../src/index.js";
import { assert, assertEqual, assertRejects, type ContractSuite, eventually } from "../../../src/testing/index.js";

const summary = (events: readonly EventEnvelope[]) => events.map((e) => `${e.streamId} v${e.version} ${e.type}`);

/** `stub()` gives a new stub of the one object each time: every store below makes requests of its own. */
export function liveSubscriptionSuite(stub: () => DurableObjectStubLike): ContractSuite {
  const store = () => new DurableObjectEventStore({ stub: stub() });

  /** A subscription from `after` that records what its handler got. */
  function follow(after: number, extra: Partial<SubscribeLiveOptions> = {}) {
    const received: EventEnvelope[] = [];
    const subscription: StoreSubscription = store().subscribeLive({
      after,
      retryDelayMs: 20,
      handler: (event) => {
        received.push(event);
      },
      ...extra,
    });
    return { received, subscription };
  }

  return {
    name: "DurableObjectEventStore live push (WebSocket hibernation API)",
    cases: [
      {
        name: "a subscriber receives the events other requests append, in global order, without polling",
        run: async () => {
          const writer = store();
          const start = await writer.getLastGlobalPosition();
          const { received, subscription } = follow(start);
          try {
            const a = `Live-${ulid()}`;
            const b = `Live-${ulid()}`;
            // Separate writers, separate requests: the object pushes after each commit.
            await writer.appendToStream(a, [
              { type: "Opened", data: 1 },
              { type: "Added", data: 2 },
            ]);
            await store().appendToStream(b, [{ type: "Opened", data: 3 }]);
            await writer.appendToStream(a, [{ type: "Closed", data: 4 }]);
            await eventually(() => assertEqual(received.length, 4, "events received"), 5000);
            assertEqual(
              summary(received),
              [`${a} v1 Opened`, `${a} v2 Added`, `${b} v1 Opened`, `${a} v3 Closed`],
              "what was received",
            );
            const positions = received.map((e) => e.globalPosition as number);
            assertEqual(
              positions,
              positions.map((_, i) => start + 1 + i),
              "positions follow the start one by one",
            );
            assertEqual(subscription.position, start + 4, "the subscription's position");
          } finally {
            await subscription.stop();
          }
        },
      },
      {
        name: "after a reconnect it resumes from its position: what was appended meanwhile, nothing twice",
        run: async () => {
          const writer = store();
          const stream = `Resume-${ulid()}`;
          const first = follow(await writer.getLastGlobalPosition());
          await writer.appendToStream(stream, [{ type: "One", data: 1 }]);
          await eventually(() => assertEqual(first.received.length, 1, "events received"), 5000);
          await first.subscription.stop();
          const resumeAt = first.subscription.position;

          // Appended while nobody is connected.
          await writer.appendToStream(stream, [
            { type: "Two", data: 2 },
            { type: "Three", data: 3 },
          ]);
          const second = follow(resumeAt);
          try {
            await eventually(() => assertEqual(second.received.length, 2, "caught up"), 5000);
            await writer.appendToStream(stream, [{ type: "Four", data: 4 }]);
            await eventually(() => assertEqual(second.received.length, 3, "then live"), 5000);
            assertEqual(
              summary(second.received),
              [`${stream} v2 Two`, `${stream} v3 Three`, `${stream} v4 Four`],
              "the resumed subscription's events",
            );
            assertEqual(summary(first.received), [`${stream} v1 One`], "the first subscription's events");
          } finally {
            await second.subscription.stop();
          }
        },
      },
      {
        name: "subscribers at different positions each get exactly the events after their own, past a page of 100",
        run: async () => {
          const writer = store();
          const stream = `Pages-${ulid()}`;
          const start = await writer.getLastGlobalPosition();
          const early = follow(start);
          try {
            // More than one delivery page (LiveSubscribers reads 100 events per query).
            const batch = Array.from({ length: 150 }, (_, n) => ({ type: "Counted", data: n }));
            await writer.appendToStream(stream, batch);
            await eventually(() => assertEqual(early.received.length, 150, "the early subscriber's events"), 10_000);
            const late = follow(start + 100);
            try {
              await eventually(() => assertEqual(late.received.length, 50, "the late subscriber's catch-up"), 10_000);
              await store().appendToStream(stream, [{ type: "Last", data: 150 }]);
              await eventually(() => {
                assertEqual(early.received.length, 151, "the early subscriber's events");
                assertEqual(late.received.length, 51, "the late subscriber's events");
              }, 5000);
              const data = (events: EventEnvelope[]) => events.map((e) => e.data);
              assertEqual(
                data(early.received),
                Array.from({ length: 151 }, (_, n) => n),
                "early: every event once, in order",
              );
              assertEqual(
                data(late.received),
                Array.from({ length: 51 }, (_, n) => 100 + n),
                "late: from its position on",
              );
            } finally {
              await late.subscription.stop();
            }
          } finally {
            await early.subscription.stop();
          }
        },
      },
      {
        name: "a filtered subscriber gets only its streams' category and types, in order; others are passed over",
        run: async () => {
          const writer = store();
          const id = ulid();
          const start = await writer.getLastGlobalPosition();
          const filtered = follow(start, { filter: { categories: [`Watched${id}`], types: ["Opened", "Closed"] } });
          const all = follow(start);
          try {
            await writer.appendToStream(`Watched${id}-1`, [
              { type: "Opened", data: 1 },
              { type: "Changed", data: 2 },
            ]);
            await writer.appendToStream(`Other${id}-1`, [{ type: "Opened", data: 3 }]);
            await writer.appendToStream(`Watched${id}-2`, [
              { type: "Opened", data: 4 },
              { type: "Closed", data: 5 },
            ]);
            await eventually(() => assertEqual(all.received.length, 5, "the unfiltered subscriber's events"), 5000);
            await eventually(() => assertEqual(filtered.received.length, 3, "the filtered subscriber's events"), 5000);
            assertEqual(
              filtered.received.map((e) => e.data),
              [1, 4, 5],
              "only the watched category's Opened and Closed, in order",
            );
            // It resumes past what it was not sent: a later event comes once, nothing before it again.
            await writer.appendToStream(`Watched${id}-1`, [{ type: "Closed", data: 6 }]);
            await eventually(() => assertEqual(filtered.received.length, 4, "the later event"), 5000);
            assertEqual(filtered.received.at(-1)?.data, 6, "the later event");
          } finally {
            await filtered.subscription.stop();
            await all.subscription.stop();
          }
        },
      },
      {
        name: "1,000 events reach 50 subscribers (one WebSocket each, six filters), each exactly its events in order",
        run: async () => {
          const writer = store();
          const id = ulid();
          const start = await writer.getLastGlobalPosition();
          const categories = [`A${id}`, `B${id}`, `C${id}`];
          const filters = [
            undefined,
            { categories: [categories[0] as string] },
            { categories: [categories[1] as string, categories[2] as string] },
            { types: ["Opened"] },
            { streams: [`${categories[0]}-0`, `${categories[1]}-1`] },
            { categories: [categories[0] as string], types: ["Changed"] },
          ];
          const subscribers = Array.from({ length: 50 }, (_, i) => {
            const filter = filters[i % filters.length];
            return { filter, ...follow(start, filter === undefined ? {} : { filter }) };
          });
          try {
            const appended: EventEnvelope[] = [];
            for (let i = 0; i < 100; i++) {
              const category = categories[i % 3] as string;
              const events = Array.from({ length: 10 }, (_, k) => ({
                type: ["Opened", "Changed", "Closed"][(i + k) % 3] as string,
                data: i * 10 + k,
              }));
              appended.push(...(await writer.appendToStream(`${category}-${i % 4}`, events)).events);
            }
            const wanted = (filter: (typeof filters)[number]) =>
              appended.filter(
                (e) =>
                  filter === undefined ||
                  ((filter.streams === undefined || filter.streams.includes(e.streamId)) &&
                    (filter.categories === undefined ||
                      filter.categories.includes(e.streamId.split("-")[0] as string)) &&
                    (filter.types === undefined || filter.types.includes(e.type))),
              );
            for (const [i, subscriber] of subscribers.entries()) {
              const expected = wanted(subscriber.filter).map((e) => e.data);
              await eventually(
                () => assertEqual(subscriber.received.length, expected.length, `subscriber ${i}'s count`),
                30_000,
              );
              assertEqual(
                subscriber.received.map((e) => e.data),
                expected,
                `subscriber ${i}: its events, in order`,
              );
            }
          } finally {
            await Promise.all(subscribers.map((s) => s.subscription.stop()));
          }
        },
      },
      {
        name: "a handler that throws gets the same event again after the reconnect, and order holds",
        run: async () => {
          const writer = store();
          const stream = `Retry-${ulid()}`;
          let failures = 0;
          const errors: unknown[] = [];
          const { received, subscription } = follow(await writer.getLastGlobalPosition(), {
            handler: (event) => {
              if (event.type === "Flaky" && failures++ === 0) throw new Error("handler failed once");
              received.push(event);
            },
            onError: (error) => errors.push(error),
          });
          try {
            await writer.appendToStream(stream, [
              { type: "Flaky", data: 1 },
              { type: "After", data: 2 },
            ]);
            await eventually(() => assertEqual(received.length, 2, "events handled"), 5000);
            assertEqual(summary(received), [`${stream} v1 Flaky`, `${stream} v2 After`], "handled in order");
            assertEqual(failures, 2, "the failed event was handled again");
            assert(errors.length === 1, `onError was told once, got ${errors.length}`);
          } finally {
            await subscription.stop();
          }
        },
      },
      {
        name: "the object refuses a subscription that is not a WebSocket upgrade, and bad options throw",
        run: async () => {
          const response = await stub().fetch("https://event-store.object/subscribe?after=0");
          const reply = (await response.json()) as { ok: boolean; error?: { code: string } };
          assertEqual(reply.error?.code, ErrorCode.Validation, "the reply's error code");
          const bad = await assertRejects(
            async () => store().subscribeLive({ after: -1, handler: () => {} }),
            ErrorCode.Validation,
          );
          assert(bad !== undefined, "a negative position is refused");
        },
      },
    ],
  };
}

/** The limits of the test's LimitedEventStoreObject (sqlite-workerd.ts). */
export const LIMITED_LIVE = {
  maxSubscribers: 4,
  maxUnacknowledged: 20,
  ackTimeoutMs: 300,
  pingMs: 60_000,
} as const satisfies LiveSubscribersOptions;

/** A subscriber written by hand: it records every message and acknowledges only when told to. */
async function rawSubscriber(stub: DurableObjectStubLike, after: number) {
  const response = await stub.fetch(`https://event-store.object/subscribe?after=${after}`, {
    headers: { upgrade: "websocket" },
  });
  const socket = (response as { webSocket?: ClientWebSocketLike | null }).webSocket;
  if (socket === undefined || socket === null) throw new Error(`no WebSocket: ${response.status}`);
  const messages: { kind: string; event?: EventEnvelope; ackEvery?: number; pingMs?: number; position?: number }[] = [];
  let closed: { code: number; reason: string } | undefined;
  socket.addEventListener("message", ({ data }) => void messages.push(JSON.parse(String(data))));
  (
    socket as unknown as {
      addEventListener(type: "close", listener: (e: { code: number; reason: string }) => void): void;
    }
  ).addEventListener("close", ({ code, reason }) => {
    closed = { code, reason };
  });
  socket.accept();
  return {
    messages,
    socket,
    events: () => messages.filter((m) => m.kind === "event").map((m) => m.event as EventEnvelope),
    get closed() {
      return closed;
    },
  };
}

/** The object's own count of subscribers and of messages that woke it (its test-only `/live-stats`). */
async function liveStats(stub: DurableObjectStubLike): Promise<{ subscribers: number; messages: number }> {
  return (await (await stub.fetch("https://event-store.object/live-stats")).json()) as {
    subscribers: number;
    messages: number;
  };
}

/** The object's flow control, heartbeats and cap, against an object built with {@link LIMITED_LIVE}. */
export function liveLimitsSuite(stub: () => DurableObjectStubLike): ContractSuite {
  const store = () => new DurableObjectEventStore({ stub: stub() });
  const idle = () => eventually(async () => assertEqual((await liveStats(stub())).subscribers, 0, "subscribers"), 5000);
  return {
    name: "LiveSubscribers limits (heartbeats, slow subscribers, cap)",
    cases: [
      {
        name: "the runtime answers a subscriber's ping with a heartbeat without waking the object; open gives ackEvery and pingMs",
        run: async () => {
          await idle();
          const head = await store().getLastGlobalPosition();
          const raw = await rawSubscriber(stub(), head);
          try {
            await eventually(() => assertEqual(raw.messages.length, 1, "the open message"), 5000);
            assertEqual(
              raw.messages[0],
              { kind: "open", position: head, ackEvery: 10, pingMs: 60_000 },
              "the open message",
            );
            const before = await liveStats(stub());
            raw.socket.send('{"kind":"ping"}');
            await eventually(() => assertEqual(raw.messages.at(-1)?.kind, "heartbeat", "the answer to the ping"), 5000);
            assertEqual((await liveStats(stub())).messages, before.messages, "messages that reached the object");
          } finally {
            raw.socket.close(1000, "done");
          }
        },
      },
      {
        name: "a subscriber that stops acknowledging gets its window, then is dropped with 4008 slow-consumer; the others keep up",
        run: async () => {
          await idle();
          const writer = store();
          const stream = `Slow-${ulid()}`;
          const head = await writer.getLastGlobalPosition();
          const silent = await rawSubscriber(stub(), head);
          const acking = await rawSubscriber(stub(), head);
          const received: EventEnvelope[] = [];
          const follower = store().subscribeLive({
            after: head,
            retryDelayMs: 20,
            handler: (e) => void received.push(e),
          });
          try {
            for (let i = 0; i < 5; i++) {
              await writer.appendToStream(
                stream,
                Array.from({ length: 10 }, (_, k) => ({ type: "Counted", data: i * 10 + k })),
              );
            }
            await eventually(
              () => assertEqual(received.length, 50, "the client that acknowledges: every event"),
              10_000,
            );
            await eventually(() => assertEqual(silent.events().length, 20, "the silent subscriber: its window"), 5000);
            // Paused, not dropped: acknowledging opens the window again.
            await eventually(() => assertEqual(acking.events().length, 20, "the hand-acknowledging one"), 5000);
            acking.socket.send('{"kind":"ack","received":20}');
            await eventually(() => assertEqual(acking.events().length, 40, "after its acknowledgement"), 5000);
            acking.socket.send('{"kind":"ack","received":40}');
            await eventually(() => assertEqual(acking.events().length, 50, "the rest"), 5000);
            assertEqual(silent.events().length, 20, "the silent one was sent nothing past its window");
            await new Promise((resolve) => setTimeout(resolve, LIMITED_LIVE.ackTimeoutMs + 100));
            await writer.appendToStream(stream, [{ type: "Counted", data: 50 }]);
            await eventually(
              () => assertEqual(silent.closed, { code: 4008, reason: "slow-consumer" }, "the silent one's close"),
              5000,
            );
            await eventually(() => assertEqual(received.length, 51, "the follower after the drop"), 5000);
            assertEqual(
              received.map((e) => e.data),
              Array.from({ length: 51 }, (_, n) => n),
              "the follower: every event once, in order",
            );
            // 50 sent, 40 acknowledged: the 51st fits its window.
            await eventually(() => assertEqual(acking.events().length, 51, "the hand-acknowledging one"), 5000);
            assertEqual(
              acking.events().map((e) => e.data),
              Array.from({ length: 51 }, (_, n) => n),
              "the hand-acknowledging one: in order, nothing twice",
            );
            assert(acking.closed === undefined, "the subscriber that acknowledged stays connected");
          } finally {
            await follower.stop();
            silent.socket.close(1000, "done");
            acking.socket.close(1000, "done");
          }
        },
      },
      {
        name: "a full object refuses one more subscriber (503, Retry-After, LIVE_TOO_MANY_CLIENTS); a freed slot is taken again",
        run: async () => {
          await idle();
          const head = await store().getLastGlobalPosition();
          const connected = [];
          for (let i = 0; i < LIMITED_LIVE.maxSubscribers; i++) connected.push(await rawSubscriber(stub(), head));
          try {
            const refused = await stub().fetch(`https://event-store.object/subscribe?after=${head}`, {
              headers: { upgrade: "websocket" },
            });
            assertEqual(refused.status, 503, "the status");
            assertEqual(refused.headers.get("retry-after"), "1", "Retry-After");
            const reply = (await refused.json()) as { ok: boolean; error?: { code: string } };
            assertEqual(reply.error?.code, LiveErrorCode.TooManyClients, "the error code");
            // The store's client rebuilds the error and retries, as it does any dropped connection.
            const errors: { code?: string }[] = [];
            const received: EventEnvelope[] = [];
            const waiting = store().subscribeLive({
              after: head,
              retryDelayMs: 50,
              handler: (e) => void received.push(e),
              onError: (error) => void errors.push(error as { code?: string }),
            });
            try {
              await eventually(() => assert(errors.length > 0, "onError was told"), 5000);
              assertEqual(errors[0]?.code, LiveErrorCode.TooManyClients, "the rebuilt error's code");
              connected.pop()?.socket.close(1000, "leaving");
              await store().appendToStream(`Cap-${ulid()}`, [{ type: "Late", data: 1 }]);
              await eventually(
                () => assertEqual(received.length, 1, "the waiting subscriber, once a slot freed"),
                5000,
              );
            } finally {
              await waiting.stop();
            }
          } finally {
            for (const raw of connected) raw.socket.close(1000, "done");
          }
        },
      },
    ],
  };
}
