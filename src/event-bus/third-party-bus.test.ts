import { describe, expect, test } from "bun:test";
import {
  EventBus,
  type EventBusCapabilities,
  type EventBusOptions,
  type EventEnvelope,
  type EventHandler,
  functionIssues,
  type HandlerFailure,
  matcherFor,
  type PublishResult,
  patternIssues,
  type SubscribeOptions,
  type SubscriptionPattern,
  type Unsubscribe,
  ValidationError,
} from "../index.js";
import { eventBusContract, runContract } from "../testing/index.js";

/**
 * A bus written as a third-party author would, from the public entry alone (the shape
 * docs/adapters/write-your-own.md describes): its subscribe refuses patterns with `patternIssues`,
 * so it words a bad pattern as every EventFlows bus does and meets eventBusContract's pattern rules
 * (names well formed, no "-" in a category) without copying them.
 */
class PublicEntryBus extends EventBus {
  readonly capabilities: EventBusCapabilities = { localSubscribers: true };
  readonly #subscriptions = new Set<{
    matches: (event: EventEnvelope) => boolean;
    handler: EventHandler;
    name: string;
  }>();
  readonly #onError: ((failure: HandlerFailure) => void) | undefined;

  constructor(options: EventBusOptions = {}) {
    super();
    this.#onError = options.onError;
  }

  subscribe(pattern: SubscriptionPattern, handler: EventHandler, options: SubscribeOptions = {}): Unsubscribe {
    const issues = [...functionIssues(handler, "handler", true), ...patternIssues(pattern)];
    if (issues.length > 0) throw new ValidationError("Invalid subscription", issues);
    const subscription = { matches: matcherFor(pattern), handler, name: options.name ?? "anonymous" };
    this.#subscriptions.add(subscription);
    return () => void this.#subscriptions.delete(subscription);
  }

  async publish(events: readonly EventEnvelope[]): Promise<PublishResult> {
    let delivered = 0;
    const failures: HandlerFailure[] = [];
    for (const event of events) {
      for (const { matches, handler, name } of [...this.#subscriptions]) {
        if (!matches(event)) continue;
        try {
          await handler(event);
          delivered++;
        } catch (error) {
          const failure = { error, event, subscription: name };
          failures.push(failure);
          try {
            this.#onError?.(failure);
          } catch {
            // A faulty hook must not stop delivery.
          }
        }
      }
    }
    return { delivered, failures };
  }
}

describe("a bus built on the public entry", () => {
  test("patternIssues is exported and names where a pattern is wrong", () => {
    expect(patternIssues({ all: true })).toEqual([]);
    expect(patternIssues({ category: "Order-1" })[0]?.path).toEqual(["pattern", "category"]);
    expect(patternIssues({ type: ["Placed", "\uD800"] })[0]?.path).toEqual(["pattern", "type", 1]);
  });

  test("matcherFor refuses what is no pattern with a ValidationError naming it, not a TypeError", () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    for (const pattern of [undefined, null, "Placed", { type: {} }, { category: 5 }, proxy]) {
      expect(() => matcherFor(pattern as never)).toThrow(ValidationError);
    }
    expect(() => patternIssues(proxy)).not.toThrow();
    const placed = matcherFor({ type: ["Placed"] });
    expect(placed({ type: "Placed", streamId: "Order-1" } as EventEnvelope)).toBe(true);
  });

  test("passes every case of eventBusContract", async () => {
    const results = await runContract(
      eventBusContract({ name: "public entry bus", create: (o) => new PublicEntryBus(o) }),
    );
    expect(results.filter((result) => !result.ok).map((result) => `${result.name}: ${String(result.error)}`)).toEqual(
      [],
    );
  });
});
