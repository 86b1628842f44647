import type { EventStore } from "../event-store/event-store.js";
import type { ExpectedVersion } from "../event-store/types.js";
import type { EventEnvelope, NewEvent } from "../events/envelope.js";

/**
 * Appends a case's setup events in appends of at most the store's `maxEventsPerAppend`: a store that
 * declares a limit must not fail a case for its setup (the limit has a case of its own). The first
 * append carries `expectedVersion`, each later one the version the previous left.
 */
export async function appendWithinLimit(
  store: EventStore,
  streamId: string,
  events: readonly NewEvent[],
  expectedVersion: ExpectedVersion = "any",
): Promise<EventEnvelope[]> {
  const max = store.capabilities.maxEventsPerAppend ?? events.length;
  const stored: EventEnvelope[] = [];
  let expected = expectedVersion;
  for (let start = 0; start < events.length; start += max) {
    const result = await store.appendToStream(streamId, events.slice(start, start + max), {
      expectedVersion: expected,
    });
    stored.push(...result.events);
    expected = result.nextExpectedVersion;
  }
  return stored;
}
