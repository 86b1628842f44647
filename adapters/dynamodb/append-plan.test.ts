/**
 * The append's request, planned without a server: which actions a transaction holds, where its
 * conditions sit, and how a cancellation is read back. (The integration tests send these plans to
 * DynamoDB Local.)
 */
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { prepareEvents } from "../../src/index.js";
import {
  type AppendPlan,
  COUNTER_INDEX,
  cancellationCause,
  checkHead,
  groupActions,
  planAppend,
  planGroup,
} from "./append-plan.js";
import { encodeEvents } from "./codec.js";
import { LOG_PARTITION, MAX_TRANSACTION_ITEMS, META_PARTITION, POSITIONS_PER_COMMIT, tableLayout } from "./layout.js";

const layout = tableLayout({ tableName: "events", partitionKey: "p", sortKey: "s" });
const encoded = (count: number) =>
  encodeEvents(
    layout,
    "Order-1",
    prepareEvents(
      Array.from({ length: count }, (_, i) => ({ type: "T", data: { i } })),
      undefined,
    ),
  );

type Action = Record<string, { Key?: Record<string, unknown>; Item?: Record<string, unknown> } | undefined>;
const actions = (plan: AppendPlan) => (plan.body.TransactItems ?? []) as Action[];
const keyOf = (record: Record<string, unknown> | undefined) => [
  (record?.p as { S?: string } | undefined)?.S,
  Number((record?.s as { N?: string } | undefined)?.N),
];

describe("planAppend", () => {
  test("a single first event without the feed is one conditional PutItem", () => {
    const plan = planAppend(layout, {
      streamId: "Order-1",
      version: 0,
      commit: undefined,
      encoded: encoded(1),
      token: "t",
      now: 0,
    });
    expect(plan.operation).toBe("PutItem");
    expect(keyOf(plan.body.Item as Record<string, unknown>)).toEqual(["Order-1", 1]);
    expect(plan.body.ConditionExpression).toBe("attribute_not_exists(#pk)");
  });

  test("without the feed, one event after a version known to exist is one conditional PutItem of the next version", () => {
    const attempt = { streamId: "Order-1", version: 7, commit: undefined, encoded: encoded(1), token: "t", now: 0 };
    const plan = planAppend(layout, { ...attempt, prevKnown: true });
    expect(plan.operation).toBe("PutItem");
    expect(keyOf(plan.body.Item as Record<string, unknown>)).toEqual(["Order-1", 8]);
    // Not known: the transaction checks that version 7 exists; with the feed, always a transaction.
    expect(planAppend(layout, attempt).operation).toBe("TransactWriteItems");
    expect(planAppend(layout, { ...attempt, commit: 3, prevKnown: true }).operation).toBe("TransactWriteItems");
    expect(planAppend(layout, { ...attempt, encoded: encoded(2), prevKnown: true }).operation).toBe(
      "TransactWriteItems",
    );
  });

  test("every other append is one transaction: marker, previous-version check, events, each where the plan says", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 10_000 }),
        fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined }),
        fc.integer({ min: 1, max: MAX_TRANSACTION_ITEMS - 2 }),
        fc.uuid(),
        (version, commit, count, token) => {
          fc.pre(!(commit === undefined && version === 0 && count === 1));
          const plan = planAppend(layout, {
            streamId: "Order-1",
            version,
            commit,
            encoded: encoded(count),
            token,
            now: 7,
          });
          expect(plan.operation).toBe("TransactWriteItems");
          expect(plan.body.ClientRequestToken).toBe(token);
          const items = actions(plan);
          expect(items.length).toBe(count + (commit === undefined ? 0 : 1) + (version === 0 ? 0 : 1));
          expect(items.length).toBeLessThanOrEqual(MAX_TRANSACTION_ITEMS);
          if (commit === undefined) expect(plan.markerIndex).toBeUndefined();
          else {
            const marker = items[plan.markerIndex as number]?.Put?.Item;
            expect(keyOf(marker)).toEqual([LOG_PARTITION, commit]);
            expect([marker?.first, marker?.count, marker?.token]).toEqual([
              { N: String(version + 1) },
              { N: String(count) },
              { S: token },
            ]);
          }
          if (version === 0) expect(plan.prevIndex).toBeUndefined();
          else {
            const check = items[plan.prevIndex as number]?.ConditionCheck as Record<string, unknown>;
            expect(keyOf(check.Key as Record<string, unknown>)).toEqual(["Order-1", version]);
            // With the feed, the previous event must sit earlier in the feed than this commit.
            expect(check.ExpressionAttributeValues).toEqual(
              commit === undefined ? undefined : { ":gp": { N: String(commit * POSITIONS_PER_COMMIT) } },
            );
          }
          const events = items.slice(plan.firstEventIndex).map((a) => a.Put?.Item);
          expect(events.map(keyOf)).toEqual(Array.from({ length: count }, (_, i) => ["Order-1", version + i + 1]));
          expect(events.map((e) => e?.gp)).toEqual(
            Array.from({ length: count }, (_, i) =>
              commit === undefined ? undefined : { N: String(commit * POSITIONS_PER_COMMIT + i) },
            ),
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("planGroup", () => {
  test("the counter moves from the value the writer saw by the number of members, each member's marker under the next number", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 40 }),
        fc.array(
          fc.record({ version: fc.nat({ max: 1_000 }), count: fc.integer({ min: 1, max: 5 }), known: fc.boolean() }),
          {
            minLength: 1,
            maxLength: 10,
          },
        ),
        (counter, shapes) => {
          const members = shapes.map((shape, i) => ({
            streamId: `Order-${i}`,
            version: shape.version,
            encoded: encoded(shape.count),
            prevKnown: shape.known,
          }));
          const plan = planGroup(layout, { counter, members, token: "t", now: 1 });
          const items = actions(plan as unknown as AppendPlan);
          // Per member: the marker, the version check unless the stream is new or its version known, the events.
          const checked = (s: (typeof shapes)[number]) => s.version > 0 && !s.known;
          const sizes = shapes.map((s) => 1 + (checked(s) ? 1 : 0) + s.count);
          expect(members.map(groupActions)).toEqual(sizes);
          expect(items.length).toBe(1 + sizes.reduce((a, b) => a + b, 0));
          const update = items[COUNTER_INDEX]?.Update as Record<string, unknown>;
          expect(keyOf(update.Key as Record<string, unknown>)).toEqual([META_PARTITION, 0]);
          expect(update.ConditionExpression).toBe(counter === 0 ? "attribute_not_exists(#next)" : "#next = :counter");
          expect(update.ReturnValuesOnConditionCheckFailure).toBe("ALL_OLD");
          expect((update.ExpressionAttributeValues as Record<string, unknown>)[":next"]).toEqual({
            N: String(counter + members.length),
          });
          plan.members.forEach((indexes, i) => {
            const marker = items[indexes.markerIndex as number]?.Put?.Item;
            expect(keyOf(marker)).toEqual([LOG_PARTITION, counter + 1 + i]);
            const events = items.slice(indexes.firstEventIndex, indexes.firstEventIndex + indexes.count);
            expect(events.map((a) => keyOf(a.Put?.Item))).toEqual(
              Array.from({ length: indexes.count }, (_, v) => [`Order-${i}`, (shapes[i]?.version ?? 0) + v + 1]),
            );
            expect(events[0]?.Put?.Item?.gp).toEqual({ N: String((counter + 1 + i) * POSITIONS_PER_COMMIT) });
            const shape = shapes[i] as (typeof shapes)[number];
            if (!checked(shape)) expect(indexes.prevIndex).toBeUndefined();
            else {
              // The counter's condition orders the feed: the check only asks that the version exists
              // and is no deleted stream's first item or fence.
              const check = items[indexes.prevIndex as number]?.ConditionCheck as Record<string, unknown>;
              expect(keyOf(check.Key as Record<string, unknown>)).toEqual([`Order-${i}`, shape.version]);
              expect(check.ConditionExpression).toBe("attribute_exists(#pk) AND attribute_not_exists(#del)");
              expect(check.ExpressionAttributeNames).toEqual({ "#pk": "p", "#del": "del" });
            }
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  test("a cancellation is read per member: one member's taken version is its own", () => {
    const members = [0, 3, 1].map((version, i) => ({ streamId: `S-${i}`, version, encoded: encoded(2) }));
    const plan = planGroup(layout, { counter: 9, members, token: "t", now: 1 });
    const reasons = actions(plan as unknown as AppendPlan).map(() => ({ code: "None" }));
    const second = plan.members[1] as (typeof plan.members)[number];
    reasons[second.firstEventIndex + 1] = { code: "ConditionalCheckFailed" };
    expect(plan.members.map((m) => cancellationCause(m, "TransactionCanceledException", reasons))).toEqual([
      undefined,
      "stream-moved",
      undefined,
    ]);
  });
});

describe("cancellationCause", () => {
  const reason = fc.constantFrom("None", "ConditionalCheckFailed", "TransactionConflict", "ThrottlingError");
  test("a taken version wins, then the previous-version check, then the marker; anything else is no cancellation", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 50 }),
        fc.boolean(),
        fc.integer({ min: 1, max: 20 }),
        fc.array(reason, { minLength: 100, maxLength: 100 }),
        (version, feed, count, codes) => {
          const plan = planAppend(layout, {
            streamId: "Order-1",
            version: version + 1,
            commit: feed ? 5 : undefined,
            encoded: encoded(count),
            token: "t",
            now: 0,
          });
          const reasons = codes.slice(0, actions(plan).length).map((code) => ({ code }));
          const failed = (i: number | undefined) => i !== undefined && reasons[i]?.code === "ConditionalCheckFailed";
          const expected = reasons.slice(plan.firstEventIndex).some((r) => r.code === "ConditionalCheckFailed")
            ? "stream-moved"
            : failed(plan.prevIndex)
              ? "prev-check"
              : failed(plan.markerIndex)
                ? "marker-taken"
                : undefined;
          expect(cancellationCause(plan, "TransactionCanceledException", reasons)).toBe(expected);
          expect(cancellationCause(plan, "ThrottlingException", reasons)).toBeUndefined();
        },
      ),
      { numRuns: 200 },
    );
  });

  test("a failed conditional put means the stream moved", () => {
    const plan = planAppend(layout, {
      streamId: "Order-1",
      version: 0,
      commit: undefined,
      encoded: encoded(1),
      token: "t",
      now: 0,
    });
    expect(cancellationCause(plan, "ConditionalCheckFailedException", [])).toBe("stream-moved");
  });
});

describe("checkHead", () => {
  test("refuses stream-exists on a new stream, and a number older than the stream's last position", () => {
    expect(checkHead("stream-exists", { version: 0, position: undefined }, 3)).toBe("conflict");
    expect(checkHead("stream-exists", { version: 2, position: 250 }, 3)).toBe("write");
    expect(checkHead("any", { version: 2, position: 300 }, 3)).toBe("stale-number");
    expect(checkHead("any", { version: 2, position: 299 }, 3)).toBe("write");
    expect(checkHead("any", { version: 2, position: undefined }, undefined)).toBe("write");
  });
});
