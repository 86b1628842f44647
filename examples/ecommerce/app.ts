/**
 * The shop, wired: buses and handlers, the checkout saga (fed from the store's global feed, or
 * the backend's queue; its timeouts fired by the timer loop), the two projections, and the HTTP API. `start()` sets the
 * background work going; `fetch` serves requests.
 */
import { CommandBus, QueryBus, SagaRuntime } from "@eventflows/core";
import { bearerAuth, type User } from "./auth.js";
import type { Backend } from "./backends.js";
import { checkoutSaga, DEFAULT_PAYMENT_TIMEOUT_MS } from "./checkout-saga.js";
import type { ShopCommands, ShopQueries } from "./events.js";
import { registerHandlers } from "./handlers.js";
import { shopApi } from "./http.js";
import { fakePaymentProvider, type PaymentProvider } from "./payments.js";
import { ordersProjection, stockProjection } from "./read-models.js";

export interface ShopOptions {
  /** Bearer tokens and who they are. */
  readonly users: Readonly<Record<string, User>>;
  readonly paymentTimeoutMs?: number;
  /** How often the saga timer loop looks for due timeouts; timeouts fire up to this late. */
  readonly timerIntervalMs?: number;
  readonly payments?: PaymentProvider;
}

export interface Shop {
  readonly fetch: (request: Request) => Response | Promise<Response>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function createShop(backend: Backend, options: ShopOptions): Promise<Shop> {
  const { eventStore, readModels, checkpoints } = backend;
  const commands = new CommandBus<ShopCommands>();
  const queries = new QueryBus<ShopQueries>();
  registerHandlers(commands, queries, { eventStore, readModels, payments: options.payments ?? fakePaymentProvider });

  const sagas = new SagaRuntime({
    store: backend.sagaStore,
    commands,
    sagas: [checkoutSaga(options.paymentTimeoutMs ?? DEFAULT_PAYMENT_TIMEOUT_MS)],
  });
  const runners = [backend.runner(ordersProjection), backend.runner(stockProjection)];
  const auth = await bearerAuth(options.users);
  const api = shopApi({ commands, queries, eventStore, auth, idempotency: backend.idempotency });

  let feed: { stop(): Promise<void> } | undefined;
  let timer: { stop(): Promise<void> } | undefined;
  return {
    fetch: (request) => api.fetch(request),
    async start() {
      for (const runner of runners) runner.start();
      // From the saved checkpoint: after a restart the saga picks up where it stopped.
      feed =
        backend.feedSagas?.(sagas) ??
        (await sagas.subscribe(eventStore, { checkpoints, checkpointId: "checkout-saga", pollIntervalMs: 200 }));
      timer = sagas.start({ intervalMs: options.timerIntervalMs ?? 1_000 });
    },
    async stop() {
      await Promise.all([feed?.stop(), timer?.stop(), ...runners.map((runner) => runner.stop())]);
    },
  };
}
