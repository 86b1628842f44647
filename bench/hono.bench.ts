/**
 * Hono routes bench (issues 7 and 19): requests/s through `eventFlowsRoutes` (auth-free, no
 * idempotency key: correlation id, body reading with a size cap, valibot validation, bus dispatch,
 * problem+json on error) against a bare Hono handler doing the same validation with Hono's own
 * tools (`bodyLimit`, `validator` with the same valibot schemas) and calling the same domain
 * function. The difference is what our routes cost beyond that; the target (issue 19, goal 4) is
 * our time within 1.2x of the bare handler's on Bun and Node. One more row times a bare handler that
 * validates nothing at all: the floor under both.
 *
 * Both sides run in-process with `app.request`, so no network is measured. Two workloads: a
 * trivial handler (the worst case for the ratio: nothing to hide the fixed overhead behind), and a
 * handler that appends one event with its metadata to an InMemoryEventStore (command) or folds a
 * 10-event stream (query).
 *
 * Run: `bun bench/hono.bench.ts`, or `bun run bench hono` to also refresh bench/RESULTS.md.
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { validator } from "hono/validator";
import { bench, group, summary } from "mitata";
import * as v from "valibot";
import { eventFlowsRoutes } from "../adapters/hono/index.js";
import { DEFAULT_BODY_LIMIT } from "../adapters/http/index.js";
import { CommandBus, type EventMetadata, eventMetadataFor, InMemoryEventStore, QueryBus, ulid } from "../src/index.js";
import { appendToReport, runAndReport } from "./lib/report.js";

type Commands = {
  Ping: { payload: { n: number }; result: { n: number } };
  AddItem: { payload: { cartId: string; sku: string; quantity: number }; result: { version: number } };
};
type Queries = {
  Echo: { payload: { id: string }; result: { id: string } };
  GetCart: { payload: { cartId: string }; result: { cartId: string; items: number; version: number } };
};

// --- The domain both sides call ---------------------------------------------------------------------

let commandStore = new InMemoryEventStore();
let appended = 0;
/**
 * Appends one event with correlation and causation metadata (what any command handler writes); the
 * store is replaced every 10,000 appends so its size does not drift across runs.
 */
async function addItem(payload: Commands["AddItem"]["payload"], metadata: EventMetadata): Promise<{ version: number }> {
  if (++appended % 10_000 === 0) commandStore = new InMemoryEventStore();
  const result = await commandStore.appendToStream(
    `Cart-${payload.cartId}`,
    [{ type: "ItemAdded", data: { sku: payload.sku, quantity: payload.quantity } }],
    { metadata },
  );
  return { version: result.nextExpectedVersion };
}

const queryStore = new InMemoryEventStore();
for (let i = 0; i < 100; i++) {
  await queryStore.appendToStream(
    `Cart-q${i}`,
    Array.from({ length: 10 }, (_, n) => ({ type: "ItemAdded", data: { sku: `S-${n}`, quantity: 1 } })),
  );
}
async function getCart(cartId: string): Promise<{ cartId: string; items: number; version: number }> {
  let items = 0;
  let version = 0;
  for await (const event of queryStore.readStream(`Cart-${cartId}`)) {
    items += (event.data as { quantity: number }).quantity;
    version = event.version;
  }
  return { cartId, items, version };
}

// --- Ours -----------------------------------------------------------------------------------------

const commands = new CommandBus<Commands>({ trackExecutions: false });
commands.register("Ping", ({ n }) => ({ n }));
commands.register("AddItem", (payload, message) => addItem(payload, eventMetadataFor(message)));
const queries = new QueryBus<Queries>({ trackExecutions: false });
queries.register("Echo", ({ id }) => ({ id }));
queries.register("GetCart", ({ cartId }) => getCart(cartId));

const CartId = v.pipe(v.string(), v.minLength(1), v.maxLength(40));
const schemas = {
  Ping: v.object({ n: v.number() }),
  AddItem: v.object({
    cartId: CartId,
    sku: v.pipe(v.string(), v.minLength(1), v.maxLength(32)),
    quantity: v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(99)),
  }),
  Echo: v.object({ id: v.string() }),
  GetCart: v.object({ cartId: CartId }),
};
const ours = eventFlowsRoutes<Commands, Queries>({
  commands: { bus: commands, schemas: { Ping: schemas.Ping, AddItem: schemas.AddItem } },
  queries: { bus: queries, schemas: { Echo: schemas.Echo, GetCart: schemas.GetCart } },
  // Auth-free, so no caller identity: one explicit key space for the Idempotency-Key row.
  idempotency: { scope: () => "bench" },
});

// --- Bare Hono: the same checks with Hono's own middleware, the same function, JSON back -------------

// What a Hono user writes to get the same guarantees by hand: the same body limit (413), a JSON body
// (Hono's validator refuses malformed JSON with 400) checked against the same valibot schema (400).
const invalid = (c: Context) => c.json({ title: "Invalid request" }, 400);
function json<S extends v.GenericSchema>(schema: S) {
  return [
    bodyLimit({ maxSize: DEFAULT_BODY_LIMIT, onError: (c) => c.json({ title: "Payload too large" }, 413) }),
    validator("json", (value, c) => {
      const parsed = v.safeParse(schema, value);
      return parsed.success ? parsed.output : invalid(c);
    }),
  ] as const;
}
function query<S extends v.GenericSchema>(schema: S) {
  return validator("query", (value, c) => {
    const parsed = v.safeParse(schema, value);
    return parsed.success ? parsed.output : invalid(c);
  });
}

const bare = new Hono();
bare.post("/commands/Ping", ...json(schemas.Ping), (c) => c.json({ n: c.req.valid("json").n }));
// The same metadata our route gives the handler: the caller's correlation id (or a fresh one) and a causation id.
bare.post("/commands/AddItem", ...json(schemas.AddItem), async (c) => {
  const metadata = { correlationId: c.req.header("x-correlation-id") ?? crypto.randomUUID(), causationId: ulid() };
  return c.json(await addItem(c.req.valid("json"), metadata));
});
bare.get("/queries/Echo", query(schemas.Echo), (c) => c.json({ id: c.req.valid("query").id }));
bare.get("/queries/GetCart", query(schemas.GetCart), async (c) => c.json(await getCart(c.req.valid("query").cartId)));

// The floor: no limit, no validation, nothing but parse and answer.
const unchecked = new Hono();
unchecked.post("/commands/Ping", async (c) => {
  const { n } = await c.req.json<{ n: number }>();
  return c.json({ n });
});

// --- Requests ---------------------------------------------------------------------------------------

// Real clients send Content-Length with a JSON body; `app.request` does not add it, so the requests do.
const post = (body: string, extra: Record<string, string> = {}): RequestInit => ({
  method: "POST",
  headers: { "content-type": "application/json", "content-length": String(body.length), ...extra },
  body,
});
let counter = 0;
const ping = () => post(`{"n":${++counter}}`);
const add = (extra?: Record<string, string>) =>
  post(JSON.stringify({ cartId: `c${++counter % 1000}`, sku: "A-1", quantity: 2 }), extra);
const streamed = () => ({
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ cartId: `c${++counter % 1000}`, sku: "A-1", quantity: 2 }),
});
const cartQuery = () => `/queries/GetCart?cartId=q${++counter % 100}`;

async function expectOk(response: Response | Promise<Response>): Promise<void> {
  const awaited = await response;
  if (awaited.status !== 200) throw new Error(`unexpected ${awaited.status}: ${await awaited.text()}`);
  await awaited.arrayBuffer();
}

// Both sides must answer the same before they are timed, and refuse the same bad input: a bare side
// that skipped its checks would look fast.
for (const app of [ours, bare]) {
  const pong = await app.request("/commands/Ping", post('{"n":7}'));
  const cart = await app.request("/queries/GetCart?cartId=q1");
  const echoed = JSON.stringify([await pong.json(), await cart.json()]);
  if (echoed !== '[{"n":7},{"cartId":"q1","items":10,"version":10}]') throw new Error(`unexpected ${echoed}`);
  const refused = [
    (await app.request("/commands/Ping", post('{"n":"seven"}'))).status,
    (await app.request("/commands/Ping", post('{"n":'))).status,
    (await app.request("/commands/Ping", post(`{"n":1,"pad":"${"x".repeat(DEFAULT_BODY_LIMIT)}"}`))).status,
    (await app.request("/queries/GetCart?cartId=")).status,
  ];
  if (refused.join() !== "400,400,413,400") throw new Error(`bad input answered ${refused.join()}`);
}
if ((await (await unchecked.request("/commands/Ping", post('{"n":7}'))).text()) !== '{"n":7}') {
  throw new Error("the unchecked handler answered wrongly");
}

const names = {
  pingOurs: "command, trivial handler: EventFlows route",
  pingBare: "command, trivial handler: bare Hono handler",
  pingUnchecked: "command, trivial handler: bare Hono handler without validation (floor)",
  addOurs: "command, append 1 event: EventFlows route",
  addBare: "command, append 1 event: bare Hono handler",
  echoOurs: "query (GET), trivial handler: EventFlows route",
  echoBare: "query (GET), trivial handler: bare Hono handler",
  cartOurs: "query (GET), fold 10 events: EventFlows route",
  cartBare: "query (GET), fold 10 events: bare Hono handler",
  addKeyed: "command, append 1 event, with Idempotency-Key: EventFlows route",
  addStreamedOurs: "command, append 1 event, no Content-Length: EventFlows route",
  addStreamedBare: "command, append 1 event, no Content-Length: bare Hono handler",
};
const pairs: [string, string][] = [
  [names.pingOurs, names.pingBare],
  [names.addOurs, names.addBare],
  [names.echoOurs, names.echoBare],
  [names.cartOurs, names.cartBare],
  [names.addKeyed, names.addBare],
  [names.addStreamedOurs, names.addStreamedBare],
];

group("commands", () => {
  summary(() => {
    bench(names.pingOurs, () => expectOk(ours.request("/commands/Ping", ping())));
    bench(names.pingBare, () => expectOk(bare.request("/commands/Ping", ping())));
    bench(names.pingUnchecked, () => expectOk(unchecked.request("/commands/Ping", ping())));
  });
  summary(() => {
    bench(names.addOurs, () => expectOk(ours.request("/commands/AddItem", add())));
    bench(names.addBare, () => expectOk(bare.request("/commands/AddItem", add())));
    bench(names.addKeyed, () =>
      expectOk(ours.request("/commands/AddItem", add({ "idempotency-key": `k-${counter}` }))),
    );
  });
  summary(() => {
    bench(names.addStreamedOurs, () => expectOk(ours.request("/commands/AddItem", streamed())));
    bench(names.addStreamedBare, () => expectOk(bare.request("/commands/AddItem", streamed())));
  });
});

group("queries", () => {
  summary(() => {
    bench(names.echoOurs, () => expectOk(ours.request(`/queries/Echo?id=e${++counter}`)));
    bench(names.echoBare, () => expectOk(bare.request(`/queries/Echo?id=e${++counter}`)));
  });
  summary(() => {
    bench(names.cartOurs, () => expectOk(ours.request(cartQuery())));
    bench(names.cartBare, () => expectOk(bare.request(cartQuery())));
  });
});

await runAndReport("hono", "Hono routes: EventFlows routes vs a bare Hono handler (in-process)", {
  eventsPerIteration: Object.fromEntries(Object.values(names).map((name) => [name, 1])),
  pairs: [...pairs, [names.pingOurs, names.pingUnchecked]],
  statistic: "p50",
  notes: [
    "Requests/s in the events/s column (one request per iteration). The ratio column is bare time / our time: 0.83× or more means our time within 1.2× of the bare handler's (the target of issue 19, goal 4). Medians (p50), not means: run under `nice -n 19` on a shared 2-core machine, a request is now and then descheduled for milliseconds (on Node as on Bun, on the bare side as on ours), and those pauses, not the code, made the means and p99s of earlier runs.",
    "Ours: correlation id (the caller's or a random UUID), the body read with a size cap, valibot validation, CommandBus/QueryBus dispatch (execution tracking off), JSON response with the correlation id echoed; idempotency store enabled (used only by the keyed row). Bare: Hono's `bodyLimit` middleware (the same 1 MiB), Hono's `validator` with the same valibot schemas (400 for malformed JSON or an invalid payload; checked before timing, with our routes, on the same bad requests), `c.json()`, and the same domain function with the same event metadata. The floor row is a bare handler without limit or validation (`c.req.json()`, `c.json()`). The Idempotency-Key row adds three SHA-256 digests (the caller's scope, the key, the body) and an in-memory claim/complete per request. Requests carry Content-Length as real clients' do, except the no-Content-Length rows (a streamed body, read chunk by chunk against the cap).",
  ],
});

// mitata measures one benchmark after the other; on a shared machine the load changes between them.
// Interleaving the two sides in short alternating batches and taking the median of the per-round
// ratios cancels most of that drift: this is the overhead figure to read. The median batch of each
// side gives the time per request; the fixed cost our route adds is the median of the paired
// differences (each round's two adjacent batches), which drift cancels the same way.
interface Interleaved {
  readonly ratio: number;
  readonly oursUs: number;
  readonly bareUs: number;
  readonly extraUs: number;
}
async function interleavedRatio(ours: () => Promise<void>, bare: () => Promise<void>): Promise<Interleaved> {
  const rounds = 300;
  const batch = 100;
  const time = async (fn: () => Promise<void>) => {
    const started = performance.now();
    for (let i = 0; i < batch; i++) await fn();
    return performance.now() - started;
  };
  const ratios: number[] = [];
  const differences: number[] = [];
  const oursMs: number[] = [];
  const bareMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    let a: number;
    let b: number;
    if (round % 2 === 0) {
      a = await time(ours);
      b = await time(bare);
    } else {
      b = await time(bare);
      a = await time(ours);
    }
    ratios.push(a / b);
    differences.push(a - b);
    oursMs.push(a);
    bareMs.push(b);
  }
  const median = (values: number[]) => values.sort((x, y) => x - y)[Math.floor(values.length / 2)] as number;
  return {
    ratio: median(ratios),
    oursUs: (median(oursMs) * 1000) / batch,
    bareUs: (median(bareMs) * 1000) / batch,
    extraUs: (median(differences) * 1000) / batch,
  };
}

const interleaved: [string, string, () => Promise<void>, () => Promise<void>][] = [
  [
    names.pingOurs,
    "bare handler, same validation",
    () => expectOk(ours.request("/commands/Ping", ping())),
    () => expectOk(bare.request("/commands/Ping", ping())),
  ],
  [
    names.pingOurs,
    "bare handler without validation (floor)",
    () => expectOk(ours.request("/commands/Ping", ping())),
    () => expectOk(unchecked.request("/commands/Ping", ping())),
  ],
  [
    names.addOurs,
    "bare handler, same validation",
    () => expectOk(ours.request("/commands/AddItem", add())),
    () => expectOk(bare.request("/commands/AddItem", add())),
  ],
  [
    names.echoOurs,
    "bare handler, same validation",
    () => expectOk(ours.request(`/queries/Echo?id=e${++counter}`)),
    () => expectOk(bare.request(`/queries/Echo?id=e${++counter}`)),
  ],
  [
    names.cartOurs,
    "bare handler, same validation",
    () => expectOk(ours.request(cartQuery())),
    () => expectOk(bare.request(cartQuery())),
  ],
];
const lines = [
  "",
  "Overhead of the EventFlows route over the bare handler, interleaved (median of 300 alternating rounds of 100 requests each; the mitata rows above ran one after the other). Per request: each side's median batch; the fixed cost is the median of the rounds' paired differences per request (negative: the bare side took longer):",
  "",
];
for (const [name, against, oursFn, bareFn] of interleaved) {
  const { ratio, oursUs, bareUs, extraUs } = await interleavedRatio(oursFn, bareFn);
  lines.push(
    `- ${name} vs ${against}: our time / bare time = ${ratio.toFixed(3)} (${ratio >= 1 ? "+" : ""}${((ratio - 1) * 100).toFixed(1)}%); ${oursUs.toFixed(2)} µs vs ${bareUs.toFixed(2)} µs per request; the route's fixed cost ${extraUs.toFixed(2)} µs`,
  );
}
appendToReport("hono", lines.join("\n"));
console.log(lines.join("\n"));
