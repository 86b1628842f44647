/**
 * The end-to-end scenario every backend runs, over HTTP against the running shop: stock listed and
 * received, an order paid and confirmed, one declined (the compensation releases its stock), one
 * never answered (the payment timeout fires and compensates), one refused for want of stock; the
 * read models answering; auth refusing; bad input answered with typed 4xx problems.
 */
import { describe, expect, test } from "bun:test";
import { eventually, type RunningApp } from "./e2e-client.js";

export const SCENARIO_ENV = { PAYMENT_TIMEOUT_MS: "1500", SAGA_TIMER_MS: "100" } as const;

export function shopScenario(label: string, shop: () => RunningApp): void {
  const sku = `TEA-${Date.now().toString(36).toUpperCase()}`;
  const admin = "admin-token";
  const ada = "ada-token";
  const order = async (paymentToken: string, quantity = 1) => {
    const placed = await shop().call("/commands/PlaceOrder", { token: ada, body: { sku, quantity, paymentToken } });
    expect(placed.status).toBe(200);
    return placed.body.orderId as string;
  };
  const settled = (orderId: string) =>
    eventually(
      () => shop().call(`/queries/GetOrder?orderId=${orderId}`, { token: ada }),
      (reply) => reply.status === 200 && ["confirmed", "cancelled"].includes(reply.body.status),
    );
  const stock = () => shop().call(`/queries/GetStock?sku=${sku}`, { token: ada });

  describe(`the shop end to end (${label})`, () => {
    test("an admin lists a product and receives stock; the stock read model answers", async () => {
      const listed = await shop().call("/commands/ListProduct", {
        token: admin,
        body: { sku, name: "Sencha", priceCents: 1250 },
      });
      expect(listed.status).toBe(204);
      const received = await shop().call("/commands/ReceiveStock", { token: admin, body: { sku, quantity: 5 } });
      expect(received).toMatchObject({ status: 200, body: { available: 5 } });
      const view = await eventually(stock, (reply) => reply.body?.available === 5);
      expect(view.body).toEqual({ sku, name: "Sencha", priceCents: 1250, available: 5, reserved: 0 });
    });

    test("a paid order is reserved, charged and confirmed", async () => {
      const orderId = await order("tok_visa", 2);
      const view = await settled(orderId);
      expect(view.body).toMatchObject({ orderId, customerId: "ada", status: "confirmed", payment: "captured" });
      expect(view.body.totalCents).toBe(2500);
    });

    test("a declined payment cancels the order and the compensation releases its stock", async () => {
      const orderId = await order("tok_declined");
      const view = await settled(orderId);
      expect(view.body).toMatchObject({ status: "cancelled", payment: "declined", reason: "card declined" });
      const released = await eventually(stock, (reply) => reply.body?.reserved === 2);
      expect(released.body).toMatchObject({ available: 3, reserved: 2 });
    });

    test("a payment that never answers is cancelled when the saga's timeout fires", async () => {
      const started = Date.now();
      const orderId = await order("tok_no_answer");
      const view = await settled(orderId);
      expect(view.body).toMatchObject({ status: "cancelled", reason: "no payment answer in time" });
      expect(view.body.payment).toBeUndefined();
      expect(Date.now() - started).toBeGreaterThanOrEqual(Number(SCENARIO_ENV.PAYMENT_TIMEOUT_MS));
      const released = await eventually(stock, (reply) => reply.body?.reserved === 2);
      expect(released.body).toMatchObject({ available: 3, reserved: 2 });
    });

    test("an order for more than is in stock is cancelled, nothing reserved", async () => {
      const orderId = await order("tok_visa", 4);
      const view = await settled(orderId);
      expect(view.body).toMatchObject({ status: "cancelled", reason: "only 3 in stock" });
    });

    test("the stock read model counts what the sagas did: 2 sold, the rest back on the shelf", async () => {
      const view = await eventually(stock, (reply) => reply.body?.available === 3 && reply.body?.reserved === 2);
      expect(view.body).toMatchObject({ available: 3, reserved: 2 });
    });

    test("auth: no token is 401, a bad token is 401, a customer may not receive stock (403)", async () => {
      const anonymous = await shop().call(`/queries/GetStock?sku=${sku}`);
      expect([anonymous.status, anonymous.body.code]).toEqual([401, "UNAUTHORIZED"]);
      const forged = await shop().call(`/queries/GetStock?sku=${sku}`, { token: "forged" });
      expect([forged.status, forged.body.code]).toEqual([401, "UNAUTHORIZED"]);
      const customer = await shop().call("/commands/ReceiveStock", { token: ada, body: { sku, quantity: 1 } });
      expect([customer.status, customer.body.code]).toEqual([403, "FORBIDDEN"]);
    });

    test("another customer's order is not found for them", async () => {
      const orderId = await order("tok_visa");
      await settled(orderId);
      const bob = await shop().call(`/queries/GetOrder?orderId=${orderId}`, { token: "bob-token" });
      expect([bob.status, bob.body.code]).toEqual([404, "STREAM_NOT_FOUND"]);
    });

    test("bad input is a typed 4xx problem, and nothing is written", async () => {
      const zero = await shop().call("/commands/PlaceOrder", {
        token: ada,
        body: { sku, quantity: 0, paymentToken: "tok_visa" },
      });
      expect(zero).toMatchObject({ status: 400, contentType: "application/problem+json" });
      expect(zero.body).toMatchObject({ code: "VALIDATION_FAILED", issues: [{ path: ["quantity"] }] });
      const unknown = await shop().call("/commands/PlaceOrder", {
        token: ada,
        body: { sku: "NO-SUCH-SKU", quantity: 1, paymentToken: "tok_visa" },
      });
      expect([unknown.status, unknown.body.code, unknown.body.detail]).toEqual([
        400,
        "VALIDATION_FAILED",
        "Invalid order: sku: no product NO-SUCH-SKU",
      ]);
      // A price past what a total can hold exactly (1e300 cents, say) is refused, and no product is listed.
      const huge = await shop().call("/commands/ListProduct", {
        token: admin,
        body: { sku: `${sku}-X`, name: "Gold leaf", priceCents: 1e300 },
      });
      expect([huge.status, huge.body.code, huge.body.issues?.[0]?.path]).toEqual([
        400,
        "VALIDATION_FAILED",
        ["priceCents"],
      ]);
      // U+0000 is refused by the name's schema, so the OpenAPI document refuses it too (schemathesis found
      // the store refusing it after the handler ran, a 400 to a request the document called valid).
      const nul = await shop().call("/commands/ListProduct", {
        token: admin,
        body: { sku: `${sku}-X`, name: "Gold\u0000leaf", priceCents: 100 },
      });
      expect([nul.status, nul.body.code, nul.body.issues]).toEqual([
        400,
        "VALIDATION_FAILED",
        [{ path: ["name"], message: "no U+0000 (NUL): the stores cannot hold it" }],
      ]);
      const unlisted = await shop().call(`/queries/GetStock?sku=${sku}-X`, { token: admin });
      expect(unlisted.status).toBe(404);
      const restock = await shop().call("/commands/ReceiveStock", { token: admin, body: { sku: "NOPE", quantity: 1 } });
      expect([restock.status, restock.body.code]).toEqual([404, "STREAM_NOT_FOUND"]);
      const internal = await shop().call("/commands/ReserveStock", {
        token: admin,
        body: { orderId: "x", sku, quantity: 1 },
      });
      expect([internal.status, internal.body.code]).toEqual([404, "HANDLER_NOT_FOUND"]);
      const unchanged = await stock();
      // 3 on the shelf less the 1 of the previous test's order: the refused requests changed nothing.
      expect(unchanged.body).toMatchObject({ available: 2, reserved: 3 });
    });

    test("the OpenAPI document describes the routes, with the bearer scheme", async () => {
      const document = await shop().call("/openapi.json");
      expect(document.status).toBe(200);
      expect(Object.keys(document.body.paths)).toEqual(
        expect.arrayContaining(["/commands/PlaceOrder", "/queries/GetOrder", "/queries/GetStock"]),
      );
      expect(Object.keys(document.body.paths)).not.toContain("/commands/ReserveStock");
      expect(document.body.components.securitySchemes.bearer).toEqual({ type: "http", scheme: "bearer" });
    });

    test("a PlaceOrder retried with its Idempotency-Key gets the first answer, and places one order", async () => {
      const request = {
        token: ada,
        headers: { "idempotency-key": crypto.randomUUID() },
        body: { sku, quantity: 1, paymentToken: "tok_visa" },
      };
      const first = await shop().call("/commands/PlaceOrder", request);
      const retried = await shop().call("/commands/PlaceOrder", request);
      expect(first.status).toBe(200);
      expect([retried.status, retried.body, retried.headers.get("idempotent-replayed")]).toEqual([
        200,
        first.body,
        "true",
      ]);
      await settled(first.body.orderId);
      // 2 on the shelf before, one order of 1 taken: a second order would have left none.
      const view = await eventually(stock, (reply) => reply.body?.reserved === 4);
      expect(view.body).toMatchObject({ available: 1, reserved: 4 });
    });
  });
}
