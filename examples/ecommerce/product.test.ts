/**
 * The Product aggregate under any sequence of the saga's commands, repeated or out of order: stock
 * is never negative, never created or lost (on the shelf + held = received), and each order is
 * reserved or refused once and released at most once, so a command sent twice takes effect once.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Product } from "./product.js";

type Step = { kind: "receive"; quantity: number } | { kind: "reserve" | "release"; orderId: string; quantity: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant("receive" as const), quantity: fc.integer({ min: 1, max: 20 }) }),
  fc.record({
    kind: fc.constantFrom("reserve" as const, "release" as const),
    orderId: fc.constantFrom("o-1", "o-2", "o-3"),
    quantity: fc.integer({ min: 1, max: 20 }),
  }),
);

describe("Product", () => {
  test("stock is conserved and never negative, whatever the saga sends and however often", () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const product = new Product("TEA-001");
        product.list("Sencha", 1250);
        let received = 0;
        for (const next of steps) {
          if (next.kind === "receive") {
            product.receive(next.quantity);
            received += next.quantity;
          } else if (next.kind === "reserve") product.reserve(next.orderId, next.quantity);
          else product.release(next.orderId);
        }
        const { available, reservations } = product.currentState;
        const held = Object.values(reservations).reduce((sum, quantity) => sum + quantity, 0);
        expect(available).toBeGreaterThanOrEqual(0);
        expect(available + held).toBe(received);
        const reserved = product.uncommittedEvents.filter((event) => event.type === "StockReserved");
        const released = product.uncommittedEvents.filter((event) => event.type === "StockReleased");
        const rejected = product.uncommittedEvents.filter((event) => event.type === "StockReservationRejected");
        // Per order, one decision (reserved or refused) and at most one release: a repeated command changed nothing.
        for (const orderId of ["o-1", "o-2", "o-3"]) {
          const mine = (events: typeof reserved) =>
            events.filter((e) => (e.data as { orderId: string }).orderId === orderId);
          expect(mine(reserved).length + mine(rejected).length).toBeLessThanOrEqual(1);
          expect(mine(reserved).length - mine(released).length).toBe(orderId in reservations ? 1 : 0);
        }
      }),
    );
  });

  test("a ReserveStock sent again after its order was refused, or released, reserves nothing", () => {
    const product = new Product("TEA-001");
    product.list("Sencha", 1250);
    product.reserve("o-1", 2); // nothing on the shelf: refused, and the saga cancels the order
    product.receive(5);
    product.reserve("o-1", 2); // the same command again (a re-drive after a crash)
    product.reserve("o-2", 1);
    product.release("o-2"); // compensated: the saga is done with o-2
    product.reserve("o-2", 1);
    expect(product.uncommittedEvents.map((event) => event.type)).toEqual([
      "ProductListed",
      "StockReservationRejected",
      "StockReceived",
      "StockReserved",
      "StockReleased",
    ]);
    expect(product.currentState).toMatchObject({ available: 5, reservations: {} });
  });

  test("a reservation larger than the shelf is recorded as rejected, with what there was", () => {
    const product = new Product("TEA-001");
    product.list("Sencha", 1250);
    product.receive(3);
    product.reserve("o-1", 4);
    expect(product.uncommittedEvents.at(-1)).toMatchObject({
      type: "StockReservationRejected",
      data: { orderId: "o-1", requested: 4, available: 3 },
    });
    expect(product.currentState.available).toBe(3);
  });
});
