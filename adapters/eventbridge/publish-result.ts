import type { EventEnvelope, PublishResult } from "../../src/index.js";
import type { DeadLetter } from "./dead-letters.js";

/**
 * What `publish` did, event by event. In a file of its own so that the bus (which returns it) and
 * PublishIncompleteError (which carries it) both import it without importing each other.
 */
export interface EventBridgePublishResult extends PublishResult {
  /** Events EventBridge accepted, with the id it gave each. `delivered` counts them. */
  readonly published: readonly { readonly event: EventEnvelope; readonly eventId: string }[];
  /** Events EventBridge did not take, now in the dead-letter queue or handed to the handler. Also in `failures`. */
  readonly deadLettered: readonly DeadLetter[];
}
