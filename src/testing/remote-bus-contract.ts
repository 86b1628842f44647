import { ErrorCode } from "../errors.js";
import type { EventHandler, PublishResult } from "../event-bus/event-bus.js";
import type { EventPublisher } from "../event-store/after-commit.js";
import type { EventEnvelope } from "../events/envelope.js";
import { ulid } from "../ids.js";
import { assert, assertEqual, assertRejects } from "./assert.js";
import { type ContractCase, type ContractSuite, checkContractOptions } from "./contract.js";
import { testEnvelope } from "./event-bus-contract.js";

/** One request the publisher sent to the remote service. */
export interface SentRequest {
  /** Ids of the events it carried, in order. */
  readonly eventIds: readonly string[];
  /** Its body's size in bytes, as the service counts it against its limit. */
  readonly bytes: number;
}

/** A remote bus opened for one case: the publisher, the route to its consumer, and its dead letters. */
export interface RemoteBusRoute {
  /** The bus under test, publishing to the remote service this route reads from. */
  readonly publisher: EventPublisher;
  /** The requests the publisher has sent so far, in order. */
  readonly sentRequests: () => readonly SentRequest[];
  /**
   * One poll through the adapter's consumer: hands each delivered event to `handler` and returns how
   * many messages arrived. A message whose handler threw must be delivered again by a later poll.
   * May wait for messages (long polling), never longer than a few seconds.
   */
  readonly receive: (handler: EventHandler) => Promise<number>;
  /** The events in the dead-letter target now, each once. */
  readonly deadLetters: () => Promise<readonly EventEnvelope[]>;
  /** Removes what `open` made. */
  readonly close?: () => Promise<void>;
}

export interface RemoteBusRouteSettings {
  /**
   * Events the remote service must refuse for good. Emulators accept everything, so routes inject
   * the refusal (a wrapping `fetch`, as a fault); everything else goes to the emulator.
   */
  readonly refuse: (event: EventEnvelope) => boolean;
}

export interface RemoteBusContractOptions {
  readonly name: string;
  /** Opens a fresh bus and route (queues of its own), so cases never see each other's events. */
  readonly open: (settings: RemoteBusRouteSettings) => Promise<RemoteBusRoute>;
  /** The most events and bytes the service takes in one request. */
  readonly limits: { readonly maxEventsPerRequest: number; readonly maxRequestBytes: number };
  /** Polls `receive` at most this many times waiting for deliveries. Defaults to 60. */
  readonly maxPolls?: number;
  /** Stops waiting for deliveries after this many polls in a row received nothing. Defaults to 5. */
  readonly maxIdlePolls?: number;
  /** Per-case time limit. Defaults to 120,000 ms. */
  readonly timeoutMs?: number;
}

/**
 * What every remote bus (one whose subscribers are elsewhere: EventBridge rules to SQS, a broker)
 * must do, proven against the service or its emulator: publish each event once, in requests within
 * the service's limits, dead-letter what the service refuses and say so, and deliver through the
 * adapter's consumer, again after a handler failed.
 */
export function remoteBusContract(options: RemoteBusContractOptions): ContractSuite {
  checkContractOptions("remoteBusContract", options, {
    values: ["maxPolls", "maxIdlePolls", "timeoutMs"],
    functions: ["open"],
    objects: ["limits"],
  });
  const cases: ContractCase[] = [];
  const maxPolls = options.maxPolls ?? 60;
  const maxIdlePolls = options.maxIdlePolls ?? 5;
  const add = (
    name: string,
    run: (route: RemoteBusRoute) => Promise<void>,
    refuse: (event: EventEnvelope) => boolean = () => false,
  ) =>
    cases.push({
      name,
      timeoutMs: options.timeoutMs ?? 120_000,
      run: async () => {
        const route = await options.open({ refuse });
        try {
          await run(route);
        } finally {
          await route.close?.();
        }
      },
    });

  /** Polls until `expected` distinct events were handled without throwing, or `maxPolls` polls passed. */
  const deliver = async (route: RemoteBusRoute, expected: number, handler: EventHandler = () => undefined) => {
    const calls = new Map<string, number>();
    const handled = new Map<string, EventEnvelope>();
    for (let poll = 0, idle = 0; handled.size < expected && poll < maxPolls && idle < maxIdlePolls; poll++) {
      const received = await route.receive(async (event) => {
        calls.set(event.id, (calls.get(event.id) ?? 0) + 1);
        await handler(event);
        handled.set(event.id, event);
      });
      idle = received === 0 ? idle + 1 : 0;
    }
    return { calls, handled };
  };
  const numbered = (count: number, extra: (n: number) => Record<string, unknown> = () => ({})) =>
    Array.from({ length: count }, (_, n) => testEnvelope("Numbered", `Remote-${ulid()}`, { n, ...extra(n) }));

  add("publishes every event once; the consumer delivers each once with its envelope intact", async (route) => {
    const events = numbered(25, (n) => ({ text: n % 5 === 0 ? "ünïcødé ✓" : "plain" }));
    const result = await route.publisher.publish(events);
    assertPublished(result, events.length, "publish result");
    const { calls, handled } = await deliver(route, events.length);
    assertEqual(handled.size, events.length, "events delivered through the consumer");
    for (const event of events) {
      assertEqual(handled.get(event.id), event, `event ${event.id} arrives as published`);
      assertEqual(calls.get(event.id), 1, `handler calls for ${event.id}`);
    }
  });

  add("batches: every request within the service's limits, all events sent once, in publish order", async (route) => {
    const { maxEventsPerRequest, maxRequestBytes } = options.limits;
    // Enough small events to need several requests, then large ones that fill a request by size.
    const large = "x".repeat(Math.floor(maxRequestBytes / 4));
    const events = [...numbered(maxEventsPerRequest * 2 + 3), ...numbered(5, () => ({ large }))];
    assertPublished(await route.publisher.publish(events), events.length, "publish result");
    const requests = route.sentRequests();
    assert(requests.length >= 4, `${requests.length} request(s) for ${events.length} events`);
    requests.forEach((request, i) => {
      assert(request.eventIds.length <= maxEventsPerRequest, `request ${i} carries ${request.eventIds.length} events`);
      assert(request.bytes <= maxRequestBytes, `request ${i} is ${request.bytes} bytes`);
    });
    assertEqual(
      requests.flatMap((request) => request.eventIds),
      events.map((event) => event.id),
      "events sent, in order",
    );
    const { handled } = await deliver(route, events.length);
    assertEqual(handled.size, events.length, "events delivered");
  });

  add(
    "events the service refuses go to the dead-letter target and are named in the result; the others are delivered",
    async (route) => {
      const events = numbered(12);
      const refused = events.filter((_, n) => n % 4 === 1);
      assertEqual(refused.length, 3, "events to refuse");
      const result = await route.publisher.publish(events);
      assertEqual(result.delivered, events.length - refused.length, "delivered count");
      assertEqual(
        result.failures.map((failure) => failure.event.id),
        refused.map((event) => event.id),
        "failures name the refused events",
      );
      const dead = await route.deadLetters();
      assertEqual(dead.length, refused.length, "dead letters");
      assertEqual(
        dead.map((event) => event.id).sort(),
        refused.map((event) => event.id).sort(),
        "the dead letters are the refused events",
      );
      const { handled } = await deliver(route, events.length - refused.length);
      assertEqual(handled.size, events.length - refused.length, "events delivered");
      assert(
        refused.every((event) => !handled.has(event.id)),
        "no refused event was delivered",
      );
    },
    (event) => ((event.data as { n?: number }).n ?? 0) % 4 === 1,
  );

  add("an event whose handler failed is delivered again, and handled once it succeeds", async (route) => {
    const events = numbered(3);
    const flaky = events[1] as EventEnvelope;
    assertPublished(await route.publisher.publish(events), events.length, "publish result");
    let failed = false;
    const { calls, handled } = await deliver(route, events.length, (event) => {
      if (event.id === flaky.id && !failed) {
        failed = true;
        throw new Error("a transient handler failure");
      }
    });
    assertEqual(handled.size, events.length, "events handled");
    assertEqual(
      events.map((event) => calls.get(event.id)),
      [1, 2, 1],
      "handler calls per event",
    );
  });

  add("publishing nothing sends nothing", async (route) => {
    const result = await route.publisher.publish([]);
    assertEqual({ delivered: result.delivered, failures: result.failures }, { delivered: 0, failures: [] });
    assertEqual(route.sentRequests().length, 0, "requests sent");
  });

  add("a batch with an invalid envelope is refused whole with a ValidationError; nothing is sent", async (route) => {
    const good = testEnvelope("Good", `Remote-${ulid()}`);
    const bad = { ...testEnvelope("Bad", `Remote-${ulid()}`), id: "" };
    await assertRejects(() => route.publisher.publish([good, bad]), ErrorCode.Validation, "publish");
    assertEqual(route.sentRequests().length, 0, "requests sent");
  });

  return { name: options.name, cases };
}

function assertPublished(result: PublishResult, count: number, label: string): void {
  assertEqual(
    { delivered: result.delivered, failures: result.failures.length },
    { delivered: count, failures: 0 },
    label,
  );
}
