import type { PublishResult } from "../event-bus/event-bus.js";
import type { EventEnvelope } from "../events/envelope.js";
import { getLogger } from "../logging/library-logger.js";

/**
 * Where a store sends what it committed: only `publish` is needed, so a remote bus (EventBridge)
 * that cannot subscribe in this process is a publisher too.
 */
export interface EventPublisher {
  publish(events: readonly EventEnvelope[]): Promise<PublishResult>;
}

/** Called when publishing throws after a commit; the events are stored either way. */
export type PublishErrorHook = (error: unknown, events: readonly EventEnvelope[]) => void;

/**
 * The default hook: an error line on the library's logger. Hooks of your own may call it with what they
 * have: any thrown value, and anything for the events (a missing list is logged as none), never a TypeError.
 */
export const defaultOnPublishError: PublishErrorHook = (error, events) => {
  const list: readonly unknown[] = Array.isArray(events) ? events : [];
  const first = list[0] as Partial<EventEnvelope> | null | undefined;
  getLogger().error(`publishing ${list.length} committed event(s) failed`, {
    events: list.length,
    streamId: first?.streamId,
    correlationId: first?.metadata?.correlationId,
    error,
  });
};
