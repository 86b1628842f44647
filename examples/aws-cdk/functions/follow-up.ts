/**
 * The example's saga, kept tiny: 15 minutes after an order is placed, a follow-up is sent (here, a log
 * line). The consumer starts it on `OrderPlaced`; the saga-timer function, invoked every minute by
 * EventBridge Scheduler, fires the due follow-ups. Instances and timeouts live in the event store's
 * table (`DynamoDbSagaStore`), so every function sees the same ones.
 */
import { DynamoDbSagaStore } from "../../../adapters/dynamodb/index.js";
import { CommandBus, defineSaga, SagaRuntime, type SagaStore } from "../../../src/index.js";

type Placed = { type: "OrderPlaced"; data: { orderId: string; sku: string; quantity: number } };

export const FOLLOW_UP_AFTER_MS = 15 * 60_000;

export const followUp = defineSaga<Placed, { sku: string }>({
  name: "OrderFollowUp",
  startedBy: ["OrderPlaced"],
  correlate: (event) => event.data.orderId,
  initialState: { sku: "" },
  on: {
    OrderPlaced: (_state, event, ctx) => {
      ctx.schedule({ after: FOLLOW_UP_AFTER_MS, name: "follow-up" });
      return { sku: event.data.sku };
    },
  },
  onTimeout: {
    "follow-up": (state, _fired, ctx) => {
      ctx.dispatch("SendFollowUp", { orderId: ctx.key, sku: state.sku });
      ctx.complete();
      return state;
    },
  },
});

type FollowUpCommands = { SendFollowUp: { payload: { orderId: string; sku: string }; result: undefined } };

/** The saga's runtime over `store` (by default the table named by EVENTFLOWS_TABLE); `log` receives the follow-ups. */
export function followUpRuntime(
  store: SagaStore,
  log: (line: Record<string, unknown>) => void = (line) => console.log(JSON.stringify(line)),
): SagaRuntime {
  const commands = new CommandBus<FollowUpCommands>();
  commands.register("SendFollowUp", ({ orderId, sku }, message) => {
    // The command id is deterministic (saga, key, step): a real sender deduplicates on it.
    log({ msg: "order follow-up", orderId, sku, commandId: message.id });
    return undefined;
  });
  return new SagaRuntime({ store, commands, sagas: [followUp] });
}

/** The store the deployed functions share: the event store's table. */
export function tableSagaStore(tableName: string): SagaStore {
  return new DynamoDbSagaStore({ tableName });
}
