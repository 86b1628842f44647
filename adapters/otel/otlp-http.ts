/**
 * Sends collected metrics to an OTLP/HTTP receiver (an OpenTelemetry Collector, a vendor's endpoint)
 * with `fetch` and the JSON encoding: what a Cloudflare Worker uses, where no exporter package runs
 * and nothing may outlive the request unless handed to `waitUntil`. `flushMetrics` does that: the
 * response goes out first, the export finishes in the background of the same invocation.
 */
import { getLogger, ServiceError, ValidationError } from "../../src/index.js";
import type { MetricsCollector } from "../http/index.js";
import { otlpMetricsJson } from "./otlp-json.js";

export interface OtlpHttpOptions {
  /** The receiver's metrics URL, `https://collector.example.com/v1/metrics`. */
  readonly url: string;
  /** Sent with every export (an API key, say); never written into errors. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Time an export has, in ms. Defaults to 10,000. */
  readonly timeoutMs?: number;
  /** A fetch of your own (a service binding's, a test's). Defaults to the global `fetch`. */
  readonly fetch?: (request: Request) => Promise<Response>;
}

/** The Workers execution context, as far as `flushMetrics` needs it. */
export interface WaitUntilContext {
  waitUntil(promise: Promise<unknown>): void;
}

/**
 * Collects once and POSTs the OTLP JSON body.
 * @throws {ServiceError} the receiver answered with an error status (retryable for 429 and 5xx) or did not answer in time.
 */
export async function exportMetrics(collector: MetricsCollector, options: OtlpHttpOptions): Promise<void> {
  let url: URL;
  try {
    url = new URL(options?.url);
  } catch {
    throw new ValidationError("Invalid OTLP options", [{ path: ["url"], message: "url must be an absolute URL" }]);
  }
  const { resourceMetrics } = await collector.collect();
  const send = options.fetch ?? ((request: Request) => fetch(request));
  const request = new Request(url, {
    method: "POST",
    headers: { ...options.headers, "content-type": "application/json" },
    body: JSON.stringify(otlpMetricsJson(resourceMetrics)),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  let response: Response;
  try {
    response = await send(request);
  } catch (error) {
    // The cause may name the host; the message does not.
    throw new ServiceError("otlp", "exportMetrics", "NetworkError", true, "the receiver did not answer", {
      cause: error,
    });
  }
  // Drained either way, so the connection can be reused.
  await response.arrayBuffer().catch(() => undefined);
  if (!response.ok) {
    const retryable = response.status === 429 || response.status >= 500;
    throw new ServiceError(
      "otlp",
      "exportMetrics",
      String(response.status),
      retryable,
      `the receiver answered ${response.status}`,
      {
        status: response.status,
      },
    );
  }
}

/**
 * Exports at the end of a request without delaying its response: `ctx.waitUntil(exportMetrics(…))`.
 * A failed export goes to `onError` (default: an error line on the library's logger), never to the request.
 */
export function flushMetrics(
  ctx: WaitUntilContext,
  collector: MetricsCollector,
  options: OtlpHttpOptions & { readonly onError?: (error: unknown) => void },
): void {
  const onError = options.onError ?? ((error: unknown) => getLogger().error("metrics export failed", { error }));
  ctx.waitUntil(exportMetrics(collector, options).catch(onError));
}
