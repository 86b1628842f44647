import { Database } from "bun:sqlite";
import { afterAll, describe, expect, test } from "bun:test";
import { ErrorCode } from "../../src/index.js";
import { eventEvolutionContract, eventStoreContract, registerContract } from "../../src/testing/index.js";
import {
  bunSqliteDriver,
  DurableObjectEventStore,
  type DurableObjectStubLike,
  handleEventStoreRequest,
  SqliteEventStore,
} from "./index.js";

// The object's side and the client's, joined by a stub that hands each request to the handler in
// this process (in workerd they run in a real Durable Object: test/runtime/suites/sqlite-workerd.ts).
const db = new Database(":memory:");
const served = new SqliteEventStore({ driver: bunSqliteDriver(db) });
await served.migrate();
const stub: DurableObjectStubLike = {
  fetch: (url, init) => handleEventStoreRequest(served, new Request(url, init)),
};
afterAll(() => db.close());

registerContract(
  eventStoreContract({
    name: "DurableObjectEventStore contract (client and handler in process, bun:sqlite behind)",
    create: (options) => new DurableObjectEventStore({ ...options, stub }),
    longStreamLength: 2500,
  }),
  { describe, test },
);

// Clients of one object with and without a registry: the upcasting happens on the client's side.
registerContract(
  eventEvolutionContract({
    name: "DurableObjectEventStore evolution contract (client and handler in process)",
    create: (options) => new DurableObjectEventStore({ ...options, stub }),
  }),
  { describe, test },
);

describe("DurableObjectEventStore", () => {
  test("an object that does not answer is a retryable ServiceError", async () => {
    const down = new DurableObjectEventStore({
      stub: { fetch: () => Promise.reject(new TypeError("Network connection lost.")) },
    });
    await expect(down.appendToStream("S", [{ type: "A", data: 1 }])).rejects.toMatchObject({
      code: ErrorCode.Service,
      serviceCode: "UNAVAILABLE",
      retryable: true,
    });
  });

  test("the handler refuses unknown operations and methods with a ValidationError, and hides other failures", async () => {
    const reply = async (url: string, init?: RequestInit) =>
      (await (await handleEventStoreRequest(served, new Request(url, init))).json()) as {
        ok: boolean;
        error?: { code: string; message: string };
      };
    expect((await reply("https://x/drop", { method: "POST", body: "{}" })).error?.code).toBe(ErrorCode.Validation);
    expect((await reply("https://x/append")).error?.code).toBe(ErrorCode.Validation);
    const broken = await reply("https://x/append", { method: "POST", body: "not json" });
    expect(broken.error).toMatchObject({ code: ErrorCode.Service });
    expect(broken.error?.message).not.toContain("JSON");
  });

  test("bad options are refused", () => {
    expect(() => new DurableObjectEventStore({ stub: {} as never })).toThrow(
      "Invalid Durable Object event store options",
    );
  });
});
