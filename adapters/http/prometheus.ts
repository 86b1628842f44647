/**
 * The Prometheus text exposition format (version 0.0.4) of what an OpenTelemetry SDK metric reader
 * collected. The types below are the shape of the SDK's `ResourceMetrics`, written out so that the
 * library needs no SDK at run time: the application passes its own reader (an `@opentelemetry/sdk-metrics`
 * `MetricReader` registered on its `MeterProvider`), and this serializes what `collect()` returns.
 *
 * Naming follows the OpenTelemetry-to-Prometheus rules: characters outside `[a-zA-Z0-9_:]` become `_`,
 * the unit is appended (`s` as `_seconds`, `ms` as `_milliseconds`, `By` as `_bytes`, `m/s` as
 * `_meters_per_second`, `1` as `_ratio` on gauges only; annotations such as `{event}` are dropped),
 * monotonic sums end in `_total`. Histograms become `_bucket`
 * (cumulative, with `+Inf`), `_sum` and `_count`. Exponential histograms are left out: Prometheus'
 * text format has no equivalent. Readers must use cumulative temporality (the SDK's default).
 */

/** `DataPointType` of `@opentelemetry/sdk-metrics` (1, the exponential histogram, has no text form). */
const HISTOGRAM = 0;
const GAUGE = 2;
const SUM = 3;

export interface HistogramValue {
  readonly buckets: { readonly boundaries: readonly number[]; readonly counts: readonly number[] };
  readonly sum?: number;
  readonly count: number;
  readonly min?: number;
  readonly max?: number;
}

/** OpenTelemetry's high-resolution time: `[seconds, nanoseconds]` since the epoch. */
export type HrTimeLike = readonly [number, number];

export interface MetricDataPointLike {
  /** Strings, numbers, booleans or arrays of them, as OpenTelemetry attributes are. */
  readonly attributes: Readonly<Record<string, unknown>>;
  readonly value: number | HistogramValue | unknown;
  readonly startTime?: HrTimeLike;
  readonly endTime?: HrTimeLike;
}

export interface MetricDataLike {
  readonly descriptor: { readonly name: string; readonly description?: string; readonly unit?: string };
  /** 0 histogram, 1 exponential histogram, 2 gauge, 3 sum (the SDK's `DataPointType`). */
  readonly dataPointType: number;
  readonly isMonotonic?: boolean;
  /** 0 delta, 1 cumulative (the SDK's `AggregationTemporality`). */
  readonly aggregationTemporality?: number;
  readonly dataPoints: readonly MetricDataPointLike[];
}

/** What an SDK `MetricReader.collect()` resolves to (`{ resourceMetrics, errors }`), as far as it is read here. */
export interface ResourceMetricsLike {
  readonly resource?: { readonly attributes: Readonly<Record<string, unknown>> };
  readonly scopeMetrics: readonly {
    readonly scope?: { readonly name: string; readonly version?: string };
    readonly metrics: readonly MetricDataLike[];
  }[];
}

/** An SDK `MetricReader` (or anything else that collects the same shape). */
export interface MetricsCollector {
  collect(): Promise<{ readonly resourceMetrics: ResourceMetricsLike }>;
}

/** The media type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** How a metrics route writes what its collector gathers: the response's media type and its text. */
export interface MetricsFormat {
  readonly contentType: string;
  render(resourceMetrics: ResourceMetricsLike): string;
}

// Maps, not object literals: a unit named `constructor` or `toString` read the prototype's function and
// wrote its source text into the name, which no scraper parses.
const UNIT_SUFFIXES: ReadonlyMap<string, string> = new Map([
  ["s", "seconds"],
  ["ms", "milliseconds"],
  ["us", "microseconds"],
  ["ns", "nanoseconds"],
  ["By", "bytes"],
  ["KiBy", "kibibytes"],
  ["MiBy", "mebibytes"],
  ["m", "meters"],
  ["min", "minutes"],
  ["h", "hours"],
  ["d", "days"],
  ["%", "percent"],
]);
/** A rate's denominator (`m/s` is `meters_per_second`), as OpenTelemetry's Prometheus rules write it. */
const PER_UNIT: ReadonlyMap<string, string> = new Map([
  ["s", "second"],
  ["m", "minute"],
  ["min", "minute"],
  ["h", "hour"],
  ["d", "day"],
  ["w", "week"],
  ["mo", "month"],
  ["y", "year"],
]);

/**
 * Serializes collected metrics as Prometheus text: `# HELP`, `# TYPE` and one line per sample.
 * Whatever the names and attributes, the text parses: a metric whose Prometheus name (or one of a
 * histogram's `_bucket`, `_sum`, `_count` series) is already another family's is left out, and
 * attribute keys that become one label name share it, their values joined with `;` (see {@link labelPairs}).
 * Each series appears once: points that land on one name and label set (from two scopes, or from
 * attributes that differ only in key order, value type or sanitizing) are merged: sums (counters,
 * up-down counters) and histograms of the same buckets added up, a gauge's first value kept (and a
 * histogram's whose buckets differ).
 */
export function prometheusText(resourceMetrics: ResourceMetricsLike): string {
  // Metrics of one name from several scopes share one family: HELP and TYPE once, samples together.
  const families = new Map<string, { help: string; type: string; series: Map<string, Series> }>();
  // Every series name a family writes, to the family: a parser reads `x_count` as histogram `x`'s.
  const claimed = new Map<string, string>();
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const kind = metric.dataPointType;
      if (kind !== HISTOGRAM && kind !== SUM && kind !== GAUGE) continue;
      const type = kind === HISTOGRAM ? "histogram" : kind === SUM && metric.isMonotonic === true ? "counter" : "gauge";
      const name = prometheusName(metric.descriptor.name, metric.descriptor.unit, type === "counter", kind === GAUGE);
      let family = families.get(name);
      if (family === undefined) {
        const series = type === "histogram" ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
        if (series.some((each) => claimed.has(each))) continue;
        for (const each of series) claimed.set(each, name);
        family = { help: metric.descriptor.description ?? "", type, series: new Map() };
        families.set(name, family);
      } else if (family.type !== type) {
        // One name, two types (a counter `a` is `a_total`, as a gauge `a_total` is): a second TYPE line is
        // no longer text a scraper parses, so the later metric is left out.
        continue;
      }
      for (const point of metric.dataPoints) {
        const labels = labelPairs(point.attributes, type === "histogram");
        // Prometheus tells series apart by their label set, whatever the order the labels are written in.
        const key = [...labels].sort().join(",");
        const known = family.series.get(key);
        if (known === undefined) family.series.set(key, { labels, value: copied(point.value, type) });
        // Sums (counters, up-down counters) add up; a gauge's later value is not more true than its first.
        else if (kind === SUM) known.value = (known.value as number) + (point.value as number);
        else if (type === "histogram") addHistogram(known.value as HistogramValue, point.value as HistogramValue);
      }
    }
  }
  let text = "";
  for (const [name, family] of families) {
    if (family.help !== "") text += `# HELP ${name} ${escapeHelp(family.help)}\n`;
    text += `# TYPE ${name} ${family.type}\n`;
    for (const { labels, value } of family.series.values()) {
      if (family.type === "histogram") {
        for (const line of histogramLines(name, labels, value as HistogramValue)) text += `${line}\n`;
      } else text += `${name}${braces(labels)} ${sample(value as number)}\n`;
    }
  }
  return text;
}

/** One series of a family: its label pairs as first written, and its value (merged). */
interface Series {
  readonly labels: readonly string[];
  value: number | HistogramValue;
}

/** A histogram's value is copied before another is added into it: the reader's own stays as it was. */
function copied(value: unknown, type: string): number | HistogramValue {
  if (type !== "histogram") return value as number;
  const histogram = value as HistogramValue;
  return {
    buckets: { boundaries: histogram.buckets.boundaries, counts: [...histogram.buckets.counts] },
    sum: histogram.sum,
    count: histogram.count,
  };
}

/** Adds `other` into `into` when their buckets are the same; otherwise `into` is kept as it is. */
function addHistogram(into: HistogramValue, other: HistogramValue): void {
  const bounds = into.buckets.boundaries;
  const others = other.buckets.boundaries;
  if (bounds.length !== others.length || bounds.some((bound, index) => bound !== others[index])) return;
  const counts = into.buckets.counts as number[];
  other.buckets.counts.forEach((count, index) => {
    counts[index] = (counts[index] ?? 0) + count;
  });
  const merged = into as { sum?: number; count: number };
  merged.sum = (into.sum ?? 0) + (other.sum ?? 0);
  merged.count = into.count + other.count;
}

/**
 * The Prometheus name of an OpenTelemetry metric: sanitized (an empty name is `_`), with its unit and, for
 * counters, `_total`.
 * A unit of `1` is `_ratio` on a gauge (an OpenTelemetry gauge, `gauge`) and nothing on the rest; `a/b`
 * is `a_per_b`.
 */
export function prometheusName(name: string, unit: string | undefined, counter: boolean, gauge = false): string {
  let result = name.replace(/[^a-zA-Z0-9_:]/g, "_").replace(/_{2,}/g, "_");
  // An empty name (the SDK makes such an instrument, with a warning) would be `# TYPE  gauge`: no scrape parses it.
  if (result === "" || /^[0-9]/.test(result)) result = `_${result}`;
  const suffix = unitSuffix(unit, gauge);
  if (suffix !== "" && !result.endsWith(`_${suffix}`)) result += `_${suffix}`;
  if (counter && !result.endsWith("_total")) result += "_total";
  return result;
}

/** What a unit adds to a name: `seconds`, `meters_per_second`, `per_second` (`{request}/s`), or nothing. */
function unitSuffix(unit: string | undefined, gauge: boolean): string {
  // `{event}` and other annotations carry no unit.
  const bare = (unit ?? "").replace(/\{[^}]*\}/g, "");
  if (bare === "1") return gauge ? "ratio" : "";
  const slash = bare.indexOf("/");
  if (slash < 0) return unitWord(bare, UNIT_SUFFIXES);
  const over = unitWord(bare.slice(0, slash), UNIT_SUFFIXES);
  const per = unitWord(bare.slice(slash + 1), PER_UNIT);
  if (per === "") return over;
  return over === "" ? `per_${per}` : `${over}_per_${per}`;
}

/** A unit as its word in `words`, else sanitized, without runs of `_` or one at either end. */
function unitWord(unit: string, words: ReadonlyMap<string, string>): string {
  const word = words.get(unit) ?? unit.replace(/[^a-zA-Z0-9_:]/g, "_");
  return word.replace(/_{2,}/g, "_").replace(/^_|_$/g, "");
}

function histogramLines(name: string, labels: readonly string[], value: HistogramValue): string[] {
  const lines: string[] = [];
  let cumulative = 0;
  const { boundaries, counts } = value.buckets;
  boundaries.forEach((bound, index) => {
    cumulative += counts[index] ?? 0;
    lines.push(`${name}_bucket${braces([...labels, `le="${sample(bound)}"`])} ${cumulative}`);
  });
  lines.push(`${name}_bucket${braces([...labels, 'le="+Inf"'])} ${value.count}`);
  lines.push(`${name}_sum${braces(labels)} ${sample(value.sum ?? 0)}`);
  lines.push(`${name}_count${braces(labels)} ${value.count}`);
  return lines;
}

/**
 * The label pairs of a data point's attributes. Keys that sanitize to one label name (`a.b` and `a_b`)
 * share it, their values joined with `;` in the order of the keys, as OpenTelemetry's Prometheus rules
 * ask: a label twice in one sample is not text a scraper parses.
 */
function labelPairs(attributes: MetricDataPointLike["attributes"], histogram: boolean): string[] {
  const labels = new Map<string, { key: string; text: string }[]>();
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null) continue;
    const text = wellFormed(Array.isArray(value) ? JSON.stringify(value) : String(value));
    const name = labelName(key, histogram);
    const values = labels.get(name);
    if (values === undefined) labels.set(name, [{ key, text }]);
    else values.push({ key, text });
  }
  const pairs: string[] = [];
  for (const [name, values] of labels) {
    values.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    pairs.push(`${name}="${escapeLabel(values.map((each) => each.text).join(";"))}"`);
  }
  return pairs;
}

/**
 * A label name Prometheus accepts: characters outside `[a-zA-Z0-9_]` become `_`, a leading digit (or
 * nothing at all) gets a `_` before it, and names Prometheus keeps for itself (`__` at the start, and
 * `le` on a histogram, where it is the bucket's) get `key_` before them.
 */
function labelName(key: string, histogram: boolean): string {
  let name = key.replace(/[^a-zA-Z0-9_]/g, "_");
  if (name === "" || /^[0-9]/.test(name)) name = `_${name}`;
  if (name.startsWith("__") || (histogram && name === "le")) name = `key_${name}`;
  return name;
}

const braces = (pairs: readonly string[]) => (pairs.length === 0 ? "" : `{${pairs.join(",")}}`);

function sample(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "+Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return String(value);
}

// A lone surrogate is sent as U+FFFD (UTF-8 has no other form for it): values that differ only there are
// one series on the wire, so they are made one here, before series are told apart and merged.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const wellFormed = (text: string) => text.replace(LONE_SURROGATE, "\uFFFD");

const escapeLabel = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

/**
 * The Prometheus text format for the metrics route: `metrics: { collector, format: prometheusFormat }`.
 * The route takes it as an option rather than importing it, so the HTTP layer of an application that
 * serves no metrics (a Worker's) carries no serializer.
 */
export const prometheusFormat: MetricsFormat = { contentType: PROMETHEUS_CONTENT_TYPE, render: prometheusText };
