import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import fc from "fast-check";
import * as v from "valibot";
import { CommandBus, ConcurrencyError, configureMetrics, InMemoryEventStore } from "../../src/index.js";
import { type PrometheusServer, startPrometheus } from "../../test/services/prometheus.ts";
import { eventFlowsRoutes, prometheusFormat, prometheusText } from "./index.js";

/** The application's side: an SDK reader on its MeterProvider, handed to the route. */
class ScrapeReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

type Commands = {
  Open: { payload: { cartId: string }; result: { version: number } };
  Clash: { payload: Record<string, never>; result: never };
};

let server: ReturnType<typeof Bun.serve>;
let prometheus: PrometheusServer | undefined;
const secretCartId = `cart-${crypto.randomUUID()}`;

beforeAll(() => {
  const reader = new ScrapeReader();
  configureMetrics({ enabled: true, meterProvider: new MeterProvider({ readers: [reader] }) });
  const store = new InMemoryEventStore();
  const commands = new CommandBus<Commands>();
  commands.register("Open", async ({ cartId }) => {
    const appended = await store.appendToStream(`Cart-${cartId}`, [{ type: "CartOpened", data: { cartId } }]);
    return { version: appended.nextExpectedVersion };
  });
  commands.register("Clash", async () => {
    throw new ConcurrencyError("Cart-1", 1, 2);
  });
  const app = eventFlowsRoutes({
    commands: { bus: commands, schemas: { Open: v.object({ cartId: v.string() }), Clash: v.object({}) } },
    metrics: { collector: reader, format: prometheusFormat },
    onError: () => undefined,
  });
  server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: app.fetch });
});

afterAll(async () => {
  await prometheus?.stop();
  server?.stop(true);
  configureMetrics({ meterProvider: undefined });
});

const post = (type: string, body: unknown) =>
  fetch(`http://127.0.0.1:${server.port}/commands/${type}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

/** Polls an instant query until `check` accepts its result (Prometheus scrapes once a second). */
async function eventually(promql: string, check: (values: number[]) => boolean): Promise<number[]> {
  let values: number[] = [];
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; ) {
    values = (await (prometheus as PrometheusServer).query(promql)).map((sample) => Number(sample.value[1]));
    if (check(values)) return values;
    await Bun.sleep(250);
  }
  throw new Error(`${promql}: still ${JSON.stringify(values)} after 30 s`);
}

describe("Prometheus scrapes the Hono metrics route (a real Prometheus server)", () => {
  test("command latency, appended events and errors by code arrive as series, without ids as labels", async () => {
    for (let i = 0; i < 3; i++) expect((await post("Open", { cartId: `${secretCartId}-${i}` })).status).toBe(200);
    expect((await post("Clash", {})).status).toBe(409);

    prometheus = await startPrometheus({ targets: [`127.0.0.1:${server.port}`] });
    expect(await eventually('up{job="eventflows-test"}', (values) => values[0] === 1)).toEqual([1]);
    expect(
      await eventually(
        'eventflows_command_duration_seconds_count{eventflows_message_type="Open",eventflows_outcome="ok"}',
        (values) => values.length === 1,
      ),
    ).toEqual([3]);
    expect(
      await eventually('eventflows_events_appended_total{eventflows_event_type="CartOpened"}', (v) => v.length === 1),
    ).toEqual([3]);
    expect(
      await eventually(
        'eventflows_errors_total{error_type="CONCURRENCY_CONFLICT",eventflows_operation="command"}',
        (v) => v.length === 1,
      ),
    ).toEqual([1]);
    const buckets = await prometheus.query(
      'eventflows_command_duration_seconds_bucket{eventflows_message_type="Open",le="+Inf"}',
    );
    expect(buckets.map((sample) => Number(sample.value[1]))).toEqual([3]);

    // Every series Prometheus holds from the route: none names a cart, a stream or an event id.
    const series = await prometheus.query('{job="eventflows-test"}');
    expect(series.length).toBeGreaterThan(5);
    expect(JSON.stringify(series)).not.toContain(secretCartId);
  }, 60_000);
});

/** `promtool check metrics` (Debian's prometheus package, as the server): 0 clean, 3 lint remarks only, 1 unparsable. */
function promtool(text: string): { status: number; output: string } {
  const run = Bun.spawnSync(["promtool", "check", "metrics"], { stdin: new TextEncoder().encode(text) });
  return { status: run.exitCode, output: `${run.stdout.toString()}${run.stderr.toString()}` };
}

describe("the exposition parses with Prometheus' own parser (promtool), whatever the metrics", () => {
  test("property: any instrument names, units, descriptions, attribute keys and values give text promtool accepts", async () => {
    const attributes = fc.dictionary(
      fc.oneof(
        fc.string({ unit: "grapheme-ascii", maxLength: 8 }),
        fc.constantFrom("le", "__name__", "a.b", "a_b", ""),
      ),
      fc.oneof(
        fc.string({ unit: "binary", maxLength: 12 }),
        fc.integer(),
        fc.boolean(),
        fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }),
      ),
      { maxKeys: 4 },
    );
    const instrument = fc.record({
      kind: fc.constantFrom("counter", "updown", "gauge", "histogram"),
      // What the SDK accepts as an instrument name, with the characters that collide once sanitized, and
      // names it warns about but still makes instruments of (an empty one, a leading digit).
      name: fc.oneof(fc.stringMatching(/^[a-z][a-z0-9_.\-/]{0,6}$/), fc.constantFrom("", "9", "é.x")),
      unit: fc.constantFrom(undefined, "s", "ms", "By", "1", "{event}", "%", "m/s"),
      description: fc.string({ unit: "binary", maxLength: 12 }),
      points: fc.array(fc.tuple(attributes, fc.double({ min: -1e6, max: 1e6, noNaN: true })), {
        minLength: 1,
        maxLength: 3,
      }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(instrument, { minLength: 1, maxLength: 6 }), async (instruments) => {
        const reader = new ScrapeReader();
        const provider = new MeterProvider({ readers: [reader] });
        instruments.forEach((each, index) => {
          // Two scopes, so that one name may come from both.
          const meter = provider.getMeter(index % 2 === 0 ? "app" : "lib");
          const options = { unit: each.unit, description: each.description };
          for (const [labels, value] of each.points) {
            if (each.kind === "counter") meter.createCounter(each.name, options).add(Math.abs(value), labels);
            else if (each.kind === "updown") meter.createUpDownCounter(each.name, options).add(value, labels);
            else if (each.kind === "gauge") meter.createGauge(each.name, options).record(value, labels);
            else meter.createHistogram(each.name, options).record(Math.abs(value), labels);
          }
        });
        const text = prometheusText((await reader.collect()).resourceMetrics);
        const checked = promtool(text);
        if (checked.status !== 0 && checked.status !== 3) throw new Error(`${checked.output}\n${text}`);
        // promtool does not look for a series written twice, which a scrape drops (or fails on): each
        // name and label set (in any order) once.
        const series = text
          .split("\n")
          .filter((line) => line !== "" && !line.startsWith("#"))
          .map((line) => {
            const open = line.indexOf("{");
            if (open < 0) return line.slice(0, line.lastIndexOf(" "));
            const close = line.lastIndexOf("}");
            const pairs = line.slice(open + 1, close).match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? [];
            return `${line.slice(0, open)}{${pairs.sort().join(",")}}`;
          });
        const seen = new Set<string>();
        for (const each of series) {
          if (seen.has(each)) throw new Error(`series ${each} written twice\n${text}`);
          seen.add(each);
        }
      }),
      { numRuns: 150 },
    );
  }, 60_000);
});
