/**
 * The HTTP routes' idempotency keys on a DynamoDB table tenants share, in DynamoDB Local: with
 * `idempotency.store` as a function of the tenant, every request each tenant's client sends names
 * partition keys under that tenant's prefix only (what a `dynamodb:LeadingKeys` condition allows), and
 * two tenants sending the same key at once never see each other's response.
 */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { CommandBus, tenancy, ulid } from "../../src/index.js";
import { useDynamoTable } from "../../test/fixtures/dynamodb-table.ts";
import { createHttpDispatcher } from "../http/index.js";
import { createDynamoDbClient, DynamoDbEventStore, DynamoDbIdempotencyStore, tenantKeyPrefix } from "./index.js";

const table = useDynamoTable("tenant_idem", ({ endpoint, tableName }) =>
  new DynamoDbEventStore({ ...endpoint, tableName }).ensureTable(),
);

type Attribute = { readonly S?: string };
type Keyed = { readonly Key?: Record<string, Attribute>; readonly Item?: Record<string, Attribute> };

/** The partition keys a request names: its key or item, its query's key condition. */
function partitionKeys(body: Keyed & Record<string, unknown>): string[] {
  const keys = [body.Key?.pk?.S, body.Item?.pk?.S];
  const values = body.ExpressionAttributeValues as Record<string, Attribute> | undefined;
  const condition = /=\s*(:\w+)/.exec(String(body.KeyConditionExpression ?? ""));
  if (condition?.[1] !== undefined) keys.push(values?.[condition[1]]?.S ?? "<unreadable>");
  return keys.filter((key): key is string => key !== undefined);
}

type Commands = { Open: { payload: { note: string }; result: { tenant: string; note: string } } };

describe("idempotency keys of each tenant on a shared DynamoDB table", () => {
  test("every key a tenant's store sends is under its prefix, and the same key in two tenants at once never crosses", async () => {
    const sent: Record<string, string[]> = {};
    const tenants = tenancy({
      stores: (tenant: string) => {
        const client = createDynamoDbClient({
          ...table.endpoint,
          fetch: async (request) => {
            const keys = sent[tenant] ?? [];
            sent[tenant] = keys;
            // A Scan names no key: a LeadingKeys condition would let it read every tenant's items.
            if (request.headers.get("x-amz-target")?.endsWith(".Scan")) keys.push("<scan>");
            keys.push(...partitionKeys(JSON.parse(await request.clone().text())));
            return fetch(request);
          },
        });
        return {
          eventStore: new DynamoDbEventStore({ client, tableName: table.tableName, tenant }),
          idempotencyStore: new DynamoDbIdempotencyStore({ client, tableName: table.tableName, tenant }),
        };
      },
      services: ({ tenant, stores }) => {
        const commands = new CommandBus<Commands>();
        commands.register("Open", async ({ note }) => {
          await stores.eventStore.appendToStream(`Doc-${ulid()}`, [{ type: "Opened", data: { note } }]);
          return { tenant, note };
        });
        return { commands };
      },
    });
    const dispatcher = createHttpDispatcher<Commands>({
      commands: { bus: (_c, tenant) => tenant?.services.commands, schemas: { Open: v.object({ note: v.string() }) } },
      auth: ({ request }) => ({ userId: "admin", metadata: { tenant: request.headers.get("authorization") } }),
      tenancy: { tenants, tenantOf: (principal) => principal?.metadata?.tenant as string | undefined },
      idempotency: { store: (tenant) => tenant.stores.idempotencyStore },
    });
    const send = (tenant: string, note: string) =>
      dispatcher.handle(
        new Request("http://x/commands/Open", {
          method: "POST",
          headers: { authorization: tenant, "content-type": "application/json", "idempotency-key": "k-1" },
          body: JSON.stringify({ note }),
        }),
        undefined,
      );
    const first = await Promise.all([send("acme", "same"), send("globex", "same"), send("initech", "other")]);
    const again = await Promise.all([send("acme", "same"), send("globex", "same"), send("initech", "other")]);
    const bodies = await Promise.all([...first, ...again].map((response) => response.json()));
    expect([...first, ...again].map((response) => response.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(bodies.map((body) => (body as { tenant: string }).tenant)).toEqual([
      "acme",
      "globex",
      "initech",
      "acme",
      "globex",
      "initech",
    ]);
    expect(again.map((response) => response.headers.get("idempotent-replayed"))).toEqual(["true", "true", "true"]);
    for (const tenant of ["acme", "globex", "initech"]) {
      const keys = sent[tenant] ?? [];
      expect(keys.some((key) => key.includes("idempotency"))).toBe(true);
      expect(keys.filter((key) => !key.startsWith(tenantKeyPrefix(tenant)))).toEqual([]);
    }
  });
});
