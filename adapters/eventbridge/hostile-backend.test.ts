/**
 * The SQS poller against a queue endpoint that answers with the wrong shape (a proxy's or a broken endpoint's
 * answer, which moto never gives): a fake server on loopback, random port, stopped in one `finally`.
 */
import { expect, test } from "bun:test";
import { isServiceError } from "../../src/index.js";
import { testEnvelope } from "../../src/testing/index.js";
import { withFakeServer } from "../../test/fake-server.ts";
import { everythingShown } from "../../test/leaks.ts";
import {
  createSqsEventConsumer,
  type DeadLetter,
  EventBridgeEventBus,
  envelopeDetail,
  receiveAndConsume,
} from "./index.js";

/** The AWS options of a client sent to the fake server on `port`: made-up credentials, quick retries. */
/** A fake server's handler that reads the request and answers what `answer()` gives now (each case sets it). */
const answering = (answer: () => unknown) => async (request: Request) => {
  await request.text();
  return Response.json(answer());
};

function fakeAws(port: number | undefined, retry: { maxAttempts: number; baseDelayMs?: number; maxDelayMs?: number }) {
  return {
    region: "us-east-1",
    endpoint: `http://127.0.0.1:${port}`,
    credentials: { accessKeyId: "AKIDFAKESERVER", secretAccessKey: "fake-server-secret" },
    retry,
  };
}

test("fake server: a ReceiveMessage answer of the wrong shape is a retryable MalformedResponse: nothing handled, nothing deleted", async () => {
  const body = JSON.stringify({ source: "test", "detail-type": "A", detail: envelopeDetail(testEnvelope("A", "S-1")) });
  let answer: unknown;
  const actions: string[] = [];
  await withFakeServer(
    async (request) => {
      actions.push(request.headers.get("x-amz-target")?.split(".")[1] ?? "");
      await request.text();
      return Response.json(answer);
    },
    async (server) => {
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
          aws: fakeAws(server.port, { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 }),
          waitTimeSeconds: 0,
        }).catch((e: unknown) => e);
        expect({ messages, error }).toMatchObject({ error: { serviceCode: "MalformedResponse", retryable: true } });
        expect(isServiceError(error)).toBe(true);
        expect(everythingShown(error)).not.toContain("fake-server-secret");
        expect(actions).toEqual(["ReceiveMessage", "ReceiveMessage"]);
      }
      expect(handled).toEqual([]);
    },
  );
});

test("fake server: PutEvents entry results of the wrong kind (a number for EventId or ErrorCode, an object for ErrorMessage) dead-letter the events as a retryable MalformedResponse, none counted delivered", async () => {
  let answer: unknown;
  await withFakeServer(
    answering(() => answer),
    async (server) => {
      for (const entries of [
        [{ EventId: 5 }, { EventId: 6 }],
        [{ ErrorCode: 5, ErrorMessage: "m" }, { EventId: "e-2" }],
        [{ ErrorCode: "InternalFailure", ErrorMessage: { text: "BODYMARKER" } }, { EventId: "e-2" }],
      ]) {
        answer = { FailedEntryCount: 0, Entries: entries };
        const letters: DeadLetter[] = [];
        const bus = new EventBridgeEventBus({
          aws: fakeAws(server.port, { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 2 }),
          deadLetter: (failed) => void letters.push(...failed),
        });
        const result = await bus.publish([testEnvelope("A", "S-1"), testEnvelope("B", "S-2")]);
        expect({ entries, delivered: result.delivered }).toEqual({ entries, delivered: 0 });
        expect(letters.map((l) => [l.errorCode, l.attempts])).toEqual([
          ["MalformedResponse", 1],
          ["MalformedResponse", 1],
        ]);
        expect(result.failures.map((f) => f.error)).toMatchObject([
          { serviceCode: "MalformedResponse", retryable: true },
          { serviceCode: "MalformedResponse", retryable: true },
        ]);
        expect(JSON.stringify(result.failures) + JSON.stringify(letters)).not.toContain("BODYMARKER");
      }
    },
  );
});

test("fake server: a PutEvents entry error whose code is no AWS code (header text with a signature) or whose message runs to 100 KB keeps neither: the code fails the answer as MalformedResponse, the message is cut as a service's is", async () => {
  let answer: unknown;
  await withFakeServer(
    answering(() => answer),
    async (server) => {
      const signature = "Signature=0123456789abcdef0123456789abcdef";
      const publish = async (entry: Record<string, unknown>) => {
        answer = { FailedEntryCount: 1, Entries: [entry] };
        const letters: DeadLetter[] = [];
        const bus = new EventBridgeEventBus({
          aws: fakeAws(server.port, { maxAttempts: 1 }),
          deadLetter: (failed) => void letters.push(...failed),
        });
        const result = await bus.publish([testEnvelope("A", "S-1")]);
        const shown = JSON.stringify(letters) + JSON.stringify(result.failures) + String(result.failures[0]?.error);
        expect(shown).not.toContain(signature);
        expect(shown).not.toContain("BODYMARKER");
        return letters;
      };
      const coded = await publish({ ErrorCode: `Authorization: AWS4-HMAC-SHA256 ${signature}`, ErrorMessage: "m" });
      expect(coded.map((l) => l.errorCode)).toEqual(["MalformedResponse"]);
      const long = await publish({
        ErrorCode: "AccessDeniedException",
        ErrorMessage: `${"y".repeat(100_000)}BODYMARKER`,
      });
      expect(long.map((l) => l.errorCode)).toEqual(["AccessDeniedException"]);
      expect(long[0]?.errorMessage.length).toBeLessThan(500);
    },
  );
});
