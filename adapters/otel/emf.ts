/**
 * CloudWatch Embedded Metric Format: metrics as JSON log lines that CloudWatch Logs turns into
 * CloudWatch metrics, with no exporter, agent or network call. On Lambda, write them to stdout
 * (`console.log`) before the handler returns: the runtime ships the log lines.
 *
 * One line per data point, its attributes as dimensions (but for one named `_aws` or like one of the
 * line's metric values, which would overwrite that part of the line: left out; so is a counter or gauge
 * named `_aws`). Counters are written as they were collected, so give the reader delta temporality (`aggregationTemporalitySelector: () =>
 * AggregationTemporality.DELTA`): CloudWatch sums what each line reports. A histogram becomes its
 * `.sum`, `.count` and `.max` (and `.min`) over the collection interval.
 */
import {
  callHook,
  getLogger,
  type Issue,
  redactedCause,
  ServiceError,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import type { HistogramValue, MetricDataLike, MetricsCollector, ResourceMetricsLike } from "../http/index.js";

export interface EmfOptions {
  /** The CloudWatch namespace, `EventFlows/orders` say. */
  readonly namespace: string;
  /** The lines' timestamp in ms. Defaults to now. */
  readonly timestamp?: number;
}

/** CloudWatch allows at most 30 dimensions per metric. */
export const MAX_EMF_DIMENSIONS = 30;
/** Longest dimension name CloudWatch takes, in characters. */
export const MAX_EMF_DIMENSION_NAME = 255;
/** CloudWatch's longest metric name. */
const MAX_EMF_METRIC_NAME = 255;
/** Longest dimension value CloudWatch takes, in characters. */
export const MAX_EMF_DIMENSION_VALUE = 1024;

const HISTOGRAM = 0;
const GAUGE = 2;
const SUM = 3;

/** Printable ASCII, 1 to 255 characters: what CloudWatch takes as a namespace (with the checks beside it). */
const NAMESPACE = /^[\x20-\x7e]{1,255}$/;

function emfOptionIssues(options: EmfOptions, alsoTaken: readonly string[] = []): Issue[] {
  // A misspelt `timeStamp` stamped the lines with the time of writing, not the one given.
  // (`alsoTaken`: keys the caller took out before, named in the refusal's list of options.)
  const issues = unknownKeyIssues(options, ["namespace", "timestamp", ...alsoTaken]);
  // CloudWatch's rule (ASCII, at least one character other than a space, not starting with `:`): a
  // namespace it refuses was written into every line, and CloudWatch dropped every metric unreported.
  const namespace = options?.namespace;
  if (
    typeof namespace !== "string" ||
    !NAMESPACE.test(namespace) ||
    namespace.trim() === "" ||
    namespace.startsWith(":")
  ) {
    issues.push({
      path: ["namespace"],
      message: "must be 1 to 255 printable ASCII characters, not only spaces, not starting with ':'",
    });
  }
  // Written as it is: NaN became `null` in the JSON, and CloudWatch refuses the line's metrics.
  const timestamp = options?.timestamp;
  if (timestamp !== undefined && !(Number.isSafeInteger(timestamp) && timestamp >= 0)) {
    issues.push({ path: ["timestamp"], message: "must be a time in epoch milliseconds (a non-negative integer)" });
  }
  return issues;
}

function assertEmfOptions(options: EmfOptions): void {
  const issues = emfOptionIssues(options);
  if (issues.length > 0) throw new ValidationError("Invalid EMF options", issues);
}

/** The EMF lines (JSON text, one per data point) of what a reader collected. */
export function emfLines(resourceMetrics: ResourceMetricsLike, options: EmfOptions): string[] {
  assertEmfOptions(options);
  const timestamp = options.timestamp ?? Date.now();
  const lines: string[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const kind = metric.dataPointType;
      if (kind !== HISTOGRAM && kind !== SUM && kind !== GAUGE) continue;
      for (const point of metric.dataPoints) {
        // A value named `_aws` (a counter or gauge of that name) would replace the line's metric definitions
        // (the line was `{"_aws":3}`, which CloudWatch takes for no metric at all): it is left out. So is one
        // whose name is past CloudWatch's 255 characters (a histogram's `.count` of a 251-character name):
        // CloudWatch refused the line, the other values with it.
        const values = (
          kind === HISTOGRAM ? histogramValues(metric, point.value as HistogramValue) : single(metric, point.value)
        ).filter(([name]) => name !== "_aws" && name.length <= MAX_EMF_METRIC_NAME);
        if (values.length === 0) continue;
        // The line's own members: an attribute of the same name would overwrite `_aws` (the metric
        // definitions) or a metric's value, so such an attribute is left out of the dimensions.
        const reserved = new Set(["_aws", ...values.map(([name]) => name)]);
        // A Map: `__proto__` or `toString` as an attribute is a dimension like any other.
        const kept = new Map<string, string>();
        for (const [key, value] of Object.entries(point.attributes)) {
          if (value === undefined || value === null) continue;
          if (kept.size === MAX_EMF_DIMENSIONS) break;
          const dimension = dimensionOf(key, Array.isArray(value) ? JSON.stringify(value) : String(value));
          if (dimension === undefined || reserved.has(dimension[0]) || kept.has(dimension[0])) continue;
          kept.set(dimension[0], dimension[1]);
        }
        const dimensions = Object.fromEntries(kept);
        lines.push(
          JSON.stringify({
            _aws: {
              Timestamp: timestamp,
              CloudWatchMetrics: [
                {
                  Namespace: options.namespace,
                  Dimensions: [[...kept.keys()]],
                  Metrics: values.map(([name, , unit]) => ({ Name: name, Unit: unit })),
                },
              ],
            },
            ...dimensions,
            ...Object.fromEntries(values.map(([name, value]) => [name, value])),
          }),
        );
      }
    }
  }
  return lines;
}

/**
 * Collects and writes the EMF lines (to `console.log` unless `write` is given): call it at the end of
 * a Lambda invocation, in its `finally`. It never rejects: a reader that cannot collect (shut down,
 * say; a `ServiceError`), a `write` that throws or options it cannot use (a `ValidationError`) go to
 * `onError` (default: an error line on the library's logger), so that telemetry never fails the
 * invocation it measured. The options are checked before the reader is collected: a delta reader
 * refused keeps what it holds for the next call. An `onError` that is not a function is refused on
 * the library's logger, and nothing is collected.
 * @returns the number of lines written.
 */
export async function writeEmf(
  collector: MetricsCollector,
  options: EmfOptions & { readonly write?: (line: string) => void; readonly onError?: (error: unknown) => void },
): Promise<number> {
  const onError: unknown = options?.onError;
  // The library's logger never throws; an `onError` that is not a function is refused there (below).
  const logged = (error: unknown) => getLogger().error("EMF metrics not written", { error });
  const report =
    typeof onError === "function"
      ? (error: unknown) => callHook("writeEmf onError", onError as (error: unknown) => void, error)
      : logged;
  let written = 0;
  try {
    // Its own keys apart, the rest are the lines' options: a key neither takes is refused there, to onError.
    const { write: given, onError: _, ...emf } = options ?? ({} as typeof options);
    // Before collecting: a delta reader's collect ends its interval, and what it held would be lost. Before,
    // a `write` that was no function failed after the collect (the data was gone, onError got a TypeError),
    // and an `onError` that was none hid the error it was given behind its own TypeError.
    const issues = emfOptionIssues(emf, ["write", "onError"]);
    if (given !== undefined && typeof given !== "function") {
      issues.push({ path: ["write"], message: "must be a function" });
    }
    if (onError !== undefined && typeof onError !== "function") {
      issues.push({ path: ["onError"], message: "must be a function" });
    }
    if (typeof collector?.collect !== "function") {
      issues.push({ path: ["collector"], message: "must be a metric reader (an object with collect())" });
    }
    if (issues.length > 0) throw new ValidationError("Invalid EMF options", issues);
    let collected: Awaited<ReturnType<MetricsCollector["collect"]>>;
    try {
      collected = await collector.collect();
    } catch (error) {
      throw collectFailed(error);
    }
    const lines = emfLines(collected.resourceMetrics, emf);
    const write = given ?? ((line: string) => console.log(line));
    for (const line of lines) {
      write(line);
      written++;
    }
  } catch (error) {
    report(error);
  }
  return written;
}

/**
 * What a reader that cannot collect (shut down, not registered on a `MeterProvider`) threw, as a `ServiceError`:
 * the SDK's is a plain `Error` with no code. Its cause keeps the name, masked message and code only, as the OTLP
 * export's does.
 */
function collectFailed(error: unknown): ServiceError {
  return new ServiceError("emf", "collect", "CollectFailed", false, "the metric reader could not collect", {
    cause: redactedCause(error),
  });
}

/**
 * An attribute as CloudWatch takes a dimension, or undefined where it cannot: names and values are
 * printable ASCII (other characters are percent-encoded as UTF-8, `é` as `%C3%A9`), hold a character
 * other than a space, and are at most 255 (name) and 1,024 (value, cut there) characters; a name does
 * not start with `:`. CloudWatch drops the metrics of a line with one dimension it refuses.
 */
function dimensionOf(key: string, value: string): readonly [name: string, value: string] | undefined {
  const name = printable(key);
  if (name.trim() === "" || name.startsWith(":") || name.length > MAX_EMF_DIMENSION_NAME) return undefined;
  const text = printable(value);
  if (text.trim() === "") return undefined;
  return [name, text.length > MAX_EMF_DIMENSION_VALUE ? text.slice(0, MAX_EMF_DIMENSION_VALUE) : text];
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** `text` with every character outside printable ASCII percent-encoded (an unpaired surrogate as U+FFFD's). */
function printable(text: string): string {
  if (PRINTABLE_ASCII.test(text)) return text;
  let out = "";
  for (const char of text) {
    const code = char.codePointAt(0) as number;
    if (code >= 0x20 && code <= 0x7e) out += char;
    else if (code >= 0xd800 && code <= 0xdfff) out += "%EF%BF%BD";
    else out += encodeURIComponent(char);
  }
  return out;
}

type EmfValue = readonly [name: string, value: number, unit: string];

function single(metric: MetricDataLike, value: unknown): EmfValue[] {
  return typeof value === "number" && Number.isFinite(value) ? [[metric.descriptor.name, value, unitOf(metric)]] : [];
}

function histogramValues(metric: MetricDataLike, value: HistogramValue): EmfValue[] {
  const name = metric.descriptor.name;
  const unit = unitOf(metric);
  const values: EmfValue[] = [
    [`${name}.sum`, value.sum ?? 0, unit],
    [`${name}.count`, value.count, "Count"],
  ];
  if (value.count > 0 && typeof value.max === "number") values.push([`${name}.max`, value.max, unit]);
  if (value.count > 0 && typeof value.min === "number") values.push([`${name}.min`, value.min, unit]);
  // JSON has no Infinity or NaN (they become null, and CloudWatch refuses the line): a sum that
  // overflowed, or an infinite value recorded, is left out; the count stays.
  return values.filter(([, number]) => Number.isFinite(number));
}

/**
 * A Map: with an object literal, a unit of `__proto__` read the prototype (written as `"Unit":{}`) and one of
 * `constructor` or `toString` a function (`Unit` left out of the line), both refused by CloudWatch.
 */
const UNITS: ReadonlyMap<string, string> = new Map([
  ["s", "Seconds"],
  ["ms", "Milliseconds"],
  ["us", "Microseconds"],
  ["By", "Bytes"],
  ["KiBy", "Kilobytes"],
  ["MiBy", "Megabytes"],
  ["%", "Percent"],
  ["1", "None"],
]);

function unitOf(metric: MetricDataLike): string {
  const unit: unknown = metric.descriptor.unit ?? "";
  if (typeof unit !== "string") return "None";
  if (unit.startsWith("{")) return "Count";
  return UNITS.get(unit) ?? "None";
}
