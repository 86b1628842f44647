import type { Tracer, TracerProvider } from "@opentelemetry/api";
import { telemetryConfig } from "./config.js";
import { forgetTelemetryFailures, reportTelemetryFailure } from "./failures.js";
import { otelGlobal } from "./otel-global.js";

export const TRACER_NAME = "@eventflows/core";

let cachedProvider: TracerProvider | undefined;
let cachedTracer: Tracer | undefined;

/**
 * The EventFlows tracer, or `undefined` when no tracer provider is registered or tracing is turned
 * off: callers then take their uninstrumented path and pay nothing for spans. The registered global
 * is the registering API copy's proxy; its delegate tells whether an SDK was registered, and the
 * tracer is made again only when that delegate changes. A provider whose `getTracer` throws traces
 * nothing (its error is reported once, see failures.ts).
 */
export function activeTracer(): Tracer | undefined {
  if (!telemetryConfig().tracing) return undefined;
  const global = otelGlobal("trace");
  if (global === undefined) return undefined;
  const provider = typeof global.getDelegate === "function" ? global.getDelegate() : global;
  if (provider === cachedProvider) return cachedTracer;
  cachedProvider = provider;
  forgetTelemetryFailures("tracer");
  try {
    cachedTracer = isNoop(provider) ? undefined : provider.getTracer(TRACER_NAME);
  } catch (error) {
    // A provider that throws traces nothing: it must not fail what it would trace (see spans.ts).
    reportTelemetryFailure("tracer", error);
    cachedTracer = undefined;
  }
  return cachedTracer;
}

function isNoop(provider: TracerProvider): boolean {
  // What a proxy without an SDK delegates to, known by its class name (a minifier that renames
  // classes hides it: then spans are made and simply never record).
  return provider.constructor?.name === "NoopTracerProvider";
}
