/**
 * A process that handles one saga event on PostgreSQL and is killed (SIGKILL, no cleanup) at one
 * gap of the step: `before-save`, `after-save` (saved, nothing dispatched), `after-dispatch` (the
 * command took effect, its outbox entry not yet marked done). Run by adapters/postgres/saga-crash.int.test.ts.
 *   bun test/sagas/crash-child.ts <pg url> <schema> <gap> <event json>
 */
import postgres from "postgres";
import { PostgresSagaStore, type PostgresSql } from "../../adapters/postgres/index.js";
import { CommandBus, type EventEnvelope, type SagaCommit, SagaRuntime } from "../../src/index.js";
import { orderSaga } from "./order-saga.ts";

const [url, schema, gap, eventJson] = process.argv.slice(2) as [string, string, string, string];
const sql = postgres(url, { max: 2, onnotice: () => undefined }) as unknown as PostgresSql;
const die = (): never => {
  process.kill(process.pid, "SIGKILL");
  throw new Error("unreachable");
};

class DyingStore extends PostgresSagaStore {
  protected override async writeCommit(commit: SagaCommit): Promise<number> {
    if (gap === "before-save") die();
    const version = await super.writeCommit(commit);
    if (gap === "after-save") die();
    return version;
  }
}

/** The command's effect: one row per command id (an idempotent write), and one row per attempt. */
function effectsBus(db: PostgresSql, onEffect: () => void = () => {}) {
  const bus = new CommandBus();
  for (const type of ["ReserveStock", "ReleaseStock", "ChargePayment", "RefundPayment"]) {
    bus.register(type, async (_payload, message) => {
      await db.unsafe(`INSERT INTO ${schema}.attempts (id) VALUES ($1)`, [message.id]);
      await db.unsafe(`INSERT INTO ${schema}.effects (id) VALUES ($1) ON CONFLICT DO NOTHING`, [message.id]);
      onEffect();
      return undefined;
    });
  }
  return bus;
}

const runtime = new SagaRuntime({
  store: new DyingStore({ sql, schema }),
  commands: effectsBus(sql, gap === "after-dispatch" ? die : undefined),
  sagas: [orderSaga],
});
await runtime.handle(JSON.parse(eventJson) as EventEnvelope);
console.error(`crash-child: the gap ${gap} was never reached`);
process.exit(3);
