/**
 * Core bench (issue 2): aggregate rehydration in events/s, and the dispatch cost of the command and
 * query buses against calling the handler directly, with @nestjs/cqrs side by side.
 *
 * Run: `bun bench/core.bench.ts`, or `bun run bench core` to also refresh bench/RESULTS.md.
 */
import { loadavg } from "node:os";
import { bench, do_not_optimize, group, summary } from "mitata";
import { monotonicFactory } from "ulidx";
import * as v from "valibot";
import { CommandBus, type Middleware, QueryBus, ulid, validation } from "../src/index.js";
import { cartHistory, foldByHand, MapCart, MethodCart, NestCart, nestHistory } from "./lib/cart-aggregates.js";
import { interleaved } from "./lib/interleave.js";
import { CheckedPingCommand, PingCommand, PingQuery, startNestBuses } from "./lib/nest-cqrs.js";
import { runAndReport } from "./lib/report.js";

const sizes = [10, 1_000, 100_000] as const;
const eventsPerIteration: Record<string, number> = {};
const pairs: [string, string][] = [];
const overheads: [string, string][] = [];

// --- Rehydration -----------------------------------------------------------------------------------

for (const size of sizes) {
  const history = cartHistory(size);
  const nest = nestHistory(history);
  const label = size.toLocaleString("en-US");
  const names = {
    methods: `rehydrate ${label} events: on<Type> methods`,
    map: `rehydrate ${label} events: handler map`,
    nest: `rehydrate ${label} events: @nestjs/cqrs loadFromHistory`,
    hand: `rehydrate ${label} events: hand-written loop (ceiling)`,
  };
  for (const name of Object.values(names)) eventsPerIteration[name] = size;
  pairs.push([names.methods, names.nest], [names.map, names.nest]);

  // Checks the forms agree before timing them, so a broken handler cannot look fast.
  const expected = foldByHand(history).total;
  const totals = [
    new MethodCart("c").rehydrate(history).total,
    new MapCart("c").rehydrate(history).total,
    (() => {
      const cart = new NestCart("c");
      cart.loadFromHistory(nest);
      return cart.state.total;
    })(),
  ];
  if (totals.some((total) => total !== expected))
    throw new Error(`rehydration forms disagree: ${totals} ≠ ${expected}`);

  group(`rehydration, ${label} events`, () => {
    summary(() => {
      bench(names.methods, () => do_not_optimize(new MethodCart("Cart-1").rehydrate(history)));
      bench(names.map, () => do_not_optimize(new MapCart("Cart-1").rehydrate(history)));
      bench(names.nest, () => {
        const cart = new NestCart("Cart-1");
        cart.loadFromHistory(nest);
        do_not_optimize(cart);
      });
      bench(names.hand, () => do_not_optimize(foldByHand(history)));
    });
  });
}

// --- Bus dispatch ----------------------------------------------------------------------------------

type Ping = { n: number };
type Messages = { Ping: { payload: Ping; result: number } };

// The one handler every variant calls: async, as application handlers are.
const ping = async ({ n }: Ping): Promise<number> => n + 1;
const pass: Middleware = (_message, next) => next();
const schemas = { Ping: v.object({ n: v.number() }) };

const commands = new CommandBus<Messages>();
commands.register("Ping", ping);
const commandsUntracked = new CommandBus<Messages>({ trackExecutions: false });
commandsUntracked.register("Ping", ping);
const commandsTimed = new CommandBus<Messages>({ timeExecutions: true });
commandsTimed.register("Ping", ping);
const commandsWithMiddleware = new CommandBus<Messages>().use(pass);
commandsWithMiddleware.register("Ping", ping);
const commandsWithValidation = new CommandBus<Messages>().use(validation(schemas));
commandsWithValidation.register("Ping", ping);

const queries = new QueryBus<Messages>();
queries.register("Ping", ping);
const queriesUntracked = new QueryBus<Messages>({ trackExecutions: false });
queriesUntracked.register("Ping", ping);
const queriesWithMiddleware = new QueryBus<Messages>().use(pass);
queriesWithMiddleware.register("Ping", ping);
const queriesWithValidation = new QueryBus<Messages>().use(validation(schemas));
queriesWithValidation.register("Ping", ping);

const nest = await startNestBuses();

const dispatch = {
  commandDirect: "command: direct call (baseline)",
  command: "command: CommandBus.execute",
  commandUntracked: "command: CommandBus.execute, stats off",
  commandTimed: "command: CommandBus.execute, every dispatch timed",
  commandMiddleware: "command: CommandBus.execute + 1 middleware",
  commandValidation: "command: CommandBus.execute + valibot validation",
  commandNest: "command: @nestjs/cqrs CommandBus.execute",
  commandNestValidation: "command: @nestjs/cqrs CommandBus.execute + valibot in handler",
  queryDirect: "query: direct call (baseline)",
  query: "query: QueryBus.execute",
  queryUntracked: "query: QueryBus.execute, stats off",
  queryMiddleware: "query: QueryBus.execute + 1 middleware",
  queryValidation: "query: QueryBus.execute + valibot validation",
  queryNest: "query: @nestjs/cqrs QueryBus.execute",
  clock: "two performance.now() reads (what execution stats cost per dispatch)",
} as const;
for (const name of Object.values(dispatch)) if (name !== dispatch.clock) eventsPerIteration[name] = 1;
pairs.push(
  [dispatch.command, dispatch.commandNest],
  [dispatch.commandUntracked, dispatch.commandNest],
  [dispatch.commandTimed, dispatch.commandNest],
  [dispatch.commandValidation, dispatch.commandNestValidation],
  [dispatch.query, dispatch.queryNest],
  [dispatch.queryUntracked, dispatch.queryNest],
);
overheads.push(
  [dispatch.command, dispatch.commandDirect],
  [dispatch.commandUntracked, dispatch.commandDirect],
  [dispatch.commandTimed, dispatch.commandDirect],
  [dispatch.commandMiddleware, dispatch.commandDirect],
  [dispatch.commandValidation, dispatch.commandDirect],
  [dispatch.commandNest, dispatch.commandDirect],
  [dispatch.commandNestValidation, dispatch.commandDirect],
  [dispatch.query, dispatch.queryDirect],
  [dispatch.queryUntracked, dispatch.queryDirect],
  [dispatch.queryMiddleware, dispatch.queryDirect],
  [dispatch.queryValidation, dispatch.queryDirect],
  [dispatch.queryNest, dispatch.queryDirect],
);

// Every variant must really reach the handler: a bus that returned early would look fast.
const answers = await Promise.all([
  ping({ n: 1 }),
  commands.execute("Ping", { n: 1 }),
  commandsUntracked.execute("Ping", { n: 1 }),
  commandsTimed.execute("Ping", { n: 1 }),
  commandsWithMiddleware.execute("Ping", { n: 1 }),
  commandsWithValidation.execute("Ping", { n: 1 }),
  nest.commands.execute(new PingCommand(1)),
  nest.commands.execute(new CheckedPingCommand(1)),
  queries.execute("Ping", { n: 1 }),
  queriesUntracked.execute("Ping", { n: 1 }),
  queriesWithMiddleware.execute("Ping", { n: 1 }),
  queriesWithValidation.execute("Ping", { n: 1 }),
  nest.queries.execute(new PingQuery(1)),
]);
if (answers.some((answer) => answer !== 2)) throw new Error(`a dispatch variant answered wrongly: ${answers}`);

group("command dispatch, trivial async handler", () => {
  summary(() => {
    bench(dispatch.commandDirect, () => ping({ n: 1 })).baseline();
    bench(dispatch.command, () => commands.execute("Ping", { n: 1 }));
    bench(dispatch.commandUntracked, () => commandsUntracked.execute("Ping", { n: 1 }));
    bench(dispatch.commandTimed, () => commandsTimed.execute("Ping", { n: 1 }));
    bench(dispatch.commandMiddleware, () => commandsWithMiddleware.execute("Ping", { n: 1 }));
    bench(dispatch.commandValidation, () => commandsWithValidation.execute("Ping", { n: 1 }));
    bench(dispatch.commandNest, () => nest.commands.execute(new PingCommand(1)));
    bench(dispatch.commandNestValidation, () => nest.commands.execute(new CheckedPingCommand(1)));
  });
  bench(dispatch.clock, () => do_not_optimize(performance.now() - performance.now()));
});

group("query dispatch, trivial async handler", () => {
  summary(() => {
    bench(dispatch.queryDirect, () => ping({ n: 1 })).baseline();
    bench(dispatch.query, () => queries.execute("Ping", { n: 1 }));
    bench(dispatch.queryUntracked, () => queriesUntracked.execute("Ping", { n: 1 }));
    bench(dispatch.queryMiddleware, () => queriesWithMiddleware.execute("Ping", { n: 1 }));
    bench(dispatch.queryValidation, () => queriesWithValidation.execute("Ping", { n: 1 }));
    bench(dispatch.queryNest, () => nest.queries.execute(new PingQuery(1)));
  });
});

// Every appended event and every dispatched message gets a ULID: ours against ulidx's monotonic factory.
const ulidxMonotonic = monotonicFactory();
group("id generation (monotonic ULID)", () => {
  summary(() => {
    bench("ulid: ours", () => do_not_optimize(ulid()));
    bench("ulid: ulidx monotonicFactory", () => do_not_optimize(ulidxMonotonic()));
  });
});
pairs.push(["ulid: ours", "ulid: ulidx monotonicFactory"]);

const loadBefore = loadavg()[0] ?? Number.NaN;
// The ratios against Nest matter most and sit within tens of ns: time them round-robin as well.
const dispatchCheck = await interleaved(
  [
    [dispatch.commandDirect, () => ping({ n: 1 })],
    [dispatch.command, () => commands.execute("Ping", { n: 1 })],
    [dispatch.commandUntracked, () => commandsUntracked.execute("Ping", { n: 1 })],
    [dispatch.commandTimed, () => commandsTimed.execute("Ping", { n: 1 })],
    [dispatch.commandNest, () => nest.commands.execute(new PingCommand(1))],
    [dispatch.queryDirect, () => ping({ n: 1 })],
    [dispatch.query, () => queries.execute("Ping", { n: 1 })],
    [dispatch.queryUntracked, () => queriesUntracked.execute("Ping", { n: 1 })],
    [dispatch.queryNest, () => nest.queries.execute(new PingQuery(1))],
  ],
  { rounds: 60, batch: 2_000 },
);
await runAndReport("core", "Core: aggregate rehydration and bus dispatch", {
  eventsPerIteration,
  pairs,
  overheads,
  statistic: "p50",
  load: loadBefore,
  interleaved: dispatchCheck,
  notes: [
    "Rehydration: a fresh aggregate folds a stored history (frozen envelopes; 80% ItemAdded, 10% ItemRemoved, 10% CouponApplied); every form mutates the same two numbers per event. events/s = events per iteration / median (p50) time per iteration. @nestjs/cqrs `loadFromHistory` is the peer (it keeps no version and ignores events without a handler; ours tracks the version and throws on a missing handler). The hand-written loop is the ceiling.",
    "Dispatch: one `execute` of a trivial async handler, awaited, with the bus defaults: execution stats on, every dispatch counted, the first of a type and then one in 16 timed (`timeExecutions: 16`). The direct call awaits the same handler; overhead = bus p50 − direct p50 per dispatch. `stats off` is `new CommandBus({ trackExecutions: false })`; `every dispatch timed` is `timeExecutions: true` (the default before: two `performance.now()` reads per dispatch, whose cost is measured on its own row). Nest: a Nest application context with CqrsModule.forRoot(), `execute(new PingCommand(1))` as Nest users write it; Nest's buses have no middleware, so its validation row parses with valibot inside the handler. Target (issue 19, item 6): the default buses at least level with @nestjs/cqrs on Bun and Node: read the interleaved ratios, which load bursts cannot pin on one side.",
    "Targets (issue 2): dispatch overhead under 1 µs, rehydration above 5 million events/s. Medians (p50) drive events/s, ratios and overheads because the 2 cores are shared: averages swing with other processes' load. Compare rows of one run, not runs.",
  ],
});
await nest.close();
