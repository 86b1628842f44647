/**
 * A process that handles one saga event on DynamoDB and is killed (SIGKILL, no cleanup) at one gap
 * of the step: `before-save`, `after-save` (saved, nothing dispatched), `after-dispatch` (the command
 * took effect, its outbox entry not yet marked done). Run by adapters/dynamodb/saga-crash.int.test.ts.
 *   bun test/sagas/dynamodb-crash-child.ts <endpoint json> <table> <gap> <event json>
 */
import { createDynamoDbClient, DynamoDbSagaStore } from "../../adapters/dynamodb/index.js";
import { type EventEnvelope, type SagaCommit, SagaRuntime } from "../../src/index.js";
import type { DynamoDbEndpoint } from "../services/dynamodb.ts";
import { dynamoDbEffectsBus } from "./dynamodb-effects.ts";
import { orderSaga } from "./order-saga.ts";

const [endpointJson, tableName, gap, eventJson] = process.argv.slice(2) as [string, string, string, string];
const local = JSON.parse(endpointJson) as DynamoDbEndpoint;
const die = (): never => {
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable");
};

class DyingStore extends DynamoDbSagaStore {
  protected override async writeCommit(commit: SagaCommit): Promise<number> {
    if (gap === "before-save") die();
    const version = await super.writeCommit(commit);
    if (gap === "after-save") die();
    return version;
  }
}

const runtime = new SagaRuntime({
  store: new DyingStore({ ...local, tableName }),
  commands: dynamoDbEffectsBus(createDynamoDbClient(local), tableName, gap === "after-dispatch" ? die : undefined),
  sagas: [orderSaga],
});
await runtime.handle(JSON.parse(eventJson) as EventEnvelope);
console.error(`dynamodb-crash-child: the gap ${gap} was never reached`);
process.exit(3);
