/**
 * Telemetry bench (issue 14): what tracing costs. Three workloads, each in four states:
 * - no provider: nothing registered with `@opentelemetry/api` (the library's default for most users);
 * - SDK: the SDK's `TracerProvider` registered, spans handed to its `InMemorySpanExporter` as they
 *   end (AsyncLocalStorage context, as on Node/Bun/Lambda);
 * - component off: the SDK registered, the bus/store/dispatcher given `telemetry: false`;
 * - global off: the SDK registered, `configureTelemetry({ tracing: false })`.
 * Workloads: a `CommandBus` dispatch of a trivial async handler (with the direct call as the
 * baseline), an in-memory append of one event, and an HTTP command (`POST /commands/:type` through
 * the shared dispatcher, a handler appending one event in memory). A last row times the SDK alone
 * starting and ending one span: the floor any instrumented call pays per span.
 *
 * The provider is global, so each benchmark sets the state it measures in its setup (mitata runs the
 * code before `yield` once, before timing), and the interleaved cross-check sets it before each batch.
 *
 * Run: `bun bench/telemetry.bench.ts`, or `bun run bench telemetry` to also refresh bench/RESULTS.md.
 */
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { InMemorySpanExporter, type ReadableSpan, type SpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { bench, do_not_optimize, group, summary } from "mitata";
import * as v from "valibot";
import { createHttpDispatcher } from "../adapters/http/index.js";
import { CommandBus, configureTelemetry, InMemoryEventStore } from "../src/index.js";
import { type InterleavedResult, median } from "./lib/interleave.js";
import { runAndReport } from "./lib/report.js";

type State = "no provider" | "SDK" | "component off" | "global off";
const STATES: readonly State[] = ["no provider", "SDK", "component off", "global off"];

const exporter = new InMemorySpanExporter();
// Ended spans are handed to the exporter 512 at a time, as a BatchSpanProcessor does (the in-memory
// exporter arms a timer per export call: one per span would measure that timer, not the spans), and
// the exporter is emptied now and then so that memory stays flat.
let pending: ReadableSpan[] = [];
const processor: SpanProcessor = {
  onStart() {},
  onEnd(span) {
    pending.push(span);
    if (pending.length < 512) return;
    exporter.export(pending, () => {});
    pending = [];
    if (exporter.getFinishedSpans().length >= 10_000) exporter.reset();
  },
  forceFlush: () => Promise.resolve(),
  shutdown: () => Promise.resolve(),
};
const provider = new TracerProvider({ spanProcessors: [processor] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

function enter(state: State): void {
  trace.disable();
  configureTelemetry();
  if (state === "no provider") return;
  trace.setGlobalTracerProvider(provider);
  if (state === "global off") configureTelemetry({ tracing: false });
}

/** One application per state: `component off` builds its parts with `telemetry: false`. */
function application(state: State) {
  const telemetry = state !== "component off";
  const store = new InMemoryEventStore({ telemetry });
  const commands = new CommandBus({ telemetry });
  let n = 0;
  commands.register("Ping", async () => n++);
  const http = new CommandBus({ telemetry });
  http.register("Place", async (payload: unknown) => {
    const { id } = payload as { id: string };
    const result = await store.appendToStream(`Order-${id}`, [{ type: "Placed", data: payload }]);
    return { version: result.nextExpectedVersion };
  });
  const dispatcher = createHttpDispatcher({
    commands: { bus: http, schemas: { Place: v.object({ id: v.string(), qty: v.number() }) } },
    telemetry,
  });
  // A new stream per append: one stream growing through the run would make later rows pay for its length.
  let streams = 0;
  return {
    dispatch: () => commands.execute("Ping", {}),
    append: () => store.appendToStream(`Order-${streams++}`, [{ type: "Placed", data: { qty: 1 } }]),
    request: async () => {
      const response = await dispatcher.handle(
        new Request("http://localhost/commands/Place", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: `{"id":"h${streams++}","qty":2}`,
        }),
        undefined,
      );
      if (response.status !== 200) throw new Error(`HTTP command failed: ${response.status}`);
      return response.status;
    },
  };
}

const apps = Object.fromEntries(STATES.map((state) => [state, application(state)])) as Record<
  State,
  ReturnType<typeof application>
>;
let direct = 0;
const handler = async () => direct++;

// Each variant must do its work, and the SDK state must really make spans.
for (const state of STATES) {
  enter(state);
  pending = [];
  await apps[state].dispatch();
  await apps[state].append();
  await apps[state].request();
  const spans = pending.length;
  if ((state === "SDK") !== spans > 0)
    throw new Error(`${state}: ${spans} spans where ${state === "SDK" ? "some" : "none"} were expected`);
}

const workloads = ["dispatch", "append", "request"] as const;
const label = (workload: (typeof workloads)[number], state: State) =>
  `${workload === "dispatch" ? "CommandBus dispatch" : workload === "append" ? "append 1 event (in memory)" : "HTTP command + append"}: ${state}`;
const baseline = "CommandBus dispatch: direct call (baseline)";

// The SDK's own cost, with no EventFlows code: what any instrumented call pays at least, per span.
const sdkSpan = "SDK alone: start and end one span";
const sdkTracer = provider.getTracer("bench");
group("the SDK's own span", () => {
  bench(sdkSpan, function* () {
    enter("SDK");
    yield () => do_not_optimize(sdkTracer.startSpan("bench").end());
  });
});

const overheads: [string, string][] = [];
for (const workload of workloads) {
  group(label(workload, "no provider").split(":")[0] as string, () => {
    summary(() => {
      if (workload === "dispatch") {
        bench(baseline, function* () {
          enter("no provider");
          yield async () => do_not_optimize(await handler());
        });
      }
      for (const state of STATES) {
        bench(label(workload, state), function* () {
          enter(state);
          const run = apps[state][workload];
          yield async () => do_not_optimize(await run());
        });
      }
    });
  });
  for (const state of STATES) {
    if (state !== "no provider") overheads.push([label(workload, state), label(workload, "no provider")]);
  }
  if (workload === "dispatch") overheads.push([label(workload, "no provider"), baseline]);
}

/** Round-robin batches of every state, the state set before each batch: medians per call, in ns. */
async function crossCheck(workload: (typeof workloads)[number], rounds: number, batch: number) {
  const times = STATES.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (const [index, state] of STATES.entries()) {
      enter(state);
      const run = apps[state][workload];
      const started = performance.now();
      for (let i = 0; i < batch; i++) await run();
      times[index]?.push(((performance.now() - started) * 1e6) / batch);
    }
  }
  return STATES.map(
    (state, index): InterleavedResult => ({ name: label(workload, state), medianNs: median(times[index] ?? []) }),
  );
}

const crossChecks: InterleavedResult[] = [];
const notes: string[] = [];
for (const [workload, rounds, batch] of [
  ["dispatch", 40, 2000],
  ["append", 30, 500],
  ["request", 30, 100],
] as const) {
  const results = await crossCheck(workload, rounds, batch);
  crossChecks.push(...results);
  const none = results[0]?.medianNs ?? Number.NaN;
  notes.push(
    `${label(workload, "no provider").split(":")[0]}, interleaved medians: ` +
      results
        .map((r) => `${r.name.split(": ")[1]} ${Math.round(r.medianNs)} ns (${(r.medianNs / none).toFixed(2)}x)`)
        .join(", "),
  );
}
enter("no provider");
notes.push(
  "SDK: @opentelemetry/sdk-trace 3 TracerProvider, default sampler (all sampled), spans handed to InMemorySpanExporter 512 at a time (as a BatchSpanProcessor would); " +
    "a production BatchSpanProcessor + OTLP exporter adds its own export cost. The issue's targets: < 10% on append and HTTP, < 300 ns per dispatch, no measurable cost without a provider.",
);

await runAndReport("telemetry", "Telemetry: no provider vs SDK provider vs opted out", {
  overheads,
  interleaved: crossChecks,
  notes,
  statistic: "p50",
});
for (const note of notes) console.log(note);
