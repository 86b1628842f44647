import { assertKnownOptions, assertObject, ServiceError, ValidationError } from "../../src/index.js";
import { type AwsJsonClient, assertClient, isServiceErrorCode, sleep } from "./client.js";
import { type TableLayout, tableLayout } from "./layout.js";

/**
 * The table an event store needs, as a DynamoDB `CreateTable` input: a string partition key and a
 * numeric sort key, nothing else (no index: the global feed is kept in the table itself). On-demand
 * billing; provisioned capacity works as well.
 */
export function eventStoreTableDefinition(layout: TableLayout): Record<string, unknown> {
  layout = checkedLayout(layout);
  return {
    TableName: layout.tableName,
    AttributeDefinitions: [
      { AttributeName: layout.partitionKey, AttributeType: "S" },
      { AttributeName: layout.sortKey, AttributeType: "N" },
    ],
    KeySchema: [
      { AttributeName: layout.partitionKey, KeyType: "HASH" },
      { AttributeName: layout.sortKey, KeyType: "RANGE" },
    ],
    BillingMode: "PAY_PER_REQUEST",
  };
}

interface TableDescription {
  readonly TableStatus?: string;
  readonly KeySchema?: readonly { AttributeName: string; KeyType: string }[];
  readonly AttributeDefinitions?: readonly { AttributeName: string; AttributeType: string }[];
}

/**
 * The layout's names checked as `tableLayout` checks them (a layout or its options: `{ tableName }`
 * takes the default keys), before any request: a string, null or a misnamed table is a ValidationError.
 */
function checkedLayout(layout: unknown): TableLayout {
  assertObject(layout, "layout", "DynamoDB table layout");
  // Checked whole, as tableLayout checks its options: a misspelt `sortkey` created the table with `sk`.
  // A layout's keyPrefix (its tenant's) is no concern of the table's.
  const { keyPrefix: _keyPrefix, ...options } = layout as TableLayout;
  return tableLayout(options);
}

/**
 * Creates the table unless it exists, and waits until it is active. An existing table must have the
 * event store's key schema.
 * @throws {ValidationError} the table exists with other keys; or, before any request, `client` is not a
 * client, `layout` not a table layout (`tableLayout(...)` or its options), `timeoutMs` not a positive integer.
 */
export async function ensureEventStoreTable(
  client: AwsJsonClient,
  layout: TableLayout,
  timeoutMs = 60_000,
): Promise<"created" | "exists"> {
  assertClient(client, "client");
  layout = checkedLayout(layout);
  if (typeof timeoutMs !== "number" || !Number.isSafeInteger(timeoutMs) || timeoutMs < 1) {
    throw new ValidationError("Invalid table wait", [
      { path: ["timeoutMs"], message: "must be a positive integer (ms)" },
    ]);
  }
  let outcome: "created" | "exists" = "exists";
  let table = await describe(client, layout);
  if (table === undefined) {
    try {
      await client.send("CreateTable", eventStoreTableDefinition(layout));
      outcome = "created";
    } catch (error) {
      // Created concurrently by another process: use it.
      if (!isServiceErrorCode(error, "ResourceInUseException")) throw error;
    }
    table = await describe(client, layout);
  }
  const deadline = Date.now() + timeoutMs;
  while (table?.TableStatus !== "ACTIVE") {
    if (Date.now() > deadline) {
      throw new ServiceError(
        "DynamoDB",
        "DescribeTable",
        "TableNotActive",
        true,
        `table ${layout.tableName} is ${table?.TableStatus ?? "missing"}`,
      );
    }
    await sleep(500);
    table = await describe(client, layout);
  }
  checkSchema(layout, table);
  return outcome;
}

async function describe(client: AwsJsonClient, layout: TableLayout): Promise<TableDescription | undefined> {
  try {
    const result = await client.send<{ Table?: TableDescription }>("DescribeTable", { TableName: layout.tableName });
    return result.Table;
  } catch (error) {
    if (isServiceErrorCode(error, "ResourceNotFoundException")) return undefined;
    throw error;
  }
}

function checkSchema(layout: TableLayout, table: TableDescription): void {
  const key = (type: string) => table.KeySchema?.find((k) => k.KeyType === type)?.AttributeName;
  const typeOf = (name: string | undefined) =>
    table.AttributeDefinitions?.find((a) => a.AttributeName === name)?.AttributeType;
  const hash = key("HASH");
  const range = key("RANGE");
  if (hash === layout.partitionKey && range === layout.sortKey && typeOf(hash) === "S" && typeOf(range) === "N") return;
  throw new ValidationError(`Table ${layout.tableName} does not have the event store's keys`, [
    {
      path: ["tableName"],
      message: `expected ${layout.partitionKey} (S, HASH) and ${layout.sortKey} (N, RANGE), found ${hash ?? "none"} (${typeOf(hash) ?? "?"}, HASH) and ${range ?? "none"} (${typeOf(range) ?? "?"}, RANGE)`,
    },
  ]);
}

/**
 * The wait of a store's `ensureTable(options)`: null or no options are the defaults; options that are no
 * object (from JavaScript) are a ValidationError naming them, before any request.
 */
export function tableWait(options: { readonly timeoutMs?: number } | null | undefined): number | undefined {
  assertObject(options ?? undefined, "options", "ensureTable options", false);
  // A misspelt `timeoutMS` waited the default minute.
  assertKnownOptions(options, ["timeoutMs"], "ensureTable options");
  return options?.timeoutMs;
}
