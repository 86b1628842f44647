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

export const defaultOnPublishError: PublishErrorHook = (error, events) =>
  getLogger().error(`publishing ${events.length} committed event(s) failed`, {
    events: events.length,
    streamId: events[0]?.streamId,
    correlationId: events[0]?.metadata?.correlationId,
    error,
  });
