/**
 * A tenant's store is an event store: the plain event-store contract runs on TenantEventStore over
 * the in-memory store (PostgreSQL's run is in adapters/postgres/tenant-event-store.int.test.ts).
 */
import { describe, test } from "bun:test";
import { InMemoryEventStore } from "../event-store/in-memory-event-store.js";
import { registerContract } from "../testing/contract.js";
import { eventStoreContract } from "../testing/event-store-contract.js";
import { TENANT_METADATA_KEY, TenantEventStore } from "./tenant-event-store.js";
import { tenantId } from "./tenant-id.js";

registerContract(
  eventStoreContract({
    name: "TenantEventStore over InMemoryEventStore contract",
    create: (options) => new TenantEventStore(tenantId("acme"), new InMemoryEventStore(options)),
    // It stamps the tenant into every event's metadata, over whatever the caller put there.
    addedMetadataKeys: [TENANT_METADATA_KEY],
  }),
  { describe, test },
);
