/**
 * The IAM lists in iam.ts against the code: every DynamoDB request this folder sends (read from the
 * sources, so a new request fails here until its action is listed) maps to a listed action of the
 * store that sends it, and nothing is listed that no request needs.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ErrorCode } from "../../src/index.js";
import {
  type DynamoDbIamAction,
  type DynamoDbStoreName,
  dynamoDbIamActions,
  dynamoDbRunTimeActions,
  dynamoDbTenantStatement,
} from "./iam.ts";

const here = import.meta.dirname;
const sources = readdirSync(here)
  .filter((name) => name.endsWith(".ts") && !name.endsWith(".test.ts"))
  .map((name) => ({ name, text: readFileSync(join(here, name), "utf8") }));

/** Items of a TransactWriteItems request, and the single-item action that authorises each. */
const TRANSACT_ITEM_ACTIONS: Readonly<Record<string, DynamoDbIamAction>> = {
  Put: "dynamodb:PutItem",
  Update: "dynamodb:UpdateItem",
  Delete: "dynamodb:DeleteItem",
  ConditionCheck: "dynamodb:ConditionCheckItem",
};

/** Operation names of `client.send("Op", …)` / `client.send<T>("Op", …)`, and how many `.send` calls there are. */
function sentOperations(text: string): { operations: string[]; calls: number; seen: number; planned: number } {
  const calls = [...text.matchAll(/\.send\s*[<(]/g)].length;
  const literal = [...text.matchAll(/\.send\s*(?:<[\s\S]*?>)?\(\s*"([A-Za-z]+)"/g)].map((m) => m[1] as string);
  // An append sends what a pure planner chose (`client.send(plan.operation, ...)`); the planner names
  // each operation it may choose as an `operation: "X"` literal, which is where the scan reads them.
  const planned = [...text.matchAll(/\.send\s*(?:<[\s\S]*?>)?\(\s*[A-Za-z]+\.operation\b/g)].length;
  const declared = [...text.matchAll(/\boperation:\s*"([A-Za-z]+)"/g)].map((m) => m[1] as string);
  return { operations: [...literal, ...declared], calls, seen: literal.length + planned, planned };
}

/** The IAM actions a source file's requests need. */
function actionsSentBy(text: string): Set<DynamoDbIamAction> {
  const actions = new Set<DynamoDbIamAction>();
  for (const operation of sentOperations(text).operations) {
    // TransactWriteItems is no IAM action: its items are authorised one by one (below).
    if (operation !== "TransactWriteItems") actions.add(`dynamodb:${operation}`);
  }
  for (const match of text.matchAll(/\b(Put|Update|Delete|ConditionCheck)\s*:\s*\{/g)) {
    actions.add(TRANSACT_ITEM_ACTIONS[match[1] as string] as DynamoDbIamAction);
  }
  return actions;
}

function listed(store: DynamoDbStoreName, only?: (operation: string) => boolean): Set<string> {
  return new Set(
    Object.entries(dynamoDbIamActions[store])
      .filter(([operation]) => only?.(operation) ?? true)
      .flatMap(([, actions]) => actions),
  );
}

/** Which store a file's requests belong to (files not named here are checked against the union). */
const STORE_OF_FILE: Readonly<Record<string, readonly Set<string>[]>> = {
  "event-store.ts": [listed("eventStore")],
  "commit-log.ts": [listed("eventStore", (op) => op !== "ensureTable")],
  "append-plan.ts": [listed("eventStore", (op) => op !== "ensureTable")],
  "stream-deletion.ts": [listed("streamDeletion")],
  "snapshot-store.ts": [listed("snapshotStore")],
  "dedup-store.ts": [listed("dedupStore")],
  "idempotency-store.ts": [listed("idempotencyStore")],
  "keyed-store.ts": [listed("dedupStore"), listed("idempotencyStore")],
  "read-model-store.ts": [listed("readModelStore")],
  "read-model-generations.ts": [listed("readModelStore")],
  "read-model-purge.ts": [listed("readModelStore", (op) => op === "purge")],
  "projection-lock.ts": [listed("projectionLock")],
  "saga-store.ts": [listed("sagaStore")],
  "saga-timeouts.ts": [listed("sagaStore")],
  "subject-key-store.ts": [listed("subjectKeyStore")],
  "table.ts": (Object.keys(dynamoDbIamActions) as DynamoDbStoreName[]).map((store) =>
    listed(store, (op) => op === "ensureTable"),
  ),
};

describe("DynamoDB IAM actions", () => {
  test("the scanner finds operations in single- and multi-line calls, generic or not", () => {
    const found = sentOperations(
      'await c.send("PutItem", {});\nawait c.send<{\n  Items?: Record<string, unknown>[];\n}>(\n  "Query", {});\nc.send(op, {});',
    );
    expect(found).toEqual({ operations: ["PutItem", "Query"], calls: 3, seen: 2, planned: 0 });
    const plan = sentOperations('const p = { operation: "PutItem" };\nawait c.send(plan.operation, p.body);');
    expect(plan).toEqual({ operations: ["PutItem"], calls: 1, seen: 1, planned: 1 });
    expect([
      ...actionsSentBy('c.send("TransactWriteItems", { TransactItems: [{ Put: {} }, { ConditionCheck: {} }] })'),
    ]).toEqual(["dynamodb:PutItem", "dynamodb:ConditionCheckItem"]);
  });

  test("every request names its operation literally (or as a planner's literal), so the scan below sees all of them", () => {
    let total = 0;
    let planned = 0;
    let declared = 0;
    for (const { name, text } of sources) {
      const found = sentOperations(text);
      expect({ name, literal: found.seen }).toEqual({ name, literal: found.calls });
      total += found.calls;
      planned += found.planned;
      if (name === "append-plan.ts") declared = found.operations.length;
    }
    expect(total).toBeGreaterThan(15);
    // The planned append's operations are read from the planner: it must name them.
    if (planned > 0) expect(declared).toBeGreaterThan(0);
  });

  test("each file's requests map to actions listed for its store", () => {
    const all = new Set(Object.values(dynamoDbIamActions).flatMap((store) => Object.values(store).flat()));
    let checked = 0;
    for (const { name, text } of sources) {
      const sent = [...actionsSentBy(text)];
      const stores = STORE_OF_FILE[name] ?? [all];
      for (const allowed of stores) {
        expect({ file: name, unlisted: sent.filter((action) => !allowed.has(action)) }).toEqual({
          file: name,
          unlisted: [],
        });
      }
      checked += sent.length;
    }
    expect(checked).toBeGreaterThan(10);
  });

  test("nothing is listed that no request needs, and TransactWriteItems (no IAM action) is not listed", () => {
    const sent = new Set(sources.flatMap(({ text }) => [...actionsSentBy(text)]));
    const all = new Set(Object.values(dynamoDbIamActions).flatMap((store) => Object.values(store).flat()));
    expect([...all].sort()).toEqual([...sent].sort());
    expect(all.has("dynamodb:TransactWriteItems")).toBe(false);
    expect(all.has("dynamodb:TransactGetItems")).toBe(false);
    // Global-feed reads fetch events with BatchGetItem (commit-log.ts): on real AWS, a role without it is denied.
    expect(dynamoDbIamActions.eventStore.globalFeed).toContain("dynamodb:BatchGetItem");
  });

  test("docs/deployment.md lists the event store's and the saga store's run-time actions exactly as here", () => {
    const page = readFileSync(join(here, "..", "..", "docs", "deployment.md"), "utf8");
    const actionsOf = (start: string) => {
      const row = page.split("\n").find((line) => line.startsWith(start));
      return [...(row ?? "").matchAll(/`(dynamodb:\w+)`/g)].map((m) => m[1]);
    };
    expect(actionsOf("| DynamoDB event store (run time)")).toEqual(dynamoDbRunTimeActions(["eventStore"]));
    // The example's consumer and saga timer keep the saga in the table.
    expect(actionsOf("| DynamoDB saga store (run time")).toEqual(dynamoDbRunTimeActions(["sagaStore"]));
    expect(page).not.toContain("`dynamodb:TransactWriteItems`");
    // The sentence that names each event store operation's actions, "from the same list".
    const sentence = /What each event store operation needs, from the same list: ([^.]*)\./.exec(page)?.[1] ?? "";
    const actionsAfter = (name: string) => {
      const part = sentence.split(";").find((piece) => piece.trimStart().startsWith(name)) ?? "";
      return [...part.matchAll(/`([A-Z]\w+)`/g)].map((m) => `dynamodb:${m[1]}`).sort();
    };
    const listed = dynamoDbIamActions.eventStore;
    expect(actionsAfter("`appendToStream`")).toEqual([...listed.append].sort());
    expect(actionsAfter("`readStream`")).toEqual([...listed.readStream].sort());
    expect(actionsAfter("the global feed")).toEqual([...listed.globalFeed].sort());
  });

  test("dynamoDbRunTimeActions: the sorted union, ensureTable only with setup", () => {
    expect(dynamoDbRunTimeActions(["eventStore"])).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]);
    expect(dynamoDbRunTimeActions(["dedupStore"], { setup: true })).toEqual([
      "dynamodb:CreateTable",
      "dynamodb:DescribeTable",
      "dynamodb:DescribeTimeToLive",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateTimeToLive",
    ]);
    expect(dynamoDbRunTimeActions([])).toEqual([]);
  });
});

describe("dynamoDbTenantStatement: a role limited to one tenant's keys of a shared table", () => {
  const tableArn = "arn:aws:dynamodb:eu-west-1:123456789012:table/events";

  test("the stores' run-time actions on the table, every leading key under the tenant's prefix", () => {
    expect(dynamoDbTenantStatement({ tableArn, tenant: "acme", stores: ["eventStore", "snapshotStore"] })).toEqual({
      Effect: "Allow",
      Action: dynamoDbRunTimeActions(["eventStore", "snapshotStore"]),
      Resource: [tableArn],
      Condition: { "ForAllValues:StringLike": { "dynamodb:LeadingKeys": ["acme#*"] } },
    });
  });

  test("never Scan (a Scan names no key, so the condition would let it read every tenant)", () => {
    const statement = dynamoDbTenantStatement({
      tableArn,
      tenant: "acme",
      stores: ["eventStore", "streamDeletion", "snapshotStore", "readModelStore", "dedupStore", "idempotencyStore"],
    });
    expect(dynamoDbRunTimeActions(["readModelStore"])).toContain("dynamodb:Scan");
    expect(statement.Action).not.toContain("dynamodb:Scan");
    expect(statement.Action).toContain("dynamodb:BatchWriteItem");
    for (const action of statement.Action) expect(action).not.toContain("*");
  });

  test("a policy variable for one role assumed with a session tag per tenant", () => {
    const statement = dynamoDbTenantStatement({
      tableArn,
      tenant: `\${aws:PrincipalTag/tenant}`,
      stores: ["eventStore"],
    });
    expect(statement.Condition["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]).toEqual([
      `\${aws:PrincipalTag/tenant}#*`,
    ]);
  });

  test("a table ARN with a wildcard, no stores, an unknown store or the saga store are refused with a ValidationError, not a TypeError or a statement IAM would refuse or widen", () => {
    const refused = (options: unknown, path: (string | number)[]) =>
      expect(() => dynamoDbTenantStatement(options as never)).toThrow(
        expect.objectContaining({
          code: ErrorCode.Validation,
          issues: expect.arrayContaining([expect.objectContaining({ path })]),
        }),
      );
    refused(null, []);
    for (const arn of [
      "*",
      "arn:aws:dynamodb:eu-west-1:123456789012:table/*",
      "arn:aws:dynamodb:*:*:table/events",
      "",
      5,
    ]) {
      refused({ tableArn: arn, tenant: "acme", stores: ["eventStore"] }, ["tableArn"]);
    }
    refused({ tableArn, tenant: "acme", stores: [] }, ["stores"]);
    refused({ tableArn, tenant: "acme", stores: "eventStore" }, ["stores"]);
    refused({ tableArn, tenant: "acme", stores: ["eventStore", "sagaStore"] }, ["stores", 1]);
    refused({ tableArn, tenant: "acme", stores: ["eventStores"] }, ["stores", 0]);
    refused({ tableArn, tenant: "acme", stores: ["toString"] }, ["stores", 0]);
    // A CDK token stands for the ARN.
    expect(
      dynamoDbTenantStatement({ tableArn: "${Token[TOKEN.42]}", tenant: "acme", stores: ["eventStore"] }).Resource,
    ).toEqual(["${Token[TOKEN.42]}"]);
  });

  test("anything else is refused: a wildcard, another separator, an upper-case id", () => {
    for (const tenant of ["*", "acme*", "a#b", "Acme", "", `\${aws:PrincipalTag/tenant}*`, `\${foo}`]) {
      expect(() => dynamoDbTenantStatement({ tableArn, tenant, stores: ["eventStore"] })).toThrow(
        "Invalid DynamoDB table layout",
      );
    }
  });
});
