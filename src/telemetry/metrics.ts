/**
 * The library's metrics, through the OpenTelemetry metrics API only: with no MeterProvider
 * registered they cost one global lookup per site and record nothing (no clock read either). The
 * instruments are made on first use from whatever provider is registered then, and made again when
 * another is registered, so an SDK set up after the library is imported is picked up.
 *
 * Labels are bounded: message and event types, aggregate types, subscription, projection and saga
 * names, saga statuses, outcomes and error codes,
 * which the application's code defines, never event ids, stream ids or payloads. Each label keeps at
 * most {@link MAX_LABEL_VALUES} distinct values; later ones are counted under `_OTHER`, so a type
 * taken from user input (an HTTP route's command name) cannot grow a time series per request.
 * The tenant label is opt-in (`configureMetrics({ tenantLabel: true })`) and bounded the same way.
 */
import type { Attributes, Counter, Gauge, Histogram, Meter, MeterProvider, UpDownCounter } from "@opentelemetry/api";
import { type Issue, isEventFlowsError, ValidationError } from "../errors.js";
import type { EventEnvelope } from "../events/envelope.js";
import { unknownKeyIssues } from "../internal/validate.js";
import { forgetTelemetryFailures, reportTelemetryFailure } from "./failures.js";
import { otelGlobal } from "./otel-global.js";

/** The instrumentation scope the library's instruments are registered under. */
export const METER_NAME = "@eventflows/core";
/** Distinct values one label keeps before the rest are counted as {@link OTHER_LABEL}. */
export const MAX_LABEL_VALUES = 100;
/** The label value of everything beyond {@link MAX_LABEL_VALUES}, and of errors without a code. */
export const OTHER_LABEL = "_OTHER";

// Each label a constant of its own, as the names below: the recording functions name only what they
// use, so a bundle that records (say) appends carries neither `MetricLabel` nor the other labels.
const L_MESSAGE_TYPE = "eventflows.message.type";
const L_EVENT_TYPE = "eventflows.event.type";
const L_AGGREGATE_TYPE = "eventflows.aggregate.type";
const L_SUBSCRIPTION = "eventflows.subscription";
const L_CONSUMER = "eventflows.consumer";
const L_OPERATION = "eventflows.operation";
const L_OUTCOME = "eventflows.outcome";
const L_ERROR_TYPE = "error.type";
const L_PROJECTION = "eventflows.projection";
const L_SAGA = "eventflows.saga";
const L_SAGA_STATUS = "eventflows.saga.status";
const L_TENANT = "eventflows.tenant";

/** The label (attribute) names the library's metrics use. */
export const MetricLabel = {
  messageType: L_MESSAGE_TYPE,
  eventType: L_EVENT_TYPE,
  aggregateType: L_AGGREGATE_TYPE,
  subscription: L_SUBSCRIPTION,
  consumer: L_CONSUMER,
  operation: L_OPERATION,
  outcome: L_OUTCOME,
  errorType: L_ERROR_TYPE,
  projection: L_PROJECTION,
  saga: L_SAGA,
  sagaStatus: L_SAGA_STATUS,
  /** Opt-in (`tenantLabel`): the `tenantId` of the event's or message's metadata, bounded like the rest. */
  tenant: L_TENANT,
} as const;

/**
 * The metadata field the tenant label is read from: the one `tenancy()`'s stores stamp on every
 * event and the HTTP dispatcher puts on every command and query (the tenancy module's
 * `TENANT_METADATA_KEY`, repeated here because telemetry sits below the stores that import it).
 */
const TENANT_KEY = "tenantId";

// Each name a constant of its own: an instrument's definition below names only its own, so a bundle
// that never records (say) saga metrics carries neither their names nor their definitions.
const COMMAND_DURATION = "eventflows.command.duration";
const QUERY_DURATION = "eventflows.query.duration";
const EVENTS_APPENDED = "eventflows.events.appended";
const EVENTS_PUBLISHED = "eventflows.events.published";
const EVENTS_CONSUMED = "eventflows.events.consumed";
const ERRORS = "eventflows.errors";
const REHYDRATION_DURATION = "eventflows.aggregate.rehydration.duration";
const EVENTS_REPLAYED = "eventflows.aggregate.events_replayed";
const SUBSCRIPTION_LAG = "eventflows.subscription.lag";
const PROJECTION_LAG = "eventflows.projection.lag";
const PROJECTION_POSITIONS_BEHIND = "eventflows.projection.positions_behind";
const SAGA_STEPS = "eventflows.saga.steps";
const SAGA_INSTANCES = "eventflows.saga.instances";
const SAGA_TIMEOUT_LATENESS = "eventflows.saga.timeout.lateness";

/** The instruments' names (Prometheus shows them with `_` for `.` and the unit appended). */
export const MetricName = {
  commandDuration: COMMAND_DURATION,
  queryDuration: QUERY_DURATION,
  eventsAppended: EVENTS_APPENDED,
  eventsPublished: EVENTS_PUBLISHED,
  eventsConsumed: EVENTS_CONSUMED,
  errors: ERRORS,
  rehydrationDuration: REHYDRATION_DURATION,
  eventsReplayed: EVENTS_REPLAYED,
  subscriptionLag: SUBSCRIPTION_LAG,
  projectionLag: PROJECTION_LAG,
  projectionPositionsBehind: PROJECTION_POSITIONS_BEHIND,
  sagaSteps: SAGA_STEPS,
  sagaInstances: SAGA_INSTANCES,
  sagaTimeoutLateness: SAGA_TIMEOUT_LATENESS,
} as const;

/**
 * Where an error was counted (the `eventflows.operation` label of `eventflows.errors`): only values a
 * site records and docs/core/metrics-and-health.md lists (test/docs/metrics-page.test.ts holds them together).
 */
export type MetricOperation = "command" | "query" | "append" | "publish" | "consume" | "projection" | "saga";

export interface MetricsSettings {
  /** False turns every metric of the library off, whatever provider is registered. Defaults to true. */
  readonly enabled?: boolean;
  /** A provider of the library's own instead of the global one (`metrics.setGlobalMeterProvider`). */
  readonly meterProvider?: MeterProvider;
  /**
   * Adds the `eventflows.tenant` label to events appended, published and consumed and to command and
   * query durations, from the `tenantId` in their metadata. Off by default: a label per tenant
   * multiplies every series by the tenants active, so it keeps at most {@link MAX_LABEL_VALUES}
   * tenants and counts the rest as `_OTHER`.
   */
  readonly tenantLabel?: boolean;
}

/** How one instrument is made from a meter: each is made on first use, once per provider. */
type Definition<T> = (meter: Meter) => T;

let enabled = true;
let tenantLabel = false;
let ownProvider: MeterProvider | undefined;
// The provider last looked at, its meter (undefined: a no-op provider, record nothing) and the
// instruments made from it so far, by definition.
let seen: MeterProvider | undefined;
let currentMeter: Meter | undefined;
const made = new Map<Definition<unknown>, unknown>();
const labelValues = new Map<string, Set<string>>();

/**
 * Turns the library's metrics off or on, or points them at a provider of their own. Settings not
 * given keep their value; `configureMetrics({})` changes nothing.
 * @throws {ValidationError} settings that are not an object, a key it does not take, `enabled` or
 *   `tenantLabel` that is not a boolean, or a `meterProvider` without `getMeter`; nothing is changed. (Taken as it was, a provider
 *   without `getMeter` made every recording site throw a TypeError: an append that had committed among them.)
 */
export function configureMetrics(settings: MetricsSettings): void {
  const issues = settingsIssues(settings);
  if (issues.length > 0) throw new ValidationError("Invalid metrics settings", issues);
  if (settings.enabled !== undefined) enabled = settings.enabled;
  if ("meterProvider" in settings) ownProvider = settings.meterProvider;
  if (settings.tenantLabel !== undefined) tenantLabel = settings.tenantLabel === true;
  forgetInstruments();
}

function settingsIssues(settings: unknown): Issue[] {
  if (typeof settings !== "object" || settings === null || Array.isArray(settings)) {
    return [{ path: [], message: "settings must be an object ({ enabled, meterProvider, tenantLabel })" }];
  }
  const given = settings as Record<string, unknown>;
  // A misspelt key (`enabeld: false`) would leave metrics on without a word, as configureTelemetry refuses one.
  const issues = unknownKeyIssues(given, ["enabled", "meterProvider", "tenantLabel"]);
  for (const key of ["enabled", "tenantLabel"]) {
    if (given[key] !== undefined && typeof given[key] !== "boolean") {
      issues.push({ path: [key], message: "must be a boolean" });
    }
  }
  const provider = given.meterProvider as { getMeter?: unknown } | null | undefined;
  if (provider !== undefined && (typeof provider !== "object" || typeof provider?.getMeter !== "function")) {
    issues.push({ path: ["meterProvider"], message: "must be a MeterProvider (with getMeter)" });
  }
  return issues;
}

/** Forgets the instruments and the label values seen: for tests that register providers in turn. */
export function resetMetrics(): void {
  enabled = true;
  tenantLabel = false;
  ownProvider = undefined;
  forgetInstruments();
  labelValues.clear();
  okAttributeCache.command.clear();
  okAttributeCache.query.clear();
}

function forgetInstruments(): void {
  seen = undefined;
  currentMeter = undefined;
  made.clear();
}

/** True when `configureMetrics` gave the library a provider of its own (it records whatever the API's global is). */
export function ownMeterProvider(): boolean {
  return ownProvider !== undefined;
}

/** The meter to record with, or undefined when nothing would be recorded (off, or no provider registered). */
function meter(): Meter | undefined {
  if (!enabled) return undefined;
  // No provider of our own and none registered with the API (read from its global registry, see
  // otel-global.ts): the API's no-op, so record nothing and time nothing.
  const provider = ownProvider ?? otelGlobal("metrics");
  if (provider === undefined) return undefined;
  if (provider !== seen) {
    seen = provider;
    made.clear();
    forgetTelemetryFailures("meter");
    currentMeter = undefined;
    try {
      const candidate = provider.getMeter(METER_NAME);
      // A no-op provider hands out the API's no-op meter (known by its class name): nothing would be recorded.
      if (candidate?.constructor?.name !== "NoopMeter") currentMeter = candidate;
    } catch (error) {
      // A provider that throws records nothing: it must not fail what it measures (see guarded).
      reportTelemetryFailure("meter", error);
    }
  }
  return currentMeter;
}

/** The instrument `definition` makes, from the current meter; undefined when nothing is recorded. */
function instrument<T>(definition: Definition<T>): T | undefined {
  const current = meter();
  if (current === undefined) return undefined;
  let value = made.get(definition) as T | undefined;
  if (value === undefined) {
    try {
      value = guarded(definition(current));
    } catch (error) {
      reportTelemetryFailure("meter", error);
      return undefined;
    }
    made.set(definition, value);
  }
  return value;
}

/**
 * The instrument with `add` and `record` that never throw. OpenTelemetry asks that an SDK's do not,
 * but one that did (a broken or hand-written meter) failed the operation it measured after the fact:
 * an append that had committed was reported failed, with the meter's own error, and a retry without
 * event ids stored it twice. The first such error after each registration is reported on the
 * library's logger (see failures.ts).
 */
function guarded<T>(instrument: T): T {
  const target = instrument as { add?: (...args: unknown[]) => void; record?: (...args: unknown[]) => void };
  return {
    add(...args: unknown[]) {
      try {
        target.add?.(...args);
      } catch (error) {
        reportTelemetryFailure("meter", error);
      }
    },
    record(...args: unknown[]) {
      try {
        target.record?.(...args);
      } catch (error) {
        reportTelemetryFailure("meter", error);
      }
    },
  } as T;
}

// The definitions: plain functions a bundler keeps only when a recording function that uses them is kept.
/**
 * Bucket boundaries for durations in seconds: OpenTelemetry's HTTP duration buckets (5 ms to 10 s)
 * with 0.5, 1 and 2.5 ms below them, where in-memory and single-statement work lands. Without advice
 * the SDK's default boundaries (0, 5, 10… 10000, made for milliseconds) put every call under 5 s in
 * one bucket, and a quantile read from them said 2.5 s for a median of a fraction of a millisecond.
 */
const SECONDS_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];
const seconds = (meter: Meter, name: string, description: string) =>
  meter.createHistogram(name, { unit: "s", description, advice: { explicitBucketBoundaries: SECONDS_BUCKETS } });
const commandDuration: Definition<Histogram> = (m) =>
  seconds(m, COMMAND_DURATION, "Command dispatch time, handler and middleware included");
const queryDuration: Definition<Histogram> = (m) =>
  seconds(m, QUERY_DURATION, "Query dispatch time, handler and middleware included");
const appended: Definition<Counter> = (m) =>
  m.createCounter(EVENTS_APPENDED, { unit: "{event}", description: "Events committed" });
const published: Definition<Counter> = (m) =>
  m.createCounter(EVENTS_PUBLISHED, {
    unit: "{event}",
    description: "Committed events handed to the bus after the commit, by outcome",
  });
const consumed: Definition<Counter> = (m) =>
  m.createCounter(EVENTS_CONSUMED, {
    unit: "{event}",
    description: "Events handled by bus subscribers and store subscriptions, by outcome",
  });
const errors: Definition<Counter> = (m) =>
  m.createCounter(ERRORS, { unit: "{error}", description: "Failures by error code" });
const rehydration: Definition<Histogram> = (m) =>
  seconds(m, REHYDRATION_DURATION, "Aggregate load time: snapshot, events and their replay");
const replayed: Definition<Histogram> = (m) =>
  m.createHistogram(EVENTS_REPLAYED, {
    unit: "{event}",
    description: "Events applied per aggregate load (after the snapshot, if any)",
    advice: { explicitBucketBoundaries: [0, 1, 10, 100, 1_000, 10_000, 100_000] },
  });
const subscriptionLag: Definition<Gauge> = (m) =>
  m.createGauge(SUBSCRIPTION_LAG, {
    unit: "s",
    description: "Age of the last event a store subscription handled; 0 once caught up",
  });
const projectionLag: Definition<Gauge> = (m) =>
  m.createGauge(PROJECTION_LAG, {
    unit: "s",
    description: "Age of the last event a projection batch took in; 0 once caught up",
  });
const projectionBehind: Definition<Gauge> = (m) =>
  m.createGauge(PROJECTION_POSITIONS_BEHIND, {
    unit: "{event}",
    description: "Global positions between a projection's checkpoint and the newest event, after a batch",
  });
const sagaSteps: Definition<Counter> = (m) =>
  m.createCounter(SAGA_STEPS, {
    unit: "{step}",
    description: "Events and fired timeouts applied to saga instances, by outcome",
  });
const sagaInstances: Definition<UpDownCounter> = (m) =>
  m.createUpDownCounter(SAGA_INSTANCES, {
    unit: "{instance}",
    description: "Saga instances by status, as the status changes this process made moved them",
  });
const timeoutLateness: Definition<Histogram> = (m) =>
  m.createHistogram(SAGA_TIMEOUT_LATENESS, {
    unit: "s",
    description: "How long after its due time a saga timeout fired",
    advice: { explicitBucketBoundaries: [0, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600] },
  });

/** The value as a label, or `_OTHER` once the label has {@link MAX_LABEL_VALUES} other values. */
export function boundedLabel(label: string, value: string): string {
  let values = labelValues.get(label);
  if (values === undefined) {
    values = new Set();
    labelValues.set(label, values);
  }
  if (values.has(value)) return value;
  if (values.size >= MAX_LABEL_VALUES) return OTHER_LABEL;
  values.add(value);
  return value;
}

/** The bounded tenant label of what carries a tenant in its metadata, when the label is on; else undefined. */
function tenantOf(metadata: Readonly<Record<string, unknown>> | undefined): string | undefined {
  if (!tenantLabel) return undefined;
  const tenant = metadata?.[TENANT_KEY];
  return typeof tenant === "string" ? boundedLabel(L_TENANT, tenant) : undefined;
}

/** The attributes with the tenant label added when there is one (a copy: cached attributes stay shared). */
function withTenant(attributes: Attributes, tenant: string | undefined): Attributes {
  return tenant === undefined ? attributes : { ...attributes, [L_TENANT]: tenant };
}

function errorLabel(error: unknown): string {
  return isEventFlowsError(error) ? boundedLabel(L_ERROR_TYPE, error.code) : OTHER_LABEL;
}

/** Counts a failure by its code (`_OTHER` for errors that are not the library's). */
export function countError(operation: MetricOperation, error: unknown): void {
  // Bounded: adapters name the operation, and a JavaScript caller is held to no type.
  instrument(errors)?.add(1, {
    [L_ERROR_TYPE]: errorLabel(error),
    [L_OPERATION]: boundedLabel(L_OPERATION, operation),
  });
}

/**
 * Times one command or query dispatch: returns undefined when no metrics are recorded, else a
 * function to pass the dispatch's promise through.
 */
export function dispatchTimer(
  kind: "command" | "query",
):
  | ((type: string, dispatch: Promise<unknown>, metadata?: Readonly<Record<string, unknown>>) => Promise<unknown>)
  | undefined {
  const histogram = instrument(kind === "command" ? commandDuration : queryDuration);
  if (histogram === undefined) return undefined;
  const started = performance.now();
  return (type, dispatch, metadata) =>
    dispatch.then(
      (result) => {
        histogram.record(elapsedSeconds(started), withTenant(okAttributes(kind, type), tenantOf(metadata)));
        return result;
      },
      (error: unknown) => {
        const code = errorLabel(error);
        const attributes: Attributes = {
          [L_MESSAGE_TYPE]: boundedLabel(L_MESSAGE_TYPE, type),
          [L_OUTCOME]: "error",
          [L_ERROR_TYPE]: code,
        };
        histogram.record(elapsedSeconds(started), withTenant(attributes, tenantOf(metadata)));
        instrument(errors)?.add(1, { [L_ERROR_TYPE]: code, [L_OPERATION]: kind });
        throw error;
      },
    );
}

// The attributes of successful dispatches, made once per kind and type: the common case allocates nothing.
const okAttributeCache = { command: new Map<string, Attributes>(), query: new Map<string, Attributes>() };

function okAttributes(kind: "command" | "query", type: string): Attributes {
  const cache = okAttributeCache[kind];
  let attributes = cache.get(type);
  if (attributes === undefined) {
    attributes = {
      [L_MESSAGE_TYPE]: boundedLabel(L_MESSAGE_TYPE, type),
      [L_OUTCOME]: "ok",
    };
    // Past the label's bound every other type shares `_OTHER`: the cache stays as small as the label.
    if (cache.size < MAX_LABEL_VALUES) cache.set(type, attributes);
  }
  return attributes;
}

/** Counts committed events by type. */
export function countAppended(events: readonly EventEnvelope[]): void {
  const counter = instrument(appended);
  if (counter !== undefined) addByType(counter, events, {});
}

/** What failed, when something did: `{ error }` (an error may be any value, `undefined` included). */
export type Failure = { readonly error: unknown } | undefined;

/** Counts events handed to the bus after a commit, by type and outcome; a failure once by its code. */
export function countPublished(events: readonly EventEnvelope[], failure?: Failure): void {
  const counter = instrument(published);
  if (counter === undefined) return;
  addByType(counter, events, { [L_OUTCOME]: failure === undefined ? "ok" : "error" });
  if (failure !== undefined) {
    instrument(errors)?.add(1, {
      [L_ERROR_TYPE]: errorLabel(failure.error),
      [L_OPERATION]: "publish",
    });
  }
}

/**
 * Counts one event handled by a consumer (`bus`, `subscription`, `sqs`: name yours in code), and a
 * failure by its code too. Exported for adapters that consume events outside the core's paths.
 */
export function countConsumed(consumer: string, event: EventEnvelope, failure?: Failure): void {
  assertConsumed(consumer, event);
  const counter = instrument(consumed);
  if (counter === undefined) return;
  const attributes: Attributes = {
    [L_EVENT_TYPE]: boundedLabel(L_EVENT_TYPE, event.type),
    [L_CONSUMER]: boundedLabel(L_CONSUMER, consumer),
    [L_OUTCOME]: failure === undefined ? "ok" : "error",
  };
  counter.add(1, withTenant(attributes, tenantOf(event.metadata)));
  if (failure !== undefined) {
    instrument(errors)?.add(1, {
      [L_ERROR_TYPE]: errorLabel(failure.error),
      [L_OPERATION]: "consume",
    });
  }
}

/**
 * Counts one event a consumer took in but no handler took (outcome `unhandled`): acknowledged, not
 * failed, and not handled either, so that a routing mistake shows apart from the events handled.
 * (Apart from countConsumed, so that a bundle that never consumes from a queue leaves it out.)
 */
export function countUnhandled(consumer: string, event: EventEnvelope): void {
  assertConsumed(consumer, event);
  instrument(consumed)?.add(
    1,
    withTenant(
      {
        [L_EVENT_TYPE]: boundedLabel(L_EVENT_TYPE, event.type),
        [L_CONSUMER]: boundedLabel(L_CONSUMER, consumer),
        [L_OUTCOME]: "unhandled",
      },
      tenantOf(event.metadata),
    ),
  );
}

/**
 * Checked whether metrics are on or not, so that a wrong call fails in tests too (not a TypeError once a
 * provider is registered in production).
 */
function assertConsumed(consumer: string, event: EventEnvelope): void {
  if (typeof consumer !== "string" || typeof event?.type !== "string") {
    throw new ValidationError("Invalid consumed event", [
      ...(typeof consumer === "string" ? [] : [{ path: ["consumer"], message: "must be a string" }]),
      ...(typeof event?.type === "string" ? [] : [{ path: ["event"], message: "must be an event envelope" }]),
    ]);
  }
}

/**
 * Times one aggregate load: returns undefined when no metrics are recorded, else a function to call
 * with the aggregate's type and the number of events replayed once it is loaded.
 */
export function rehydrationTimer(): ((aggregateType: string, replayed: number) => void) | undefined {
  const duration = instrument(rehydration);
  const events = instrument(replayed);
  if (duration === undefined || events === undefined) return undefined;
  const started = performance.now();
  return (aggregateType, count) => {
    const attributes = { [L_AGGREGATE_TYPE]: boundedLabel(L_AGGREGATE_TYPE, aggregateType) };
    duration.record(elapsedSeconds(started), attributes);
    events.record(count, attributes);
  };
}

/** Records how far behind a subscription is: the age of the last event it handled, 0 when caught up. */
export function recordSubscriptionLag(name: string, last: EventEnvelope | undefined, caughtUp: boolean): void {
  const gauge = instrument(subscriptionLag);
  if (gauge === undefined) return;
  const age = caughtUp || last === undefined ? 0 : Math.max(0, (Date.now() - Date.parse(last.timestamp)) / 1000);
  gauge.record(age, { [L_SUBSCRIPTION]: boundedLabel(L_SUBSCRIPTION, name) });
}

/** Adds the events to a counter, one add per run of events of the same type (and tenant, with its label on). */
function addByType(counter: Counter, events: readonly EventEnvelope[], extra: Attributes): void {
  let i = 0;
  while (i < events.length) {
    const first = events[i] as EventEnvelope;
    const type = first.type;
    const tenant = tenantLabel ? first.metadata?.[TENANT_KEY] : undefined;
    let j = i + 1;
    while (
      j < events.length &&
      (events[j] as EventEnvelope).type === type &&
      (!tenantLabel || (events[j] as EventEnvelope).metadata?.[TENANT_KEY] === tenant)
    )
      j++;
    const attributes = { ...extra, [L_EVENT_TYPE]: boundedLabel(L_EVENT_TYPE, type) };
    counter.add(j - i, withTenant(attributes, tenantOf(first.metadata)));
    i = j;
  }
}

function elapsedSeconds(started: number): number {
  return (performance.now() - started) / 1000;
}

/**
 * Records a projection's lag after a batch: returns undefined when no metrics are recorded (the
 * runner then skips the head look-up `behind` needs), else a function to call with the projection's
 * name, the last event the batch took in and the positions still behind (0 once caught up).
 */
export function projectionLagRecorder():
  | ((name: string, last: EventEnvelope | undefined, behind: number) => void)
  | undefined {
  const lag = instrument(projectionLag);
  const positions = instrument(projectionBehind);
  if (lag === undefined || positions === undefined) return undefined;
  return (name, last, behind) => {
    const attributes = { [L_PROJECTION]: boundedLabel(L_PROJECTION, name) };
    const age = behind === 0 || last === undefined ? 0 : Math.max(0, (Date.now() - Date.parse(last.timestamp)) / 1000);
    lag.record(age, attributes);
    positions.record(behind, attributes);
  };
}

/** Counts one event or fired timeout applied to a saga, by the step's outcome (`started`, `failed`…). */
export function countSagaStep(saga: string, outcome: string, error?: unknown): void {
  const counter = instrument(sagaSteps);
  if (counter === undefined) return;
  counter.add(1, {
    [L_SAGA]: boundedLabel(L_SAGA, saga),
    [L_OUTCOME]: boundedLabel(L_OUTCOME, outcome),
  });
  if (outcome === "failed") {
    instrument(errors)?.add(1, { [L_ERROR_TYPE]: errorLabel(error), [L_OPERATION]: "saga" });
  }
}

/** Moves one saga instance from its status (none when it is new) to another in `eventflows.saga.instances`. */
export function recordSagaStatus(saga: string, from: string | undefined, to: string): void {
  if (from === to) return;
  const counter = instrument(sagaInstances);
  if (counter === undefined) return;
  const name = boundedLabel(L_SAGA, saga);
  if (from !== undefined) {
    counter.add(-1, { [L_SAGA]: name, [L_SAGA_STATUS]: from });
  }
  counter.add(1, { [L_SAGA]: name, [L_SAGA_STATUS]: to });
}

/** Records how late a saga timeout fired, by saga and outcome. */
export function recordTimeoutLateness(saga: string, latenessMs: number, outcome: string): void {
  instrument(timeoutLateness)?.record(latenessMs / 1000, {
    [L_SAGA]: boundedLabel(L_SAGA, saga),
    [L_OUTCOME]: boundedLabel(L_OUTCOME, outcome),
  });
}
