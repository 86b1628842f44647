/** The SQS function through RIE: a batch where one message fails answers with a partial batch failure. */
import { deepStrictEqual } from "node:assert/strict";
import { eventBridgeBody, sqsEvent } from "../events.ts";
import { type CheckContext, resultOf } from "./context.ts";

type BatchResponse = { batchItemFailures: { itemIdentifier: string }[] };

export async function sqsChecks(ctx: CheckContext): Promise<void> {
  const { report, runtime } = ctx;
  await report.check(
    runtime,
    "sqs: a batch with a failing handler and a malformed body reports exactly those two",
    async () => {
      const event = sqsEvent([
        eventBridgeBody("ItemAdded", "Cart-1", { sku: "a" }),
        eventBridgeBody("ItemAdded", "Cart-1", { sku: "b", fail: true }),
        "this is not an EventBridge event",
        eventBridgeBody("ItemAdded", "Cart-2", { sku: "c" }),
      ]);
      const response = resultOf<BatchResponse>(await ctx.fn.invoke(event));
      const ids = event.Records.map((record) => record.messageId as string);
      deepStrictEqual(
        response.batchItemFailures.map((failure) => failure.itemIdentifier).sort(),
        [ids[1], ids[2]].sort(),
      );
    },
  );
  await report.check(runtime, "sqs: a batch that is all handled reports no failures", async () => {
    const event = sqsEvent([eventBridgeBody("ItemAdded", "Cart-3", { sku: "d" })]);
    deepStrictEqual(resultOf<BatchResponse>(await ctx.fn.invoke(event)), { batchItemFailures: [] });
  });
}
