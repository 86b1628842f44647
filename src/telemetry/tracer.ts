import { ProxyTracerProvider, type Tracer, type TracerProvider, trace } from "@opentelemetry/api";
import { telemetryConfig } from "./config.js";
import { otelUnregistered } from "./otel-global.js";

export const TRACER_NAME = "@eventflows/core";

interface DelegatingProvider extends TracerProvider {
  getDelegate?(): TracerProvider;
}

let cachedProvider: TracerProvider | undefined;
let cachedTracer: Tracer | undefined;

/**
 * The EventFlows tracer, or `undefined` when no tracer provider is registered or tracing is turned
 * off: callers then take their uninstrumented path and pay nothing for spans. The API's global
 * provider is a proxy; its delegate tells whether an SDK was registered, and the tracer is made again
 * only when that delegate changes.
 */
export function activeTracer(): Tracer | undefined {
  if (!telemetryConfig().tracing || otelUnregistered()) return undefined;
  const global = trace.getTracerProvider() as DelegatingProvider;
  const provider = typeof global.getDelegate === "function" ? global.getDelegate() : global;
  if (provider === cachedProvider) return cachedTracer;
  cachedProvider = provider;
  cachedTracer = isNoop(provider) ? undefined : provider.getTracer(TRACER_NAME);
  return cachedTracer;
}

let noopProvider: TracerProvider | undefined;

function isNoop(provider: TracerProvider): boolean {
  // This API copy's no-op provider is what an empty proxy delegates to; another copy's is known by
  // its class name (a minifier may rename it: then spans are made and simply never record).
  noopProvider ??= new ProxyTracerProvider().getDelegate();
  return provider === noopProvider || provider.constructor?.name === "NoopTracerProvider";
}
