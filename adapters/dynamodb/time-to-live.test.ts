/**
 * Turning TTL on for the dedup and idempotency stores while DynamoDB refuses the change: AWS refuses any
 * UpdateTimeToLive for up to an hour after the previous one (a table whose TTL was just turned off is DISABLING
 * that long), with a ValidationException. DynamoDB Local and moto turn TTL off at once and never refuse so: a
 * fake server on loopback answers as DynamoDB does.
 */
import { expect, test } from "bun:test";
import { withFakeServer } from "../../test/fake-server.ts";
import { DynamoDbIdempotencyStore, TTL_ATTRIBUTE } from "./index.js";

const TYPE = "com.amazonaws.dynamodb.v20120810#";

/** A DynamoDB whose TTL descriptions are `described` in turn (the last one repeated), refusing every update. */
function refusingUpdates(described: readonly object[], refusal: string) {
  const operations: string[] = [];
  const handler = async (request: Request) => {
    const operation = request.headers.get("x-amz-target")?.split(".")[1] ?? "";
    operations.push(operation);
    await request.text();
    if (operation === "UpdateTimeToLive") {
      return Response.json({ __type: `${TYPE}ValidationException`, message: refusal }, { status: 400 });
    }
    const count = operations.filter((o) => o === "DescribeTimeToLive").length;
    return Response.json({ TimeToLiveDescription: described[Math.min(count, described.length) - 1] });
  };
  return { handler, operations };
}

const storeOn = (port: number | undefined) =>
  new DynamoDbIdempotencyStore({
    tableName: "ttl_refused",
    region: "eu-west-1",
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: "AKIDFAKESERVER", secretAccessKey: "fake-server-secret" },
    retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
  });

test("fake server (AWS's DISABLING state, which no emulator has): TTL that DynamoDB refuses to turn on fails ensureTimeToLive with its ValidationException, instead of passing for on", async () => {
  const disabling = { TimeToLiveStatus: "DISABLING", AttributeName: TTL_ATTRIBUTE };
  const fake = refusingUpdates([disabling], "Time to live has been modified multiple times within a fixed interval");
  await withFakeServer(fake.handler, async (server) => {
    const error = await storeOn(server.port)
      .ensureTimeToLive()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(error).toMatchObject({ code: "SERVICE_ERROR", serviceCode: "ValidationException", retryable: false });
  });
  expect(fake.operations).toEqual(["DescribeTimeToLive", "UpdateTimeToLive", "DescribeTimeToLive"]);
});

test("fake server: an update refused because another process turned TTL on meanwhile still succeeds", async () => {
  const fake = refusingUpdates(
    [{ TimeToLiveStatus: "DISABLED" }, { TimeToLiveStatus: "ENABLING", AttributeName: TTL_ATTRIBUTE }],
    "TimeToLive is already enabled",
  );
  await withFakeServer(fake.handler, async (server) => {
    await storeOn(server.port).ensureTimeToLive();
  });
  expect(fake.operations).toEqual(["DescribeTimeToLive", "UpdateTimeToLive", "DescribeTimeToLive"]);
});
