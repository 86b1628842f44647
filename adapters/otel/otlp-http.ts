/**
 * Sends collected metrics and ended spans to an OTLP/HTTP receiver (an OpenTelemetry Collector, a
 * vendor's endpoint) with `fetch` and the JSON encoding: what a Cloudflare Worker uses, where nothing
 * may outlive the request unless handed to `waitUntil`. `flushMetrics` and `flushSpans` do that: the
 * response goes out first, the export finishes in the background of the same invocation.
 */
import {
  callHook,
  getLogger,
  type Issue,
  MAX_DELAY_MS,
  redactedCause,
  ServiceError,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import type { MetricsCollector } from "../http/index.js";
import { otlpMetricsJson } from "./otlp-json.js";
import { otlpTracesJson, type ReadableSpanLike } from "./otlp-traces-json.js";
import type { SpanBuffer } from "./span-buffer.js";

export interface OtlpHttpOptions {
  /** The receiver's URL for this signal: `https://collector.example.com/v1/metrics` or `…/v1/traces`. */
  readonly url: string;
  /** Sent with every export (an API key, say); never written into errors. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Time an export has, in ms. Defaults to 10,000. */
  readonly timeoutMs?: number;
  /** A fetch of your own (a service binding's, a test's). Defaults to the global `fetch`. */
  readonly fetch?: (request: Request) => Promise<Response>;
}

/** What a flush adds: where a failed export goes. */
export interface OtlpFlushOptions extends OtlpHttpOptions {
  /** Gets a failed export's error (a `ServiceError`). Defaults to an error line on the library's logger. */
  readonly onError?: (error: unknown) => void;
}

/** The Workers execution context, as far as the flushes need it. */
export interface WaitUntilContext {
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * Collects once and POSTs the OTLP JSON body.
 * @throws {ServiceError} the receiver answered with an error status (retryable for 429 and 5xx) or did not answer in time;
 * or the reader could not collect (shut down, not registered on a `MeterProvider`): `serviceCode` `CollectFailed`, not retryable.
 */
export async function exportMetrics(collector: MetricsCollector, options: OtlpHttpOptions): Promise<void> {
  const target = checkedOptions(options);
  if (typeof collector?.collect !== "function") {
    throw new ValidationError("Invalid OTLP export", [
      { path: ["collector"], message: "must be a metric reader (an object with collect())" },
    ]);
  }
  let collected: Awaited<ReturnType<MetricsCollector["collect"]>>;
  try {
    collected = await collector.collect();
  } catch (error) {
    // Before, the SDK's plain Error ("MetricReader is shutdown", no code) left the library as it was. Its
    // cause keeps the name, masked message and code only, as a receiver's failure does.
    throw new ServiceError("otlp", "collect", "CollectFailed", false, "the metric reader could not collect", {
      cause: redactedCause(error),
    });
  }
  const { resourceMetrics } = collected;
  await post(target, otlpMetricsJson(resourceMetrics), options, "exportMetrics");
}

/**
 * POSTs ended spans as one OTLP JSON body; nothing is sent for none.
 * @throws {ServiceError} the receiver answered with an error status (retryable for 429 and 5xx) or did not answer in time.
 */
export async function exportSpans(spans: readonly ReadableSpanLike[], options: OtlpHttpOptions): Promise<void> {
  const target = checkedOptions(options);
  if (spans.length === 0) return;
  await post(target, otlpTracesJson(spans), options, "exportSpans");
}

interface Target {
  readonly url: URL;
  readonly headers: Headers;
  readonly timeoutMs: number;
}

/**
 * The options checked before anything is collected or sent. The runtime's own refusals (`Request`,
 * `Headers`, `AbortSignal.timeout`) are `TypeError`s that quote the URL or the header value, which may
 * hold a credential: the issues here name the option, never its value.
 */
const HTTP_OPTIONS = Object.keys({ url: true, headers: true, timeoutMs: true, fetch: true } satisfies Record<
  keyof OtlpHttpOptions,
  true
>);

function checkedOptions(options: OtlpHttpOptions): Target {
  // A misspelt `timeoutMS` kept the default 10 s, `header` sent no credentials (and was refused by the receiver).
  const issues: Issue[] = unknownKeyIssues(options, HTTP_OPTIONS);
  let url: URL | undefined;
  try {
    url = new URL(options?.url);
  } catch {
    issues.push({ path: ["url"], message: "url must be an absolute URL" });
  }
  if (url !== undefined && url.protocol !== "http:" && url.protocol !== "https:") {
    issues.push({ path: ["url"], message: "url must be an http: or https: URL" });
  }
  if (url !== undefined && (url.username !== "" || url.password !== "")) {
    issues.push({ path: ["url"], message: "url must not hold credentials: send them in headers" });
  }
  const headers = new Headers({ "content-type": "application/json" });
  const given: unknown = options?.headers ?? {};
  if (typeof given !== "object" || given === null) {
    issues.push({ path: ["headers"], message: "headers must be an object of header names to values" });
  } else {
    for (const [name, value] of Object.entries(given)) {
      try {
        if (typeof value !== "string") throw new TypeError("not a string");
        if (name.toLowerCase() !== "content-type") headers.set(name, value);
      } catch {
        // A malformed name may be a pasted "Authorization: Bearer …" line: named only when it is a valid name.
        const validName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name);
        issues.push(
          validName
            ? { path: ["headers", name], message: "the value must be a string that is a valid header value" }
            : { path: ["headers"], message: "a header name is not a valid HTTP header name" },
        );
      }
    }
  }
  // Called only at the export: a fetch that is no function was reported as a receiver that did not answer.
  if (options?.fetch !== undefined && typeof options.fetch !== "function") {
    issues.push({ path: ["fetch"], message: "fetch must be a function" });
  }
  const timeoutMs = options?.timeoutMs ?? 10_000;
  if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_DELAY_MS) {
    issues.push({ path: ["timeoutMs"], message: `timeoutMs must be an integer from 1 to ${MAX_DELAY_MS}` });
  }
  if (issues.length > 0 || url === undefined) throw new ValidationError("Invalid OTLP options", issues);
  return { url, headers, timeoutMs };
}

async function post(target: Target, body: unknown, options: OtlpHttpOptions, operation: string): Promise<void> {
  const send = options.fetch ?? ((request: Request) => fetch(request));
  const request = new Request(target.url, {
    method: "POST",
    headers: target.headers,
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(target.timeoutMs),
    // Followed, a redirect sent the export and its headers (an API key) to wherever `location` points, and
    // took that host's answer for the receiver's: it fails as its status instead.
    redirect: "manual",
  });
  let response: Response;
  try {
    response = await send(request);
  } catch (error) {
    // The cause may name the host; the message does not. Only the failure's name, masked message and
    // code are kept: the runtime's error carries the whole URL (Bun's `path`), a key in its query included.
    throw new ServiceError("otlp", operation, "NetworkError", true, "the receiver did not answer", {
      cause: redactedCause(error),
    });
  }
  await discard(response);
  if (!response.ok) {
    const retryable = response.status === 429 || response.status >= 500;
    throw new ServiceError(
      "otlp",
      operation,
      String(response.status),
      retryable,
      `the receiver answered ${response.status}${response.status >= 300 && response.status < 400 ? " (a redirect, not followed: set url to where it leads)" : ""}`,
      {
        status: response.status,
      },
    );
  }
}

/** A receiver's answer is a few bytes (an empty partial success): what is read of one before it is dropped. */
const MAX_DRAINED_BYTES = 64 * 1024;

/**
 * Reads the answer's body and drops it, so that the connection can be reused; past MAX_DRAINED_BYTES the rest
 * is cancelled instead: read whole, an answer of gigabytes (a wrong URL, a hostile endpoint) was held in memory.
 * A body that stalls ends with the request's timeout.
 */
async function discard(response: Response): Promise<void> {
  const reader = response.body?.getReader();
  if (reader === undefined) return;
  try {
    for (let read = 0; read <= MAX_DRAINED_BYTES; ) {
      const chunk = await reader.read();
      if (chunk.done) return;
      read += chunk.value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The body failed or timed out: the status is what the export reports.
  }
}

/**
 * Exports at the end of a request without delaying its response: `ctx.waitUntil(exportMetrics(…))`.
 * A failed export goes to `onError` (default: an error line on the library's logger), never to the request.
 */
export function flushMetrics(ctx: WaitUntilContext, collector: MetricsCollector, options: OtlpFlushOptions): void {
  const report = reporter(options, "metrics");
  if (report === undefined) return;
  // Its `onError` apart, the rest are the export's options: a key neither takes is refused there, to onError.
  const { onError: _, ...http } = options ?? ({} as OtlpFlushOptions);
  ctx.waitUntil(background(() => exportMetrics(collector, http), report));
}

/**
 * Takes what the buffer holds now and exports it without delaying the response:
 * `ctx.waitUntil(exportSpans(…))`. Spans the buffer had to drop since the last flush are reported as a
 * warning on the library's logger. A failed export goes to `onError` (default: an error line on the
 * library's logger), never to the request; its spans are not retried.
 */
export function flushSpans(ctx: WaitUntilContext, buffer: SpanBuffer, options: OtlpFlushOptions): void {
  const report = reporter(options, "trace");
  if (report === undefined) return;
  const { onError: _, ...http } = options ?? ({} as OtlpFlushOptions);
  try {
    // Before the buffer is emptied: the spans of a flush whose options are refused stay for the next one.
    checkedOptions(http);
  } catch (error) {
    ctx.waitUntil(background(() => Promise.reject(error), report));
    return;
  }
  const { spans, dropped } = buffer.take();
  if (dropped > 0) getLogger().warn("spans dropped: the span buffer was full", { dropped, kept: spans.length });
  ctx.waitUntil(background(() => exportSpans(spans, http), report));
}

/**
 * Where a flush's failure goes: `onError` through `callHook` (one that throws is logged), else the
 * library's logger. Undefined for an `onError` that is not a function, after that refusal is logged:
 * nothing is sent then, as for any bad option. Before, such an `onError` (or one that threw) left the
 * export's error unhandled in the promise given to `waitUntil`.
 */
function reporter(options: OtlpFlushOptions, signal: string): ((error: unknown) => void) | undefined {
  const logged = (error: unknown) => getLogger().error(`${signal} export failed`, { error });
  const onError: unknown = options?.onError;
  if (onError === undefined) return logged;
  if (typeof onError !== "function") {
    logged(new ValidationError("Invalid OTLP options", [{ path: ["onError"], message: "onError must be a function" }]));
    return undefined;
  }
  return (error) => callHook(`${signal} export onError`, onError as (error: unknown) => void, error);
}

/** The export for `waitUntil`: started inside the chain, so that a synchronous throw reaches `report` too; never rejects. */
function background(exported: () => Promise<void>, report: (error: unknown) => void): Promise<void> {
  return Promise.resolve().then(exported).catch(report);
}
