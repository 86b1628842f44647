import { describe, expect, test } from "bun:test";
import { runDemo } from "./demo.js";
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
