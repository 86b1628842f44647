/**
 * The order-fulfilment scenario on the in-memory defaults, with a fake clock: four orders, one
 * shipped, one declined, one whose payment never answers (cancelled by the 15-minute timeout), one
 * out of stock. Returns what happened, for `main.ts` to print and `main.test.ts` to check.
 */
import {
  CommandBus,
  type FiredTimeoutReport,
  InMemoryDedupStore,
  InMemoryEventBus,
  InMemoryEventStore,
  InMemorySagaStore,
  type SagaFailureReport,
  SagaRuntime,
  type SagaStore,
} from "../../src/index.js";
import type { FulfilmentCommands, ShopEvent } from "./events.js";
import { type FulfilmentState, fulfilment, PAYMENT_TIMEOUT_MS } from "./saga.js";
import { registerServices, type Services } from "./services.js";

export const START = Date.parse("2026-12-03T09:00:00Z");

export function createFulfilment(clock: { now: number }, sagas: SagaStore = new InMemorySagaStore()) {
  const bus = new InMemoryEventBus();
  const store = new InMemoryEventStore({ bus });
  const commands = new CommandBus<FulfilmentCommands>();
  const services: Services = {
    stock: new Map([["TEA-001", 5]]),
    declined: new Set(["4000-0000-0000-0002"]),
    unanswered: new Set(["4000-0000-0000-3155"]),
    log: [],
  };
  registerServices(commands, store, new InMemoryDedupStore({ now: () => clock.now }), services);
  const failures: SagaFailureReport[] = [];
  const fired: FiredTimeoutReport[] = [];
  const runtime = new SagaRuntime({
    store: sagas,
    commands,
    sagas: [fulfilment],
    now: () => clock.now,
    onError: (failure) => failures.push(failure),
    onTimeoutFired: (report) => fired.push(report),
  });
  // In process, the saga listens on the bus the store publishes to; across processes it would
  // follow the store's feed instead (`runtime.subscribe(store, { checkpoints })`).
  runtime.attach(bus);
  const placeOrder = (data: Extract<ShopEvent, { type: "OrderPlaced" }>["data"]) =>
    store.appendToStream(`Order-${data.orderId}`, [{ type: "OrderPlaced", data }]);
  return { store, sagas, runtime, services, failures, fired, placeOrder };
}

export interface OrderReport {
  readonly orderId: string;
  readonly status: string | undefined;
  readonly stage: FulfilmentState["stage"] | undefined;
  readonly reason: string | undefined;
  /** The order stream's event types, in order. */
  readonly events: readonly string[];
}

export interface DemoReport {
  readonly orders: readonly OrderReport[];
  readonly commands: readonly string[];
  readonly stockLeft: number;
  readonly fired: readonly FiredTimeoutReport[];
  readonly failures: readonly SagaFailureReport[];
  readonly needsAttention: number;
}

/** Runs the scenario; `sagas` is where the saga instances live (in memory by default). */
export async function runDemo(sagas?: SagaStore): Promise<DemoReport> {
  const clock = { now: START };
  const app = createFulfilment(clock, sagas);
  const order = (orderId: string, quantity: number, card: string) =>
    app.placeOrder({ orderId, sku: "TEA-001", quantity, amountCents: 1250 * quantity, card });

  await order("o-1", 2, "4242-4242-4242-4242");
  await order("o-2", 1, "4000-0000-0000-0002");
  await order("o-3", 2, "4000-0000-0000-3155");
  await order("o-4", 10, "4242-4242-4242-4242");
  // Nothing is due yet; then the clock passes the 15 minutes (and a scheduler tick comes 2 s late).
  await app.runtime.tick();
  clock.now = START + PAYMENT_TIMEOUT_MS + 2_000;
  await app.runtime.tick();

  const orders: OrderReport[] = [];
  for (const orderId of ["o-1", "o-2", "o-3", "o-4"]) {
    const record = await app.sagas.load("OrderFulfilment", orderId);
    const state = record?.state as FulfilmentState | undefined;
    const events: string[] = [];
    for await (const event of app.store.readStream(`Order-${orderId}`)) events.push(event.type);
    orders.push({ orderId, status: record?.status, stage: state?.stage, reason: state?.reason, events });
  }
  return {
    orders,
    commands: app.services.log,
    stockLeft: app.services.stock.get("TEA-001") ?? 0,
    fired: app.fired,
    failures: app.failures,
    needsAttention: (await app.runtime.needsAttention()).length,
  };
}

export function formatReport(report: DemoReport): string[] {
  const lines = ["Order fulfilment saga (in memory, fake clock)", ""];
  for (const order of report.orders) {
    lines.push(
      `${order.orderId}: ${order.status} (${order.stage}${order.reason === undefined ? "" : `: ${order.reason}`})`,
      `  events: ${order.events.join(" -> ")}`,
    );
  }
  lines.push("", "commands, in the order they took effect (id = saga/order/step):");
  for (const command of report.commands) lines.push(`  ${command}`);
  for (const fired of report.fired) {
    lines.push("", `timeout ${fired.name} of ${fired.key} fired ${fired.latenessMs} ms late: ${fired.outcome}`);
  }
  lines.push(
    "",
    `stock left of TEA-001: ${report.stockLeft} (5 at the start; 2 shipped)`,
    `failures: ${report.failures.length}, needing attention: ${report.needsAttention}`,
  );
  return lines;
}
