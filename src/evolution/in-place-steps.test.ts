import { describe, expect, test } from "bun:test";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { collect } from "../testing/assert.js";
import { eventRegistry } from "./event-registry.js";

// The database stores hand a step freshly parsed JSON; the in-memory store hands out its stored
// events deep-frozen. A step that changes its data in place read on SQLite and failed in memory with
// an UpcastError ("object is not extensible"), on every read path, publishing and subscriptions too.
describe("steps that change their data in place", () => {
  const registry = () =>
    eventRegistry()
      .upcast("Priced", 1, (data: { amount: number; currency?: string }) => {
        data.currency = "EUR";
        return data;
      })
      .rename("Charged", 1, "Priced", 1)
      .split("Bundle", 1, (event) => {
        const data = event.data as { skus: string[]; note?: string };
        data.note = "split";
        return data.skus.map((sku) => ({ type: "Picked", data: { sku } }));
      });

  test("read from the in-memory store as from a database store, and history stays as stored", async () => {
    const store = new InMemoryEventStore({ eventRegistry: registry() });
    await store.appendToStream("Order-1", [
      { type: "Priced", data: { amount: 5 }, metadata: { schemaVersion: 1 } },
      { type: "Charged", data: { amount: 7 }, metadata: { schemaVersion: 1 } },
      { type: "Bundle", data: { skus: ["a", "b"] } },
    ]);
    const expected = [
      ["Priced", { amount: 5, currency: "EUR" }],
      ["Priced", { amount: 7, currency: "EUR" }],
      ["Picked", { sku: "a" }],
      ["Picked", { sku: "b" }],
    ];
    for (let round = 0; round < 2; round++) {
      const read = await collect(store.readStream("Order-1"));
      expect(read.map((e) => [e.type, e.data])).toEqual(expected);
      expect((await collect(store.readAll())).map((e) => [e.type, e.data])).toEqual(expected);
    }
    const raw = await collect(store.readStream("Order-1", { raw: true }));
    expect(raw.map((e) => e.data)).toEqual([{ amount: 5 }, { amount: 7 }, { skus: ["a", "b"] }]);
  });
});
