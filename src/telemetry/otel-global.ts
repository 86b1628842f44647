import type { Context, ContextManager, MeterProvider, Span, TracerProvider } from "@opentelemetry/api";

/**
 * The OpenTelemetry API's global registry, read without bundling the API. `@opentelemetry/api` keeps
 * every registration (tracer, meter and propagator providers, the context manager) in one object on
 * `globalThis` under this key, shared by every copy of API major version 1, made by the first
 * registration and never removed; the object carries the registering copy's `version`. Reading it
 * directly is what lets a Worker that configures no tracing leave the API (about 12 KB minified) out
 * of its bundle: the library imports only the API's types. Until the object exists, every provider is
 * the API's no-op, so the hot paths (a dispatch, an append) read this one property and stop there.
 * An SDK registered through any copy of the API (the `otel` adapter's or the application's) is found.
 */
const OTEL_GLOBAL = /* @__PURE__ */ Symbol.for("opentelemetry.js.api.1");

/**
 * The key a span is stored under in a context: the API's `trace.setSpan`/`getSpan` use this key
 * (`createContextKey` is `Symbol.for`, since API 1.0), so contexts made here and by the API agree.
 */
const SPAN_KEY = /* @__PURE__ */ Symbol.for("OpenTelemetry Context Key SPAN");

/** What the registry holds, as the API's `registerGlobal` writes it (only the parts read here). */
interface OtelRegistry {
  readonly version?: unknown;
  /** The registering copy's `ProxyTracerProvider` (`getDelegate()` is the SDK's provider). */
  readonly trace?: TracerProvider & { getDelegate?(): TracerProvider };
  readonly context?: ContextManager;
  readonly metrics?: MeterProvider;
}

/** API 1.x without a pre-release tag (as the API's own compatibility check asks of a global's version). */
const COMPATIBLE = /^1\.\d+\.\d+$/;
let compatibleRegistry: OtelRegistry | undefined;

/** True while nothing has been registered with the OpenTelemetry API in this realm. */
export function otelUnregistered(): boolean {
  return (globalThis as { [OTEL_GLOBAL]?: unknown })[OTEL_GLOBAL] === undefined;
}

/**
 * A registered global (`trace`, `context`, `metrics`), or undefined when none is registered: what the
 * API's `getGlobal` returns. Every member read here has been in the API since 1.0, so any 1.x
 * registry serves (the API itself also refuses a registry of an older minor version than its own).
 */
export function otelGlobal<K extends "trace" | "context" | "metrics">(type: K): OtelRegistry[K] | undefined {
  const registry = (globalThis as { [OTEL_GLOBAL]?: OtelRegistry })[OTEL_GLOBAL];
  if (registry == null) return undefined;
  // Checked once per registry object, not on every hot-path call (as the API caches it).
  if (registry !== compatibleRegistry) {
    if (typeof registry.version !== "string" || !COMPATIBLE.test(registry.version)) return undefined;
    compatibleRegistry = registry;
  }
  return registry[type];
}

/**
 * The active context, or undefined when no context manager is registered (the API's no-op manager
 * then answers its root context, which holds nothing: a tracer given no context reads the same).
 */
export function activeContext(): Context | undefined {
  const manager = otelGlobal("context");
  if (manager === undefined) return undefined;
  try {
    return manager.active();
  } catch (error) {
    // A context manager that throws must not fail what is traced (see spans.ts): no context, as none.
    contextFailure(error);
    return undefined;
  }
}

/**
 * Where a context manager's failure is reported: failures.ts sets it (this module cannot import the
 * logger, which imports it); until then such a failure is ignored all the same.
 */
let contextFailure: (error: unknown) => void = () => undefined;

/** @internal Sets where context manager failures go (failures.ts). */
export function reportContextFailuresTo(report: (error: unknown) => void): void {
  contextFailure = report;
}

/**
 * A context: immutable values by key, as the API's `BaseContext` (its module would bring the API into
 * every store's bundle). Contexts made here and by the API are interchangeable: both are read and
 * extended only through `getValue`, `setValue` and `deleteValue`.
 */
class ValuesContext implements Context {
  readonly #values: ReadonlyMap<symbol, unknown>;
  constructor(values: ReadonlyMap<symbol, unknown>) {
    this.#values = values;
  }
  getValue(key: symbol): unknown {
    return this.#values.get(key);
  }
  setValue(key: symbol, value: unknown): Context {
    return new ValuesContext(new Map(this.#values).set(key, value));
  }
  deleteValue(key: symbol): Context {
    const values = new Map(this.#values);
    values.delete(key);
    return new ValuesContext(values);
  }
}

/** The context that holds nothing (the API's `ROOT_CONTEXT`): where a new trace starts. */
export const ROOT_CONTEXT: Context = /* @__PURE__ */ new ValuesContext(new Map());

/** The span a context holds (the API's `trace.getSpan`), if any. */
export function spanOf(context: Context | undefined): Span | undefined {
  return (context?.getValue(SPAN_KEY) as Span | undefined) || undefined;
}

/** The active span (the API's `trace.getActiveSpan()`), if any. */
export function activeSpan(): Span | undefined {
  // Not through spanOf: a bundle that needs only this one keeps only this one.
  return (activeContext()?.getValue(SPAN_KEY) as Span | undefined) || undefined;
}

/** `context` with `span` as its span (the API's `trace.setSpan`). */
export function withSpan(context: Context, span: Span): Context {
  return context.setValue(SPAN_KEY, span);
}

/**
 * Runs `fn` with `span` active (the API's `context.with(trace.setSpan(context.active(), span), fn)`);
 * without a context manager `fn` just runs, as under the API's no-op manager.
 */
export function runWithSpan<T, A extends unknown[]>(
  span: Span,
  fn: (...args: A) => T,
  parent?: Context,
  ...args: A
): T {
  const manager = otelGlobal("context");
  if (manager === undefined) return fn(...args);
  let context: Context;
  try {
    context = withSpan(parent ?? manager.active(), span);
  } catch (error) {
    contextFailure(error);
    return fn(...args);
  }
  // A manager whose with() throws must not fail fn, run it twice, or hide what fn returned or threw:
  // fn runs once, inside with() when it gets that far, else without the span active.
  let ran = false;
  let threw = false;
  let result: T | undefined;
  try {
    return manager.with(
      context,
      (...given: A) => {
        ran = true;
        try {
          result = fn(...given);
          return result;
        } catch (error) {
          threw = true;
          throw error;
        }
      },
      undefined,
      ...args,
    );
  } catch (error) {
    if (threw) throw error;
    contextFailure(error);
    return ran ? (result as T) : fn(...args);
  }
}
