/**
 * The SQS poller against a queue endpoint that answers with the wrong shape (a proxy's or a broken endpoint's
 * answer, which moto never gives): a fake server on loopback, random port, stopped in one `finally`.
 */
import { expect, test } from "bun:test";
import { isServiceError } from "../../src/index.js";
import { testEnvelope } from "../../src/testing/index.js";
import { everythingShown } from "../../test/leaks.ts";
import { createSqsEventConsumer, envelopeDetail, receiveAndConsume } from "./index.js";

test("fake server: a ReceiveMessage answer of the wrong shape is a retryable MalformedResponse: nothing handled, nothing deleted", async () => {
  const body = JSON.stringify({ source: "test", "detail-type": "A", detail: envelopeDetail(testEnvelope("A", "S-1")) });
  let answer: unknown;
  const actions: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      actions.push(request.headers.get("x-amz-target")?.split(".")[1] ?? "");
      await request.text();
      return Response.json(answer);
    },
  });
  try {
    const handled: string[] = [];
    const consumer = createSqsEventConsumer({
      handlers: (event) => void handled.push(event.type),
      onFailure: () => {},
    });
    // Messages that is no list, a message that is null, one without the receipt handle its deletion needs.
    for (const messages of [{}, [null], [{ MessageId: "m-1", Body: body }]]) {
      answer = { Messages: messages };
      actions.length = 0;
      const error = await receiveAndConsume({
        queueUrl: `http://127.0.0.1:${server.port}/000000000000/q`,
        consumer,
        aws: {
          region: "us-east-1",
          endpoint: `http://127.0.0.1:${server.port}`,
          credentials: { accessKeyId: "AKIDFAKESERVER", secretAccessKey: "fake-server-secret" },
          retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
        },
        waitTimeSeconds: 0,
      }).catch((e: unknown) => e);
      expect({ messages, error }).toMatchObject({ error: { serviceCode: "MalformedResponse", retryable: true } });
      expect(isServiceError(error)).toBe(true);
      expect(everythingShown(error)).not.toContain("fake-server-secret");
      expect(actions).toEqual(["ReceiveMessage", "ReceiveMessage"]);
    }
    expect(handled).toEqual([]);
  } finally {
    server.stop(true);
  }
});
