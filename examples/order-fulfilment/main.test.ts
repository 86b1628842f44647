import { describe, expect, test } from "bun:test";
import { ServiceError } from "../../src/index.js";
import { createFulfilment, runDemo, START } from "./demo.js";
import { PAYMENT_TIMEOUT_MS } from "./saga.js";

const report = await runDemo();
const byId = Object.fromEntries(report.orders.map((order) => [order.orderId, order]));

describe("order-fulfilment demo", () => {
  test("a paid order is reserved, charged and shipped, then the saga completes", () => {
    expect(byId["o-1"]).toMatchObject({ status: "completed", stage: "shipped" });
    expect(byId["o-1"]?.events).toEqual(["OrderPlaced", "StockReserved", "PaymentCharged", "OrderShipped"]);
  });

  test("a declined payment cancels the order and releases its reservation, once", () => {
    expect(byId["o-2"]).toMatchObject({ status: "compensated", stage: "cancelled", reason: "card declined" });
    expect(byId["o-2"]?.events.slice(-2)).toEqual(["OrderCancelled", "StockReleased"]);
    expect(report.commands.filter((c) => c.startsWith("ReleaseStock OrderFulfilment/o-2/"))).toHaveLength(1);
  });

  test("a payment that never answers is cancelled by the 15-minute timeout, fired once and late", () => {
    expect(byId["o-3"]).toMatchObject({ status: "compensated", stage: "cancelled" });
    expect(byId["o-3"]?.events).toEqual(["OrderPlaced", "StockReserved", "OrderCancelled", "StockReleased"]);
    expect(report.fired).toEqual([
      expect.objectContaining({ key: "o-3", name: "payment-timeout", latenessMs: 2000, outcome: "completed" }),
    ]);
    const [fired] = report.fired;
    expect((fired?.firedAt ?? 0) - (fired?.dueAt ?? 0)).toBe(2000);
    expect(fired?.dueAt).toBeGreaterThanOrEqual(Date.parse("2026-12-03T09:00:00Z") + PAYMENT_TIMEOUT_MS);
  });

  test("out of stock cancels without reserving; every command has a deterministic id and took effect once", () => {
    expect(byId["o-4"]).toMatchObject({ status: "completed", reason: "out of stock" });
    expect(new Set(report.commands).size).toBe(report.commands.length);
    for (const command of report.commands) expect(command).toMatch(/^\w+ OrderFulfilment\/o-\d\/c?\d+$/);
    expect(report.stockLeft).toBe(3);
    expect(report.failures).toEqual([]);
    expect(report.needsAttention).toBe(0);
  });
});

describe("order-fulfilment services", () => {
  test("a command whose handler failed is done when the saga retries it, not skipped as already handled", async () => {
    const app = createFulfilment({ now: START });
    // The stock service's write fails once, as a database can: the saga's retry must still reserve.
    const append = app.store.appendToStream.bind(app.store);
    let failed = 0;
    app.store.appendToStream = ((streamId, events, options) => {
      if (failed === 0 && events.some((event) => event.type === "StockReserved")) {
        failed += 1;
        return Promise.reject(new ServiceError("Store", "appendToStream", "UNAVAILABLE", true, "try again"));
      }
      return append(streamId, events, options);
    }) as typeof app.store.appendToStream;

    await app.placeOrder({
      orderId: "o-9",
      sku: "TEA-001",
      quantity: 2,
      amountCents: 2500,
      card: "4242-4242-4242-4242",
    });

    const events: string[] = [];
    for await (const event of app.store.readStream("Order-o-9")) events.push(event.type);
    expect(failed).toBe(1);
    expect(events).toEqual(["OrderPlaced", "StockReserved", "PaymentCharged", "OrderShipped"]);
    expect(app.services.stock.get("TEA-001")).toBe(3);
    expect(app.services.log.filter((line) => line.startsWith("ReserveStock "))).toEqual([
      "ReserveStock OrderFulfilment/o-9/1",
    ]);
    expect((await app.sagas.load("OrderFulfilment", "o-9"))?.status).toBe("completed");
    expect(app.failures).toEqual([]);
  });
});
