/**
 * Telemetry bench (issue 14): what tracing costs. Three workloads, each in four states:
 * - no provider: nothing registered with `@opentelemetry/api` (the library's default for most users);
 * - SDK: the SDK's `TracerProvider` registered, spans handed to its `InMemorySpanExporter` as they
 *   end (AsyncLocalStorage context, as on Node/Bun/Lambda);
 * - component off: the SDK registered, the bus/store/dispatcher given `telemetry: false`;
 * - global off: the SDK registered, `configureTelemetry({ tracing: false })`.
 * Workloads: a `CommandBus` dispatch of a trivial async handler (with the direct call as the
 * baseline), an in-memory append of one event, an HTTP command (`POST /commands/:type` through
 * the shared dispatcher, a handler appending one event in memory), and the same append and HTTP
 * command against PostgreSQL (a throwaway server through test/services/, fsync on): there the
 * store's round trip and commit are in every state, so the rows show tracing's share of a real append. A row times the SDK alone
 * starting and ending one span. The SDK floor rows (the ceiling) make, with the bare SDK and no
 * EventFlows code, the same spans as our instrumentation makes for each workload, with the same
 * attributes, each run as the active span through `context.with` (AsyncLocalStorage) and the
 * append's trace context formatted as a `traceparent`: one span for a dispatch, one for an append,
 * three nested for an HTTP command. What the SDK state costs above "no provider", minus that floor,
 * is ours.
 *
 * The provider is global, so each benchmark sets the state it measures in its setup (mitata runs the
 * code before `yield` once, before timing), and the interleaved cross-check sets it before each batch.
 *
 * Run: `bun bench/telemetry.bench.ts`, or `bun run bench telemetry` to also refresh bench/RESULTS.md.
 */
import { type Attributes, context, type Span, SpanKind, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { InMemorySpanExporter, type ReadableSpan, type SpanProcessor, TracerProvider } from "@opentelemetry/sdk-trace";
import { bench, do_not_optimize, group, summary } from "mitata";
import * as v from "valibot";
import { createHttpDispatcher } from "../adapters/http/index.js";
import { createPostgresClient, PostgresEventStore } from "../adapters/postgres/index.js";
import { CommandBus, configureTelemetry, type EventStore, InMemoryEventStore, ulid } from "../src/index.js";
import { ensurePostgres } from "../test/services/postgres.ts";
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

// PostgreSQL: one schema for this run, one store per state on it (each with its own streams).
const pgUrl = await ensurePostgres();
const pgSchema = `bench_telemetry_${ulid().slice(-6).toLowerCase()}`;
const sql = createPostgresClient(pgUrl, { max: 4 });
await new PostgresEventStore({ sql, schema: pgSchema }).migrate();

/** An HTTP command route whose handler appends one event to `store`. */
function httpCommand(store: EventStore, telemetry: boolean, prefix: string) {
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
  let requests = 0;
  return async () => {
    const response = await dispatcher.handle(
      new Request("http://localhost/commands/Place", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: `{"id":"${prefix}${requests++}","qty":2}`,
      }),
      undefined,
    );
    if (response.status !== 200) throw new Error(`HTTP command failed: ${response.status}`);
    return response.status;
  };
}

/** One application per state: `component off` builds its parts with `telemetry: false`. */
function application(state: State) {
  const telemetry = state !== "component off";
  const store = new InMemoryEventStore({ telemetry });
  const pgStore = new PostgresEventStore({ sql, schema: pgSchema, telemetry });
  const commands = new CommandBus({ telemetry });
  let n = 0;
  commands.register("Ping", async () => n++);
  // A new stream per append: one stream growing through the run would make later rows pay for its length.
  let streams = 0;
  // Streams of the PostgreSQL rows: this run's and this state's own.
  const pgPrefix = `${state.replace(" ", "-")}-`;
  return {
    dispatch: () => commands.execute("Ping", {}),
    append: () => store.appendToStream(`Order-${streams++}`, [{ type: "Placed", data: { qty: 1 } }]),
    request: httpCommand(store, telemetry, "h"),
    pgAppend: () => pgStore.appendToStream(`Order-${pgPrefix}${streams++}`, [{ type: "Placed", data: { qty: 1 } }]),
    pgRequest: httpCommand(pgStore, telemetry, `pg-${pgPrefix}`),
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
  await apps[state].pgAppend();
  await apps[state].pgRequest();
  const spans = pending.length;
  if ((state === "SDK") !== spans > 0)
    throw new Error(`${state}: ${spans} spans where ${state === "SDK" ? "some" : "none"} were expected`);
}

const workloads = ["dispatch", "append", "request", "pgAppend", "pgRequest"] as const;
type Workload = (typeof workloads)[number];
const titles: Record<Workload, string> = {
  dispatch: "CommandBus dispatch",
  append: "append 1 event (in memory)",
  request: "HTTP command + append",
  pgAppend: "append 1 event (PostgreSQL)",
  pgRequest: "HTTP command + append (PostgreSQL)",
};
const label = (workload: Workload, state: State) => `${titles[workload]}: ${state}`;
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

// The SDK floor: what our instrumentation asks of the SDK per workload, with nothing of ours around it.
const floorTracer = provider.getTracer("@eventflows/core");
function floorSpan<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = context.active();
  const span = floorTracer.startSpan(name, { kind, attributes }, parent);
  return context.with(trace.setSpan(parent, span), fn, undefined, span).then((result) => {
    span.end();
    return result;
  });
}
let floorStreams = 0;
const floorDispatch = (work: () => Promise<unknown>) =>
  floorSpan(
    "command Ping",
    SpanKind.INTERNAL,
    { "eventflows.message.kind": "command", "eventflows.message.type": "Ping" },
    work,
  );
const floorAppend = () =>
  floorSpan(
    "appendToStream",
    SpanKind.CLIENT,
    {
      "db.system": "memory",
      "db.operation.name": "appendToStream",
      "eventflows.stream_id": `Order-${floorStreams++}`,
      "eventflows.event_count": 1,
      "eventflows.expected_version": "any",
    },
    async (span) => {
      // Propagation into the event's metadata: its traceparent.
      const { traceId, spanId } = span.spanContext();
      const metadata = { traceparent: `00-${traceId}-${spanId}-01` };
      span.setAttributes({ "eventflows.outcome": "committed", "eventflows.stream_version": 1 });
      return metadata;
    },
  );
const floorRequest = () =>
  floorSpan(
    "POST /commands/:type",
    SpanKind.SERVER,
    { "http.request.method": "POST", "http.route": "/commands/:type", "eventflows.message.type": "Place" },
    async (span) => {
      await floorDispatch(floorAppend);
      span.setAttribute("http.response.status_code", 200);
    },
  );
// The PostgreSQL rows make the same spans as their in-memory twins: the same floors.
const floors: Record<Workload, () => Promise<unknown>> = {
  dispatch: () => floorDispatch(handler),
  append: floorAppend,
  request: floorRequest,
  pgAppend: floorAppend,
  pgRequest: floorRequest,
};
const floorLabel = (workload: Workload) =>
  `SDK floor: the same spans as ${workload === "dispatch" ? "one dispatch (1, around the direct call)" : workload === "append" || workload === "pgAppend" ? "one append (1)" : "one HTTP command (3 nested)"}${workload.startsWith("pg") ? ", timed beside the PostgreSQL rows" : ""}`;
/** The floors with a mitata row of their own: the PostgreSQL rows' are the same spans. */
const floorWorkloads = ["dispatch", "append", "request"] as const;
// The floor makes the spans it claims to: 1 + 1 + 3.
enter("SDK");
pending = [];
for (const workload of floorWorkloads) await floors[workload]();
if (pending.length !== 5) throw new Error(`SDK floor: ${pending.length} spans where 5 were expected`);
group("SDK floor (the ceiling): the same spans, bare SDK", () => {
  for (const workload of floorWorkloads) {
    bench(floorLabel(workload), function* () {
      enter("SDK");
      const run = floors[workload];
      yield async () => do_not_optimize(await run());
    });
  }
});

const overheads: [string, string][] = [];
overheads.push([floorLabel("dispatch"), baseline]);
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
async function crossCheck(workload: Workload, rounds: number, batch: number) {
  // Every state, then the SDK floor (and for a dispatch the direct call it wraps), in each round.
  const variants: [string, State, () => Promise<unknown>][] = STATES.map((state) => [
    label(workload, state),
    state,
    apps[state][workload],
  ]);
  variants.push([floorLabel(workload), "SDK", floors[workload]]);
  if (workload === "dispatch") variants.push([baseline, "no provider", handler]);
  const times = variants.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (const [index, [, state, run]] of variants.entries()) {
      enter(state);
      const started = performance.now();
      for (let i = 0; i < batch; i++) await run();
      times[index]?.push(((performance.now() - started) * 1e6) / batch);
    }
  }
  return variants.map(([name], index): InterleavedResult => ({ name, medianNs: median(times[index] ?? []) }));
}

const crossChecks: InterleavedResult[] = [];
const notes: string[] = [];
for (const [workload, rounds, batch] of [
  ["dispatch", 40, 2000],
  ["append", 30, 500],
  ["request", 30, 100],
  // About a millisecond per append (a commit with fsync): fewer, smaller batches.
  ["pgAppend", 60, 10],
  ["pgRequest", 60, 10],
] as const) {
  const all = await crossCheck(workload, rounds, batch);
  const results = all.slice(0, STATES.length);
  crossChecks.push(...all);
  const none = results[0]?.medianNs ?? Number.NaN;
  notes.push(
    `${label(workload, "no provider").split(":")[0]}, interleaved medians: ` +
      results
        .map((r) => `${r.name.split(": ")[1]} ${Math.round(r.medianNs)} ns (${(r.medianNs / none).toFixed(2)}x)`)
        .join(", "),
  );
  // Tracing's cost (SDK minus no provider), split into the SDK's floor and ours.
  const traced = (results[1]?.medianNs ?? Number.NaN) - none;
  const floorNs =
    (all[STATES.length]?.medianNs ?? Number.NaN) -
    (workload === "dispatch" ? (all[STATES.length + 1]?.medianNs ?? 0) : 0);
  notes.push(
    `${label(workload, "no provider").split(":")[0]}, tracing cost ${Math.round(traced)} ns = SDK floor ${Math.round(floorNs)} ns ` +
      `(${Math.round((floorNs / traced) * 100)}%) + ours ${Math.round(traced - floorNs)} ns (${Math.round(((traced - floorNs) / traced) * 100)}%) (interleaved medians)`,
  );
}
enter("no provider");
notes.push(
  "SDK: @opentelemetry/sdk-trace 3 TracerProvider, default sampler (all sampled), spans handed to InMemorySpanExporter 512 at a time (as a BatchSpanProcessor would); " +
    "a production BatchSpanProcessor + OTLP exporter adds its own export cost. The issue's targets: < 10% on append and HTTP, < 300 ns per dispatch, no measurable cost without a provider.",
  "PostgreSQL rows: `PostgresEventStore` on a throwaway PostgreSQL 15 (fsync on, loopback, a pool of 4), each append one event to a new stream (one statement, one commit); the HTTP command is the in-memory row's route with the handler appending there. Their SDK floor is the in-memory rows' spans (the SDK does not see the database), timed in the same rounds.",
);

await runAndReport("telemetry", "Telemetry: no provider vs SDK provider vs opted out", {
  overheads,
  interleaved: crossChecks,
  notes,
  statistic: "p50",
});
for (const note of notes) console.log(note);
await sql.unsafe(`DROP SCHEMA IF EXISTS ${pgSchema} CASCADE`);
await sql.end();
