/**
 * Implementations broken the ways real ones go wrong, kept to prove the exported contract suites
 * catch them (test/contracts/contracts-catch-broken.test.ts). Each says what it gets wrong.
 */
import {
  type DedupStore,
  type EventBusOptions,
  type EventEnvelope,
  InMemoryDedupStore,
  type InMemoryDedupStoreOptions,
  InMemoryEventBus,
  type PublishResult,
} from "../../src/index.js";

/** Drops every second event it is given, and says nothing: what a lossy publisher looks like to callers. */
export class DroppingEventBus extends InMemoryEventBus {
  constructor(options: EventBusOptions = {}) {
    super(options);
  }

  override publish(events: readonly EventEnvelope[]): Promise<PublishResult> {
    return super.publish(events.filter((_, index) => index % 2 === 0));
  }
}

/**
 * Never forgets an id: its TTL is kept but not checked on read, like a table whose expired rows
 * linger until a sweeper runs and whose reads do not look at the expiry.
 */
export class ExpiryIgnoringDedupStore implements DedupStore {
  readonly #inner: InMemoryDedupStore;

  constructor(options: InMemoryDedupStoreOptions = {}) {
    this.#inner = new InMemoryDedupStore({ ...options, ttlMs: undefined, now: undefined });
  }

  has(eventId: string): boolean {
    return this.#inner.has(eventId);
  }

  add(eventId: string): void {
    this.#inner.add(eventId);
  }
}
