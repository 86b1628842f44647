/**
 * A Worker that traces the library through an SDK TracerProvider and exports the spans of each
 * request over OTLP/HTTP JSON with `waitUntil` (@eventflows/core/otel's SpanBuffer and flushSpans):
 * bundled and run in workerd by test/otel/workers.int.test.ts, against a receiver the test starts.
 * `AsyncLocalStorage` (nodejs_compat) keeps the active span across awaits, so one request is one trace.
 * Relative imports: this checkout's code, not an installed package's.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { type Context, context, trace } from "@opentelemetry/api";
import { TracerProvider } from "@opentelemetry/sdk-trace";
import * as v from "valibot";
import { createHttpDispatcher } from "../../adapters/http/index.js";
import { asyncLocalContextManager, flushSpans, SpanBuffer } from "../../adapters/otel/index.js";
import { CommandBus, InMemoryEventStore } from "../../src/index.js";

const buffer = new SpanBuffer({ maxSpans: 64 });
context.setGlobalContextManager(asyncLocalContextManager(new AsyncLocalStorage<Context>()));
trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [buffer] }));

const store = new InMemoryEventStore();
const commands = new CommandBus<{ OpenCart: { payload: { cartId: string }; result: { version: number } } }>();
commands.register("OpenCart", async ({ cartId }) => {
  const appended = await store.appendToStream(`Cart-${cartId}`, [{ type: "CartOpened", data: { cartId } }]);
  return { version: appended.nextExpectedVersion };
});
const dispatcher = createHttpDispatcher({
  commands: { bus: commands, schemas: { OpenCart: v.object({ cartId: v.string() }) } },
  trustClientCorrelation: true,
});

interface Env {
  readonly OTLP_URL: string;
  readonly OTLP_KEY: string;
}

// What the error hook received, by error code, for the test to read at GET /export-errors.
const exportErrors: { code: string; retryable: boolean }[] = [];

export default {
  async fetch(request: Request, env: Env, ctx: { waitUntil(promise: Promise<unknown>): void }): Promise<Response> {
    if (new URL(request.url).pathname === "/export-errors") return Response.json(exportErrors);
    const response = await dispatcher.handle(request, undefined);
    flushSpans(ctx, buffer, {
      url: env.OTLP_URL,
      headers: { "x-api-key": env.OTLP_KEY },
      // The test's hung receiver: a request may ask for a longer export timeout (an hour: longer than
      // any test) to show the response does not wait for the export; otherwise a second.
      timeoutMs: Number(request.headers.get("x-export-timeout-ms") ?? 1_000),
      onError: (error) => exportErrors.push(error as { code: string; retryable: boolean }),
    });
    return response;
  },
};
