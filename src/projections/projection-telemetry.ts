import { isProjectionFailedError } from "../errors.js";
import type { EventStore } from "../event-store/event-store.js";
import type { EventEnvelope } from "../events/envelope.js";
import { countError, projectionLagRecorder } from "../telemetry/metrics.js";
import { consumerParent } from "../telemetry/propagation.js";
import { inSpan, SpanKind, setSpanAttribute } from "../telemetry/spans.js";
import { activeTracer } from "../telemetry/tracer.js";

/** Where a batch sits in the feed, for its span. */
export interface BatchBounds {
  readonly projection: string;
  /** The checkpoint before the batch. */
  readonly from: number;
  /** The checkpoint the batch moves to: the last event's global position. */
  readonly to: number;
  /** Run by an append's after-commit step (an inline runner) rather than the runner's own loop. */
  readonly inline: boolean;
}

/**
 * Runs one batch's apply-and-commit (`apply` resolves to the number of events handled) in a
 * `projection <name>` span, when `traced` and a provider is registered. A batch has as many origins
 * as events: with one, the span continues that trace; with several, it starts its own and links to
 * each (see `consumerParent`). A failure is recorded with its code and counted.
 */
export function traceBatch(
  traced: boolean,
  events: readonly EventEnvelope[],
  bounds: BatchBounds,
  apply: () => Promise<number>,
): Promise<number> {
  const tracer = traced ? activeTracer() : undefined;
  const counted = (running: Promise<number>) =>
    running.catch((error: unknown) => {
      countError("projection", error);
      throw error;
    });
  if (tracer === undefined) return counted(apply());
  const { parent, links } = consumerParent(events);
  const attributes = {
    "eventflows.projection": bounds.projection,
    "messaging.operation.type": "process",
    "messaging.batch.message_count": events.length,
    "eventflows.position.from": bounds.from,
    "eventflows.position.to": bounds.to,
    "eventflows.inline": bounds.inline,
  };
  const run = inSpan(
    tracer,
    `projection ${bounds.projection}`,
    SpanKind.CONSUMER,
    attributes,
    async (span) => {
      try {
        const handled = await apply();
        setSpanAttribute(span, "eventflows.handled", handled);
        setSpanAttribute(span, "eventflows.outcome", "committed");
        return handled;
      } catch (error) {
        // `failed`: the handler threw and the runner stops; `error`: a transient failure, retried.
        setSpanAttribute(span, "eventflows.outcome", isProjectionFailedError(error) ? "failed" : "error");
        throw error;
      }
    },
    parent,
    links,
  );
  return counted(run);
}

/**
 * Records the projection's lag after a batch, when metrics are recorded: a batch shorter than the
 * size it asked for (`batchSize`, the runner's `batchSize` or a catch-up's grown size) found the end
 * of the feed (0 behind, no look-up); a full one asks the store for its newest position. A failed
 * look-up records nothing: the next batch will.
 */
export async function recordBatchLag(
  store: EventStore,
  projection: string,
  events: readonly EventEnvelope[],
  position: number,
  batchSize: number,
): Promise<void> {
  const record = projectionLagRecorder();
  if (record === undefined) return;
  let behind = 0;
  if (events.length >= batchSize) {
    try {
      behind = Math.max(0, (await store.getLastGlobalPosition()) - position);
    } catch {
      return;
    }
  }
  record(projection, events[events.length - 1], behind);
}
