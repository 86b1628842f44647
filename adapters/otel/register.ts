/**
 * The one call that wires an OpenTelemetry SDK the application built (Node, Bun, Lambda) to the
 * library: registers the context manager, tracer provider, meter provider and propagator as the
 * API's globals, and hands back what to call at the end of a Lambda invocation (`flush`) and at
 * shut-down. The SDK stays the application's dependency: everything here is typed structurally
 * against `@opentelemetry/api`, nothing of the SDK is imported.
 */
import {
  type ContextManager,
  context,
  type MeterProvider,
  metrics,
  propagation,
  type TextMapPropagator,
  type TracerProvider,
  trace,
} from "@opentelemetry/api";
import {
  assertFunction,
  assertKnownOptions,
  callHook,
  getLogger,
  ServiceError,
  ValidationError,
} from "../../src/index.js";

/** What an SDK provider offers beyond the API: both `TracerProvider` and `MeterProvider` of the SDK have these. */
interface Flushable {
  forceFlush?(): Promise<void>;
  shutdown?(): Promise<void>;
}

export interface RegisterOpenTelemetryOptions {
  /** The SDK's `TracerProvider` (with its span processors and exporter). */
  readonly tracerProvider?: TracerProvider & Flushable;
  /** The SDK's `MeterProvider` (with its readers). */
  readonly meterProvider?: MeterProvider & Flushable;
  /**
   * Where the active span lives across `await`s: `AsyncLocalStorageContextManager` from
   * `@opentelemetry/context-async-hooks` on Node, Bun and Lambda. Enabled here if it is not yet.
   * Without one, spans do not nest (a span is the root of its own trace, or the child of its message's `traceparent`).
   */
  readonly contextManager?: ContextManager;
  /** A propagator for code that injects and extracts HTTP headers through the API (the library itself reads `traceparent` on its own). */
  readonly propagator?: TextMapPropagator;
  /**
   * Gets what a provider's `forceFlush()` or `shutdown()` rejected with (an unreachable collector, say), as a
   * `ServiceError` with the SDK's error as its `cause`: `flush()` and `shutdown()` never reject. Defaults to an
   * error line on the library's logger.
   */
  readonly onError?: (error: unknown) => void;
}

export interface RegisteredOpenTelemetry {
  /**
   * Exports what the providers hold now: `await` it before a Lambda handler returns (the process may be
   * frozen after). It never rejects: a failed export goes to `onError`, not to the invocation.
   */
  flush(): Promise<void>;
  /**
   * Flushes, shuts the providers down and removes the globals this call registered; later calls do nothing
   * more. A failure goes to `onError`, as `flush()`'s does.
   */
  shutdown(): Promise<void>;
}

/** The methods each piece must have, as the API calls them. */
const REQUIRED: Readonly<Record<string, readonly string[]>> = {
  tracerProvider: ["getTracer"],
  meterProvider: ["getMeter"],
  contextManager: ["active", "with", "enable", "disable"],
  propagator: ["inject", "extract", "fields"],
};

/**
 * Registers the SDK pieces given as the OpenTelemetry API's globals, which is all the library reads:
 * every store, bus, runner and route made before or after traces and measures through them.
 * @throws {ValidationError} nothing to register, a piece without the methods of its kind (a tracer
 *   provider without `getTracer`, say), or a global of the same kind is registered already (the API
 *   keeps the first; call `shutdown()` of the earlier registration first); nothing is registered then.
 */
export function registerOpenTelemetry(options: RegisterOpenTelemetryOptions): RegisteredOpenTelemetry {
  // A misspelt `tracerProvder` registered nothing of it: no spans, without a word (or "nothing to register").
  assertKnownOptions(
    options,
    ["tracerProvider", "meterProvider", "contextManager", "propagator", "onError"],
    "OpenTelemetry options",
  );
  const { tracerProvider, meterProvider, contextManager, propagator, onError } = options ?? {};
  assertFunction(onError, "onError", "OpenTelemetry options", false);
  if (!tracerProvider && !meterProvider && !contextManager && !propagator) {
    throw new ValidationError("Nothing to register", [
      { path: [], message: "give a tracerProvider, a meterProvider, a contextManager or a propagator" },
    ]);
  }
  // Checked before anything is registered: a tracer provider without getTracer (or a meter provider
  // without getMeter) was registered and then failed, or was reported, on every traced call, and a
  // context manager without enable() came out as a TypeError.
  const issues = Object.entries(REQUIRED).flatMap(([kind, methods]) => {
    const given = (options as unknown as Record<string, unknown>)[kind];
    const missing = methods.filter(
      (method) => typeof (given as Record<string, unknown> | null)?.[method] !== "function",
    );
    return given === undefined || missing.length === 0
      ? []
      : [{ path: [kind], message: `${kind} has no ${missing.join(", ")}: not an OpenTelemetry ${kind}` }];
  });
  if (issues.length > 0) throw new ValidationError("Invalid OpenTelemetry options", issues);
  const undo: (() => void)[] = [];
  const refuse = (kind: string) => {
    for (const step of undo.reverse()) step();
    return new ValidationError("OpenTelemetry is already set up", [
      { path: [kind], message: `a global ${kind} is registered already` },
    ]);
  };
  if (contextManager !== undefined) {
    // The API's setter does not enable it: a manager left disabled would keep no active span.
    const enabled = contextManager.enable();
    if (!context.setGlobalContextManager(enabled)) {
      enabled.disable();
      throw refuse("contextManager");
    }
    undo.push(() => context.disable());
  }
  if (propagator !== undefined) {
    if (!propagation.setGlobalPropagator(propagator)) throw refuse("propagator");
    undo.push(() => propagation.disable());
  }
  if (tracerProvider !== undefined) {
    if (!trace.setGlobalTracerProvider(tracerProvider)) throw refuse("tracerProvider");
    undo.push(() => trace.disable());
  }
  if (meterProvider !== undefined) {
    if (!metrics.setGlobalMeterProvider(meterProvider)) throw refuse("meterProvider");
    undo.push(() => metrics.disable());
  }
  const providers = [tracerProvider, meterProvider].filter((each) => each !== undefined);
  const report = onError ?? ((error: unknown) => getLogger().error("OpenTelemetry export failed", { error }));
  // Each provider's call settles on its own; what one rejected with (the SDK's processors reject with
  // the exporter's errors: an array of socket errors for a collector that is down) goes to `report`.
  // Rejecting instead failed the Lambda invocation whose `finally` awaited the flush.
  const settle = async (operation: "forceFlush" | "shutdown") => {
    const results = await Promise.allSettled(providers.map(async (provider) => provider[operation]?.()));
    for (const result of results) {
      if (result.status === "fulfilled") continue;
      const error = new ServiceError(
        "opentelemetry",
        operation,
        "ExportFailed",
        true,
        "the provider's export failed (the SDK's error is the cause)",
        {
          cause: result.reason,
        },
      );
      callHook("OpenTelemetry onError", report, error);
    }
  };
  const flush = () => settle("forceFlush");
  let stopped: Promise<void> | undefined;
  return {
    flush,
    shutdown() {
      // Once: a second call must not remove globals that another registration made since.
      stopped ??= (async () => {
        try {
          await flush();
          await settle("shutdown");
        } finally {
          for (const step of undo.splice(0).reverse()) step();
        }
      })();
      return stopped;
    },
  };
}
