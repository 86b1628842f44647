/**
 * A tenant's key prefix in a shared table, without a server: the layout carries it, every key an
 * append plans starts with it, the prefixes of two tenants never produce one key, and a layout
 * without a tenant is the layout (and the requests) of before.
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ErrorCode, isTenantId, prepareEvents } from "../../src/index.js";
import { counterUpdate, planAppend } from "./append-plan.js";
import { decodeItem, encodeEvents, eventItem } from "./codec.js";
import { markerItem, tombstoneItem } from "./commit-log.js";
import {
  LOG_PARTITION,
  META_PARTITION,
  partitionValue,
  TENANT_ID,
  TENANT_KEY_SEPARATOR,
  tableLayout,
  tenantKeyPrefix,
} from "./layout.js";

const tenantArb = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,47}$/).filter((t) => t.length <= 48);

/** Every partition key value anywhere in a request body. */
function partitionKeys(body: unknown, partitionKey: string, found: string[] = []): string[] {
  if (Array.isArray(body)) {
    for (const item of body) partitionKeys(item, partitionKey, found);
  } else if (typeof body === "object" && body !== null) {
    for (const [name, value] of Object.entries(body)) {
      const text = (value as { S?: unknown } | undefined)?.S;
      if (name === partitionKey && typeof text === "string") found.push(text);
      else partitionKeys(value, partitionKey, found);
    }
  }
  return found;
}

describe("tenantKeyPrefix and the layout's tenant", () => {
  test("a tenant's prefix is its id and '#'", () => {
    expect(tenantKeyPrefix("acme")).toBe("acme#");
    expect(tableLayout({ tableName: "events", tenant: "acme-eu" }).keyPrefix).toBe("acme-eu#");
  });

  test("without a tenant the layout has no prefix at all, and keys are the bare ids", () => {
    const layout = tableLayout({ tableName: "events" });
    expect(layout).toEqual({ tableName: "events", partitionKey: "pk", sortKey: "sk" });
    expect("keyPrefix" in layout).toBe(false);
    expect(partitionValue(layout, "Order-1")).toBe("Order-1");
  });

  test("the layout's tenant rule is the core's isTenantId, for any string", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), tenantArb, fc.stringMatching(/^[a-z0-9#*-]{0,60}$/)), (value) => {
        expect(TENANT_ID.test(value)).toBe(isTenantId(value));
      }),
      { numRuns: 2_000 },
    );
  });

  test("a value that is no tenant id is refused, naming the field", () => {
    for (const bad of ["", "Acme", "a#b", "a_b", "-a", "a\u001fb", "a*", "x".repeat(49), 7]) {
      try {
        tableLayout({ tableName: "events", tenant: bad as string });
        throw new Error(`accepted ${JSON.stringify(bad)}`);
      } catch (error) {
        expect((error as { code?: string }).code).toBe(ErrorCode.Validation);
        expect((error as { issues?: { path: unknown[] }[] }).issues?.[0]?.path).toEqual(["tenant"]);
      }
      expect(() => tenantKeyPrefix(bad as string)).toThrow("Invalid DynamoDB table layout");
    }
  });

  test("two tenants never produce one partition key, whatever follows their prefixes", () => {
    fc.assert(
      fc.property(tenantArb, tenantArb, fc.string(), fc.string(), (a, b, x, y) => {
        fc.pre(a !== b);
        const keyA = partitionValue(tableLayout({ tableName: "events", tenant: a }), x);
        const keyB = partitionValue(tableLayout({ tableName: "events", tenant: b }), y);
        expect(keyA).not.toBe(keyB);
        // Nor does one tenant's prefix start another's: IAM's `<prefix>*` grants one tenant's keys only.
        expect(keyB.startsWith(tenantKeyPrefix(a))).toBe(false);
      }),
      { numRuns: 2_000 },
    );
    // The shape that breaks naive prefixes: "a" + "-1…" and "a-1" + "…".
    expect(partitionValue(tableLayout({ tableName: "events", tenant: "a" }), "-1#x")).not.toBe(
      partitionValue(tableLayout({ tableName: "events", tenant: "a-1" }), "x"),
    );
    expect(TENANT_KEY_SEPARATOR).toBe("#");
  });

  test("every key an append plans, the feed's counter, markers and tombstones start with the prefix", () => {
    const layout = tableLayout({ tableName: "events", tenant: "acme" });
    const events = prepareEvents(
      [
        { type: "T", data: {} },
        { type: "U", data: {} },
      ],
      undefined,
    );
    const encoded = encodeEvents(layout, "Order-1", events);
    const bodies = [
      planAppend(layout, {
        streamId: "Order-1",
        version: 0,
        commit: undefined,
        encoded: encoded.slice(0, 1),
        token: "t",
        now: 0,
      }).body,
      planAppend(layout, { streamId: "Order-1", version: 3, commit: 7, encoded, token: "t", now: 0 }).body,
      counterUpdate(layout, 4, 5),
      markerItem(layout, 5, "Order-1", 1, 2, "t", 0),
      tombstoneItem(layout, 6, 0),
    ];
    const keys = bodies.flatMap((body) => partitionKeys(body, layout.partitionKey));
    expect(keys.length).toBeGreaterThanOrEqual(8);
    for (const key of keys) expect(key.startsWith("acme#")).toBe(true);
    expect(keys).toContain(`acme#${META_PARTITION}`);
    expect(keys).toContain(`acme#${LOG_PARTITION}`);
    // The marker names the stream as callers know it: the prefix is in its key only.
    expect(JSON.stringify(markerItem(layout, 5, "Order-1", 1, 2, "t", 0))).toContain('"stream":{"S":"Order-1"}');
  });

  test("an event item read back gives the stream id without the prefix, even one that holds '#'", () => {
    fc.assert(
      fc.property(tenantArb, fc.string({ minLength: 1 }), (tenant, streamId) => {
        const layout = tableLayout({ tableName: "events", tenant });
        const [encoded] = encodeEvents(layout, streamId, prepareEvents([{ type: "T", data: 1 }], undefined));
        const item = eventItem(layout, streamId, 1, undefined, encoded as NonNullable<typeof encoded>);
        expect((item[layout.partitionKey] as { S: string }).S).toBe(`${tenant}#${streamId}`);
        expect(decodeItem(layout, item).streamId).toBe(streamId);
      }),
    );
  });

  test("the prefix counts towards an event's item size", () => {
    const plain = tableLayout({ tableName: "events" });
    const tenant = tableLayout({ tableName: "events", tenant: "t".repeat(48) });
    const big = "x".repeat(400 * 1024 - 140);
    const events = prepareEvents([{ type: "T", data: big }], undefined);
    expect(() => encodeEvents(plain, "S", events)).not.toThrow();
    expect(() => encodeEvents(tenant, "S", events)).toThrow("Event 0");
  });
});
