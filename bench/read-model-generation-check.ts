/**
 * A by-hand figure, not a mitata benchmark: what the generation pointer's `ConditionCheck` costs a
 * DynamoDB read-model batch commit. Interleaved A/B on DynamoDB Local, by the same client: the
 * `TransactWriteItems` a batch sent before rebuilds (documents + the checkpoint's conditional put)
 * against the same plus the pointer's `ConditionCheck` (what `DynamoDbReadModelStore` sends now).
 *   bun bench/read-model-generation-check.ts [documents per batch, default 1,10] [rounds, default 20]
 */
import { createDynamoDbClient, DynamoDbEventStore, GENERATION_PARTITION_PREFIX } from "../adapters/dynamodb/index.ts";
import { ulid } from "../src/index.ts";
import { ensureDynamoDb } from "../test/services/dynamodb.ts";

const sizes = (process.argv[2] ?? "1,10").split(",").map(Number);
const rounds = Number(process.argv[3] ?? 20);
const perRound = 25;
const local = await ensureDynamoDb();
const tableName = `gencheck_${ulid()}`;
await new DynamoDbEventStore({ ...local, tableName }).ensureTable();
const client = createDynamoDbClient(local);
const S = (value: string) => ({ S: value });
const N = (value: number) => ({ N: String(value) });

try {
  for (const size of sizes) {
    const positions = { a: 0, b: 0 };
    const batch = (variant: "a" | "b") => {
      const from = positions[variant];
      const to = from + 1;
      positions[variant] = to;
      const items: Record<string, unknown>[] = Array.from({ length: size }, (_, i) => ({
        Put: {
          TableName: tableName,
          Item: {
            pk: S(`\u001feventflows:rm:["bench-${variant}","doc-${i}"]`),
            sk: N(0),
            col: S(`bench-${variant}`),
            doc: S(`{"n":${to}}`),
          },
        },
      }));
      items.push({
        Put: {
          TableName: tableName,
          Item: { pk: S(`\u001feventflows:cp:bench-${variant}-${size}`), sk: N(0), pos: N(to) },
          ConditionExpression: "attribute_not_exists(#pos) OR #pos = :expected",
          ExpressionAttributeNames: { "#pos": "pos" },
          ExpressionAttributeValues: { ":expected": N(from) },
        },
      });
      if (variant === "b") {
        items.push({
          ConditionCheck: {
            TableName: tableName,
            Key: { pk: S(`${GENERATION_PARTITION_PREFIX}bench-b`), sk: N(0) },
            ConditionExpression: "attribute_not_exists(#ns)",
            ExpressionAttributeNames: { "#ns": "ns" },
          },
        });
      }
      return client.send("TransactWriteItems", { TransactItems: items });
    };
    const time = async (variant: "a" | "b") => {
      const started = performance.now();
      for (let i = 0; i < perRound; i++) await batch(variant);
      return (performance.now() - started) / perRound;
    };
    // Warm-up, then rounds in alternating order so that drift in the machine's load hits both alike.
    await time("a");
    await time("b");
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        a.push(await time("a"));
        b.push(await time("b"));
      } else {
        b.push(await time("b"));
        a.push(await time("a"));
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
    const ratios = a.map((x, i) => (b[i] ?? 0) / x);
    console.log(
      `${size} document(s) per batch: without the check ${median(a).toFixed(2)} ms, with it ${median(b).toFixed(2)} ms per commit ` +
        `(median of ${rounds} interleaved rounds of ${perRound}); per-round ratio median ${median(ratios).toFixed(3)}, ` +
        `min ${Math.min(...ratios).toFixed(3)}, max ${Math.max(...ratios).toFixed(3)}`,
    );
  }
} finally {
  await client.send("DeleteTable", { TableName: tableName }).catch(() => undefined);
}
