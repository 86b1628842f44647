/**
 * The isolation contract itself can fail: a strategy that lets tenants share an event store (the
 * mistake a key prefix or schema name computed wrongly amounts to) fails every case about events,
 * and passes the one about snapshots and checkpoints, which it keeps apart. The tenant's store makes
 * the mistake fail loudly: its probes (a stream's version, its existence, the feed's head) refuse
 * another tenant's stream and feed with a TenantIsolationError, as its reads do.
 */
import { expect, test } from "bun:test";
import { InMemoryCheckpointStore } from "../checkpoint/in-memory-checkpoint-store.js";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { InMemorySnapshotStore } from "../snapshot/in-memory-snapshot-store.js";
import { runContract } from "../testing/contract.js";
import { tenantIsolationContract } from "../testing/tenant-isolation-contract.js";

test("a strategy whose tenants share one event store fails every case about events", async () => {
  const shared = new InMemoryEventStore();
  const suite = tenantIsolationContract({
    name: "shared by mistake",
    forTenant: () => ({
      eventStore: shared,
      snapshotStore: new InMemorySnapshotStore(),
      checkpointStore: new InMemoryCheckpointStore(),
    }),
  });
  const results = await runContract(suite);
  expect(results.length).toBe(suite.cases.length);
  const failed = results.filter((r) => !r.ok).map((r) => r.name);
  expect(failed).toEqual(suite.cases.map((c) => c.name).filter((name) => !name.includes("snapshots")));
  // Loudly: A's probes of B's stream and of the shared feed are refused, as reads are, not answered
  // with B's version, B's stream's existence or B's head.
  const probes = results.find((r) => r.name.includes("probes"));
  expect(probes?.error).toStartWith("TenantIsolationError");
}, 60_000);
