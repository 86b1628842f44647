/**
 * The live-streams scenario every runtime runs against a real server (test/live/node-main.ts on
 * Node; adapters/hono/live-routes.test.ts has the fuller Bun version): N SSE and N WebSocket clients,
 * each with a filter, receive exactly their filtered events in order; a client cut off resumes from
 * its last position and loses nothing; unauthorized subscriptions get 401/403. Web APIs only.
 */
import { subscribeLive } from "../../src/client/index.js";
import { type EventEnvelope, type LiveFilter, matchesFilter, type NewEvent } from "../../src/index.js";

/** The part of an event store the scenario appends through: the store itself, or one behind a Worker's routes. */
export interface ScenarioStore {
  getLastGlobalPosition(): Promise<number>;
  appendToStream(streamId: string, events: NewEvent[]): Promise<{ readonly events: readonly EventEnvelope[] }>;
}

export interface ScenarioOptions {
  /** Where the live routes are: `http://127.0.0.1:1234/api/events`. */
  readonly base: string;
  readonly store: ScenarioStore;
  /** Connections the hub holds now (to wait for every client to be subscribed). */
  readonly connections: () => number | Promise<number>;
  readonly WebSocket: typeof WebSocket;
  readonly clientsPerTransport: number;
  /** Run the disconnect-and-resume part. Defaults to true. */
  readonly resume?: boolean;
  /** Which transports the clients use. Defaults to both. */
  readonly transports?: readonly ("sse" | "websocket")[];
  readonly events: number;
  readonly log?: (line: string) => void;
}

const CATEGORIES = ["Order", "Cart", "Secret"] as const;
const TYPES = ["Opened", "Changed", "Closed"] as const;
export const SCENARIO_FILTERS: readonly LiveFilter[] = [
  {},
  { categories: ["Order"] },
  { categories: ["Cart", "Secret"] },
  { types: ["Opened"] },
  { streams: ["Order-0", "Cart-1"] },
  { categories: ["Order"], types: ["Changed", "Closed"] },
];

/** The auth hook the scenario's server uses: `Bearer <user>` or `?token=<user>`; "guest" may not watch Secret. */
export const scenarioToken = (request: Request): string | null =>
  request.headers.get("authorization")?.replace(/^Bearer /, "") ?? new URL(request.url).searchParams.get("token");

async function appendEvents(store: ScenarioStore, count: number): Promise<EventEnvelope[]> {
  const stored: EventEnvelope[] = [];
  let i = 0;
  while (i < count) {
    const size = Math.min(count - i, 1 + (i % 5));
    const streamId = `${CATEGORIES[i % 3]}-${i % 7}`;
    const events = Array.from({ length: size }, (_, k) => ({ type: TYPES[(i + k) % 3] as string, data: { n: i + k } }));
    stored.push(...(await store.appendToStream(streamId, events)).events);
    i += size;
  }
  return stored;
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function sameIds(actual: readonly EventEnvelope[], expected: readonly EventEnvelope[], what: string): void {
  const a = actual.map((e) => e.id).join();
  const b = expected.map((e) => e.id).join();
  if (a !== b) throw new Error(`${what}: got ${actual.length} events, expected ${expected.length} (or another order)`);
}

export async function runLiveScenario(options: ScenarioOptions): Promise<void> {
  const { base, store } = options;
  const log = options.log ?? (() => {});
  const subscribe = (transport: "sse" | "websocket", filter: LiveFilter, from: number) => {
    const events: EventEnvelope[] = [];
    const subscription = subscribeLive({
      url: transport === "sse" ? base : `${base}?token=alice`,
      transport,
      filter,
      from,
      headers: { authorization: "Bearer alice" },
      WebSocket: options.WebSocket,
      backoff: { initialMs: 20, maxMs: 100 },
      onEvent: (event) => void events.push(event),
    });
    return { events, subscription };
  };

  // 1. Fan-out: every client exactly its filtered events, in order.
  const n = options.clientsPerTransport;
  const transports = options.transports ?? (["sse", "websocket"] as const);
  const total = n * transports.length;
  let from = await store.getLastGlobalPosition();
  const clients = Array.from({ length: total }, (_, i) => {
    const filter = SCENARIO_FILTERS[i % SCENARIO_FILTERS.length] as LiveFilter;
    return { filter, ...subscribe(transports[i % transports.length] as "sse" | "websocket", filter, from) };
  });
  const started = Date.now();
  try {
    await until(async () => (await options.connections()) >= total, 20_000, `${total} connections`);
    const appended = await appendEvents(store, options.events);
    for (const [i, client] of clients.entries()) {
      const expected = appended.filter((e) => matchesFilter(client.filter, e));
      await until(() => client.events.length >= expected.length, 60_000, `client ${i}'s events`);
      sameIds(client.events, expected, `client ${i}`);
    }
    log(
      `${options.events} events to ${transports.map((t) => `${n} ${t === "sse" ? "SSE" : "WebSocket"}`).join(" + ")} clients in ${Date.now() - started} ms`,
    );
  } finally {
    await Promise.all(clients.map((client) => client.subscription.close()));
  }

  // 2. Cut off and resume, at several cut points, both transports.
  for (const transport of options.resume === false ? [] : transports) {
    for (const cut of [0, 1, 7, 19]) {
      from = await store.getLastGlobalPosition();
      const filter = SCENARIO_FILTERS[cut % SCENARIO_FILTERS.length] as LiveFilter;
      const before = (await appendEvents(store, 20)).filter((e) => matchesFilter(filter, e));
      const first = subscribe(transport, filter, from);
      await until(
        () => first.events.length >= Math.min(cut, before.length),
        10_000,
        `the first part (cut ${cut}, ${transport}, got ${first.events.length} of ${before.length})`,
      );
      await first.subscription.close();
      const resumeAt = first.events.at(-1)?.globalPosition ?? from;
      const after = (await appendEvents(store, 10)).filter((e) => matchesFilter(filter, e));
      const second = subscribe(transport, filter, resumeAt);
      try {
        const all = [...before, ...after];
        await until(() => first.events.length + second.events.length >= all.length, 10_000, "the resumed part");
        await new Promise((resolve) => setTimeout(resolve, 20));
        sameIds([...first.events, ...second.events], all, `${transport} resumed after cut ${cut}`);
      } finally {
        await second.subscription.close();
      }
    }
  }
  if (options.resume !== false)
    log(`disconnect and resume at ${4 * transports.length} cut points lost and repeated nothing`);

  // 3. Refusals.
  const status = async (path: string, authorization?: string) =>
    (await fetch(`${base}${path}`, { headers: authorization === undefined ? {} : { authorization } })).status;
  const refusals = [
    [await status("/stream"), 401],
    [await status("/stream?category=Secret", "Bearer guest"), 403],
    [await status("/stream?from=x", "Bearer alice"), 400],
  ];
  for (const [got, expected] of refusals) {
    if (got !== expected) throw new Error(`refusal: got ${got}, expected ${expected}`);
  }
  log("401, 403 and 400 answered");
}
