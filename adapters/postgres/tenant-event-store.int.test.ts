/**
 * A tenant's store over PostgreSQL is an event store: the plain event-store contract runs on
 * TenantEventStore wrapping PostgresEventStore, the tenant stamped into every event's metadata.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { isTenantIsolationError, TENANT_METADATA_KEY, TenantEventStore, tenantId } from "../../src/index.js";
import { eventStoreContract, holdCommitIn, registerContract } from "../../src/testing/index.js";
import { ensurePostgres, uniqueSchema } from "../../test/services/postgres.ts";
import { createPostgresClient, PostgresEventStore, type PostgresSql } from "./index.js";

const tenant = tenantId("acme");
const schema = uniqueSchema("tenant_contract");
let sql: PostgresSql;

beforeAll(async () => {
  sql = createPostgresClient(await ensurePostgres(), { max: 12 });
  await new PostgresEventStore({ sql, schema }).migrate();
});
afterAll(async () => {
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
});

registerContract(
  eventStoreContract({
    name: "TenantEventStore over PostgresEventStore contract",
    create: (options) => new TenantEventStore(tenant, new PostgresEventStore({ ...options, sql, schema })),
    addedMetadataKeys: [TENANT_METADATA_KEY],
    // A commit held in the wrapped store's transaction: its appends stamped as the tenant's store stamps
    // its own, or the tenant's reads would refuse them (an event naming no tenant) and the cases fail on that.
    holdCommit: async (store) => {
      const inner = (store as TenantEventStore).inner as PostgresEventStore;
      const held = await holdCommitIn((work) => inner.withTransaction(work));
      return {
        ...held,
        append: (streamId, events, options) =>
          held.append(
            streamId,
            events.map((event) => ({ ...event, metadata: { ...event.metadata, [TENANT_METADATA_KEY]: tenant } })),
            options,
          ),
      };
    },
  }),
  { describe, test },
);

test("two tenants given one store by mistake: getHeadPosition refuses the other's head while any older transaction is open", async () => {
  const shared = new PostgresEventStore({ sql, schema });
  const a = new TenantEventStore(tenantId("head-a"), shared);
  const b = new TenantEventStore(tenantId("head-b"), shared);
  await b.appendToStream(`Secret-${crypto.randomUUID()}`, [{ type: "Kept", data: {} }]);
  // Another client's transaction, open with an id, holds the feed's reads below B's next append. The
  // check read the head, then the event there through readAll, found nothing, and let B's head through.
  let release = () => {};
  let opened = () => {};
  const open = new Promise<void>((resolve) => {
    opened = resolve;
  });
  const held = sql.begin(async (tx) => {
    await tx`select txid_current()`;
    opened();
    await new Promise<void>((resolve) => {
      release = resolve;
    });
  });
  try {
    await open;
    const appended = await b.appendToStream(`Secret-${crypto.randomUUID()}`, [{ type: "Kept", data: {} }]);
    expect(await shared.getHeadPosition()).toBe(appended.events[0]?.globalPosition as number);
    const answer = await a.getHeadPosition().catch((error: unknown) => error);
    expect(isTenantIsolationError(answer)).toBe(true);
    expect(await b.getHeadPosition()).toBe(appended.events[0]?.globalPosition as number);
  } finally {
    release();
    await held;
  }
});
