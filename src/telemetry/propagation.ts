// Only the API's types: its modules (even the standalone ones) would be in every store's bundle, and
// its `trace` and `context` objects would bring the whole API into code that never traces (see otel-global.ts).
import type { Context, Link, Span, SpanContext, TraceState } from "@opentelemetry/api";
import type { EventEnvelope, EventMetadata } from "../events/envelope.js";
import { reportTelemetryFailure } from "./failures.js";
import { activeContext, ROOT_CONTEXT, withSpan } from "./otel-global.js";

/**
 * A span that only carries a remote span context, as the API's `trace.setSpanContext` wraps one
 * (its `NonRecordingSpan`): the parent a consumer's span continues an event's trace from.
 */
class RemoteSpan implements Span {
  readonly #context: SpanContext;
  constructor(spanContext: SpanContext) {
    this.#context = spanContext;
  }
  spanContext(): SpanContext {
    return this.#context;
  }
  setAttribute(): this {
    return this;
  }
  setAttributes(): this {
    return this;
  }
  addEvent(): this {
    return this;
  }
  addLink(): this {
    return this;
  }
  addLinks(): this {
    return this;
  }
  setStatus(): this {
    return this;
  }
  updateName(): this {
    return this;
  }
  end(): void {}
  isRecording(): boolean {
    return false;
  }
  recordException(): void {}
}

/** A span that records nothing and carries `spanContext` (the API's `NonRecordingSpan`). */
export function nonRecordingSpan(spanContext: SpanContext): Span {
  return new RemoteSpan(spanContext);
}

/** The API's `trace.setSpanContext`. */
function setSpanContext(context: Context, spanContext: SpanContext): Context {
  return withSpan(context, new RemoteSpan(spanContext));
}

/**
 * One W3C `tracestate` list member: a key (`vendor` or `tenant@system`: lowercase letters, digits and
 * `_-*\/`) and a value of printable ASCII without `,` or `=` that does not end in a space.
 */
const TRACESTATE_MEMBER =
  /^([a-z][_0-9a-z*/-]{0,255}|[a-z0-9][_0-9a-z*/-]{0,240}@[a-z][_0-9a-z*/-]{0,13})=([ -+\--<>-~]{0,255}[!-+\--<>-~])$/;
/** The most list members a `tracestate` carries (W3C): the rightmost beyond it are dropped. */
const MAX_TRACESTATE_MEMBERS = 32;

/**
 * A parsed `tracestate`, as the API's `createTraceState` makes one (its module and its validators
 * are most of two kilobytes, in every store's bundle): invalid list members are dropped, and of more
 * than 32 the leftmost (the most recent) are kept. Immutable: `set` and `unset` return a new one.
 */
class W3cTraceState implements TraceState {
  /** Key to value, from the header's rightmost member to its leftmost: the newest member last. */
  readonly #members: ReadonlyMap<string, string>;
  constructor(members: ReadonlyMap<string, string>) {
    this.#members = members;
  }
  get(key: string): string | undefined {
    return this.#members.get(key);
  }
  /** The member moved or added to the left; this state unchanged when that makes more than 32 members or 512 characters. */
  set(key: string, value: string): TraceState {
    const members = new Map(this.#members);
    members.delete(key);
    members.set(key, value);
    const next = new W3cTraceState(members);
    return members.size > MAX_TRACESTATE_MEMBERS || next.serialize().length > 512 ? this : next;
  }
  unset(key: string): TraceState {
    const members = new Map(this.#members);
    members.delete(key);
    return new W3cTraceState(members);
  }
  serialize(): string {
    return Array.from(this.#members, ([key, value]) => `${key}=${value}`)
      .reverse()
      .join(",");
  }
}

/** The valid list members of a `tracestate` header (of at most 512 characters: the caller checks). */
export function parseTraceState(header: string): TraceState {
  const members = new Map<string, string>();
  const parts = header.split(",");
  for (let i = parts.length - 1; i >= 0; i--) {
    const member = TRACESTATE_MEMBER.exec((parts[i] as string).trim());
    if (member !== null) members.set(member[1] as string, member[2] as string);
  }
  return new W3cTraceState(
    members.size > MAX_TRACESTATE_MEMBERS ? new Map([...members].slice(-MAX_TRACESTATE_MEMBERS)) : members,
  );
}

/** The `sampled` trace flag (the API's `TraceFlags.SAMPLED`). */
const SAMPLED = 1;

const HEX = /^[0-9a-f]+$/;

/** Hex trace and span ids of 32 and 16 digits, not all zeros: the API's `isSpanContextValid` (its module is most of a kilobyte). */
const VALID_IDS = /^(?!0{32})[0-9a-fA-F]{32}-(?!0{16})[0-9a-fA-F]{16}$/;

export function isSpanContextValid(spanContext: SpanContext): boolean {
  return VALID_IDS.test(`${spanContext.traceId}-${spanContext.spanId}`);
}

/** The W3C `traceparent` (version 00) of a span context. */
export function formatTraceparent(spanContext: SpanContext): string {
  const flags = (spanContext.traceFlags & SAMPLED) === SAMPLED ? "01" : "00";
  return `00-${spanContext.traceId}-${spanContext.spanId}-${flags}`;
}

/**
 * The span context a `traceparent` (and `tracestate`) names, or `undefined` when it is not a valid
 * version-00 value: anything else in metadata is ignored, as W3C asks of receivers.
 */
export function parseTraceparent(traceparent: unknown, tracestate?: unknown): SpanContext | undefined {
  if (typeof traceparent !== "string" || traceparent.length !== 55) return undefined;
  const [version, traceId, spanId, flags] = traceparent.split("-");
  if (version !== "00" || traceId === undefined || spanId === undefined || flags === undefined) return undefined;
  if (traceId.length !== 32 || spanId.length !== 16 || flags.length !== 2) return undefined;
  if (!HEX.test(traceId) || !HEX.test(spanId) || !HEX.test(flags)) return undefined;
  const parsed: SpanContext = {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & SAMPLED,
    isRemote: true,
  };
  if (!isSpanContextValid(parsed)) return undefined;
  return typeof tracestate === "string" && tracestate.length > 0 && tracestate.length <= 512
    ? { ...parsed, traceState: parseTraceState(tracestate) }
    : parsed;
}

/** The trace context an event carries, as a context to start its consumer's span in. */
export function contextFromMetadata(metadata: EventMetadata | undefined): Context | undefined {
  const spanContext = parseTraceparent(metadata?.traceparent, metadata?.tracestate);
  return spanContext === undefined ? undefined : setSpanContext(ROOT_CONTEXT, spanContext);
}

/**
 * Where a consumer's span for these events starts, and what it links to. One origin: the span is its
 * child (the trace continues). Several origins (a batch from many requests): a new trace whose span
 * links to each origin, as OpenTelemetry's messaging conventions ask, since a span has one parent.
 * No origin: the active context.
 */
export function consumerParent(events: readonly EventEnvelope[]): { parent: Context; links?: Link[] } {
  const origins = new Map<string, SpanContext>();
  for (const event of events) {
    const spanContext = parseTraceparent(event.metadata?.traceparent, event.metadata?.tracestate);
    if (spanContext !== undefined) origins.set(`${spanContext.traceId}-${spanContext.spanId}`, spanContext);
  }
  const active = activeContext() ?? ROOT_CONTEXT;
  if (origins.size === 0) return { parent: active };
  const list = [...origins.values()];
  const only = list[0] as SpanContext;
  if (list.length === 1) return { parent: setSpanContext(active, only) };
  return { parent: ROOT_CONTEXT, links: list.map((spanContext) => ({ context: spanContext })) };
}

/**
 * Writes the span's context into each event's metadata (objects the caller owns and may change). A
 * span that throws when asked for its context (a broken tracer's) stamps nothing: see spans.ts.
 */
export function stampTraceContext(span: Span, metadata: readonly EventMetadata[]): void {
  let traceparent: string;
  let tracestate: string | undefined;
  try {
    const spanContext = span.spanContext();
    if (!isSpanContextValid(spanContext)) return;
    traceparent = formatTraceparent(spanContext);
    tracestate = spanContext.traceState?.serialize();
  } catch (error) {
    reportTelemetryFailure("tracer", error);
    return;
  }
  for (const each of metadata) {
    const target = each as Record<string, unknown>;
    target.traceparent = traceparent;
    if (tracestate !== undefined && tracestate !== "") target.tracestate = tracestate;
    // Deleted only when there: a delete can turn the object into a slower, dictionary-shaped one.
    else if ("tracestate" in target) delete target.tracestate;
  }
}
