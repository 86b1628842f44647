import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isValidationError } from "../../src/index.js";
import { expectOtherKeysRefused, type OptionBuilder, refusedPaths } from "../../test/options/option-keys.ts";
import {
  emfLines,
  exportMetrics,
  exportSpans,
  flushMetrics,
  flushSpans,
  registerOpenTelemetry,
  SpanBuffer,
  writeEmf,
} from "./index.js";

// Every option object of the OpenTelemetry adapter refuses a key it does not take, naming its path,
// before anything is registered or sent: before, a misspelt key was dropped and its default taken
// without a word (`tracerProvder` registered no tracer, `timeoutMS` kept 10 s, `maxSpan` kept 512).
// The flushes and writeEmf never throw: their refusal goes to `onError`, as every failure of theirs does.

/** Runs a flush (or writeEmf), and throws what it handed its `onError`, if anything. */
async function reported(run: (onError: (error: unknown) => void) => unknown): Promise<void> {
  const failures: unknown[] = [];
  await run((error) => failures.push(error));
  if (failures.length > 0) throw failures[0];
}

const collector = { collect: async () => ({ resourceMetrics: { resource: {}, scopeMetrics: [] } }) } as never;
const accepted = () => Promise.resolve(new Response(null, { status: 200 }));
const http = { url: "https://otlp.example.com/v1/traces", fetch: accepted };
const span = {
  name: "s",
  kind: 0,
  spanContext: () => ({ traceId: `${"0".repeat(31)}1`, spanId: `${"0".repeat(15)}1`, traceFlags: 1 }),
  startTime: [0, 0],
  endTime: [0, 1],
  status: { code: 0 },
  attributes: {},
  events: [],
  links: [],
  resource: { attributes: {} },
  instrumentationLibrary: { name: "t" },
} as never;
/** Runs what a flush handed `waitUntil` to the end. */
const ctx = () => {
  const pending: Promise<unknown>[] = [];
  return { waitUntil: (promise: Promise<unknown>) => pending.push(promise), done: () => Promise.all(pending) };
};
const tracerProvider = { getTracer: () => ({}) } as never;

/** Each entry, with every key it takes, built from valid options plus `extra`: a key it does not take, or nothing. */
const builders: Record<string, OptionBuilder> = {
  SpanBuffer: { keys: ["maxSpans"], build: (extra) => new SpanBuffer({ ...extra }) },
  emfLines: {
    keys: ["namespace", "timestamp"],
    build: (extra) => emfLines({ resource: {}, scopeMetrics: [] } as never, { namespace: "app", ...extra }),
  },
  writeEmf: {
    keys: ["namespace", "timestamp", "write", "onError"],
    build: (extra) => reported((onError) => writeEmf(collector, { namespace: "app", onError, ...extra })),
  },
  exportSpans: {
    keys: ["url", "headers", "timeoutMs", "fetch"],
    build: (extra) => exportSpans([span], { ...http, ...extra }),
  },
  exportMetrics: {
    keys: ["url", "headers", "timeoutMs", "fetch"],
    build: (extra) => exportMetrics(collector, { ...http, ...extra }),
  },
  flushSpans: {
    keys: ["url", "headers", "timeoutMs", "fetch", "onError"],
    build: (extra) =>
      reported(async (onError) => {
        const waits = ctx();
        flushSpans(waits, new SpanBuffer(), { ...http, onError, ...extra });
        await waits.done();
      }),
  },
  flushMetrics: {
    keys: ["url", "headers", "timeoutMs", "fetch", "onError"],
    build: (extra) =>
      reported(async (onError) => {
        const waits = ctx();
        flushMetrics(waits, collector, { ...http, onError, ...extra });
        await waits.done();
      }),
  },
  registerOpenTelemetry: {
    keys: ["tracerProvider", "meterProvider", "contextManager", "propagator", "onError"],
    // Refused before anything is registered; the valid options would register a global (not done here).
    build: (extra) =>
      Object.keys(extra).length === 0 ? undefined : registerOpenTelemetry({ tracerProvider, ...extra }),
  },
};

describe("the OpenTelemetry adapter's option objects refuse keys they do not take", () => {
  test("the misspellings that changed behaviour silently are refused, naming their path", async () => {
    const cases: [() => unknown, string[]][] = [
      [() => registerOpenTelemetry({ tracerProvder: tracerProvider } as never), ["tracerProvder"]],
      [() => new SpanBuffer({ maxSpan: 10 } as never), ["maxSpan"]],
      [() => exportSpans([span], { ...http, timeoutMS: 100 } as never), ["timeoutMS"]],
      [() => builders.flushSpans?.build({ header: { authorization: "Bearer t" } }), ["header"]],
      [() => builders.writeEmf?.build({ timeStamp: 0 }), ["timeStamp"]],
    ];
    for (const [build, paths] of cases) expect(await refusedPaths(build)).toEqual(paths);
    // writeEmf's refusal lists every option it takes, its own write and onError included.
    let refusal: unknown;
    try {
      await builders.writeEmf?.build({ timeStamp: 0 });
    } catch (error) {
      refusal = error;
    }
    expect((refusal as Error).message + JSON.stringify((refusal as { issues?: unknown }).issues)).toContain(
      "namespace, timestamp, write, onError",
    );
  });

  test("each is built from its own keys, and refuses any other key with one issue naming it", async () => {
    await expectOtherKeysRefused(builders, { skipProto: true });
  });

  test("flushSpans refuses its options before it takes the buffer's spans: they stay for a flush that can send them", async () => {
    // Before, the buffer was emptied first and the refused flush's spans were lost.
    const refusals: Record<string, unknown>[] = [{ url: "not a url" }, { headers: 42 }, { timeoutMs: 0 }];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom(...refusals),
          fc
            .string({ minLength: 1, maxLength: 12 })
            .filter((key) => !["url", "headers", "timeoutMs", "fetch", "onError", "__proto__"].includes(key))
            .map((key) => ({ [key]: 1 })),
        ),
        fc.integer({ min: 1, max: 5 }),
        async (bad, held) => {
          const buffer = new SpanBuffer();
          for (let n = 0; n < held; n++) buffer.onEnd(span);
          let sent = 0;
          const counting = () => {
            sent++;
            return accepted();
          };
          const failures: unknown[] = [];
          const waits = ctx();
          flushSpans(waits, buffer, { ...http, fetch: counting, onError: (e) => failures.push(e), ...bad });
          await waits.done();
          expect(failures).toHaveLength(1);
          expect(isValidationError(failures[0])).toBe(true);
          expect(sent).toBe(0);
          expect(buffer.take().spans).toHaveLength(held);
        },
      ),
      { numRuns: 40 },
    );
  });

  test("writeEmf refuses its options before it collects: a reader with delta temporality keeps what was recorded", async () => {
    // Before, the reader was collected first (which ends a delta reader's interval) and the lines were refused after.
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.constantFrom<Record<string, unknown>>({ namespace: "" }, { namespace: 42 }),
          fc
            .string({ minLength: 1, maxLength: 12 })
            .filter((key) => !["namespace", "timestamp", "write", "onError", "__proto__"].includes(key))
            .map((key) => ({ namespace: "app", [key]: 1 })),
        ),
        async (bad) => {
          let collected = 0;
          const reader = {
            collect: async () => {
              collected++;
              return { resourceMetrics: { resource: {}, scopeMetrics: [] } };
            },
          } as never;
          const failures: unknown[] = [];
          const written = await writeEmf(reader, { onError: (e: unknown) => failures.push(e), ...bad } as never);
          expect(written).toBe(0);
          expect(failures).toHaveLength(1);
          expect(isValidationError(failures[0])).toBe(true);
          expect(collected).toBe(0);
        },
      ),
      { numRuns: 40 },
    );
  });
});
