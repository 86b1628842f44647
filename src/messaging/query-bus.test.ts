import { describe, expect, test } from "bun:test";
import { HandlerNotFoundError } from "../errors.js";
import type { Message } from "./message.js";
import { QueryBus } from "./query-bus.js";

type Queries = {
  GetUser: { payload: { id: string }; result: { id: string; name: string } | undefined };
  Failing: { payload: null; result: never };
};

describe("QueryBus", () => {
  test("routes queries to their handler with typed results", async () => {
    const users = new Map([["u1", { id: "u1", name: "Ada" }]]);
    const bus = new QueryBus<Queries>();
    bus.register("GetUser", ({ id }) => users.get(id));
    expect(await bus.execute("GetUser", { id: "u1" })).toEqual({ id: "u1", name: "Ada" });
    expect(await bus.execute("GetUser", { id: "nobody" })).toBeUndefined();
  });

  test("a rejecting handler: the caller gets the error, the error hook gets it with the query", async () => {
    const seen: [unknown, Message][] = [];
    const bus = new QueryBus<Queries>({ onError: (error, message) => seen.push([error, message]) });
    const failure = new Error("read model offline");
    bus.register("Failing", async () => Promise.reject(failure));
    await expect(bus.execute("Failing", null, { metadata: { correlationId: "q-1" } })).rejects.toBe(failure);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.[0]).toBe(failure);
    expect(seen[0]?.[1].kind).toBe("query");
    expect(seen[0]?.[1].type).toBe("Failing");
    expect(seen[0]?.[1].metadata.correlationId).toBe("q-1");
  });

  test("tracks executions per query type", async () => {
    const bus = new QueryBus<Queries>({ timeExecutions: true });
    bus.register("GetUser", () => {
      // Runs across a tick of the clock the bus reads, so the recorded duration cannot be 0.
      for (const started = performance.now(); performance.now() === started; );
      return undefined;
    });
    for (let i = 0; i < 3; i++) await bus.execute("GetUser", { id: String(i) });
    const stats = bus.stats("GetUser");
    expect(stats?.executions).toBe(3);
    expect(stats?.failures).toBe(0);
    expect(stats?.timedExecutions).toBe(3);
    expect(stats?.maxDurationMs).toBeGreaterThan(0);
    expect(stats?.totalDurationMs).toBeGreaterThan(stats?.maxDurationMs ?? 0);
    expect(bus.stats("Failing")).toBeUndefined();
  });

  test("an unknown query is a HandlerNotFoundError naming the query", async () => {
    const bus = new QueryBus<Queries>();
    const error = await bus.execute("GetUser", { id: "x" }).catch((e) => e);
    expect(error).toBeInstanceOf(HandlerNotFoundError);
    expect(error.kind).toBe("query");
    expect(error.message).toBe('No query handler is registered for "GetUser"; no query handlers are registered at all');
  });
});
