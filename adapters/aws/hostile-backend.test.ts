/**
 * The AWS client against answers a load balancer, a proxy or a broken endpoint can give and no emulator gives
 * on demand: fake servers on loopback (random ports, stopped in one `finally`), spoken to over real sockets.
 * Every failure must be a typed AwsServiceError, retryable where another attempt can help, bounded by the
 * client's timeouts, and hold nothing of the answer's body or the credentials.
 */
import { describe, expect, test } from "bun:test";
import { type FakeServer, withFakeServers } from "../../test/fake-server.ts";
import { everythingShown } from "../../test/leaks.ts";
import { AwsServiceError } from "./errors.js";
import { AwsJsonClient, type AwsJsonClientOptions, MAX_ANSWER_BYTES } from "./json-client.js";
import { type AwsJsonService, dynamoDbService, eventBridgeService, sqsService } from "./services.js";

const credentials = { accessKeyId: "AKIDFAKESERVER", secretAccessKey: "fake-server-secret", sessionToken: "TOKENX9" };

/** What must never show in an error: the credentials and the marker every fake body carries. */
const SECRETS = ["fake-server-secret", "TOKENX9", "BODYMARKER"];

const clientOf = (server: FakeServer, options: Partial<AwsJsonClientOptions> = {}, service = dynamoDbService) =>
  new AwsJsonClient(service, {
    region: "eu-west-1",
    endpoint: `http://127.0.0.1:${server.port}`,
    credentials,
    retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    timeoutMs: 5_000,
    attemptTimeoutMs: 2_000,
    ...options,
  });

async function failure(promise: Promise<unknown>): Promise<AwsServiceError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AwsServiceError);
  const shown = everythingShown(error);
  for (const secret of SECRETS) expect(shown).not.toContain(secret);
  return error as AwsServiceError;
}

describe("AwsJsonClient against hostile answers", () => {
  test("fake server: a redirect (301, 302, 307, 308) is not followed: the other host gets nothing, the call fails as the status, not retried", async () => {
    let elsewhere = 0;
    let asked = 0;
    let status = 307;
    await withFakeServers(
      [
        async (request) => {
          elsewhere++;
          await request.text();
          return Response.json({ Item: { pk: { S: "BODYMARKER from elsewhere" } } });
        },
        async (request, [away]) => {
          asked++;
          await request.text();
          return new Response(null, { status, headers: { location: `http://127.0.0.1:${away?.port}/` } });
        },
      ],
      async ([, redirecting]) => {
        for (status of [301, 302, 307, 308]) {
          asked = 0;
          const error = await failure(clientOf(redirecting as FakeServer).send("GetItem", { TableName: "t", Key: {} }));
          expect(error).toMatchObject({ serviceCode: `Http${status}`, status, retryable: false, attempts: 1 });
          expect(asked).toBe(1);
        }
        // Followed, the signed request (its session token, its body) went to the other host, and its answer
        // was taken for DynamoDB's.
        expect(elsewhere).toBe(0);
      },
    );
  });

  test("fake server: a 200 whose fields the library reads are of the wrong kind is retried, then a retryable MalformedResponse, never handed on", async () => {
    const cases: [AwsJsonService, string, unknown][] = [
      [dynamoDbService, "Query", { Items: 5 }],
      [dynamoDbService, "Query", { Items: "BODYMARKER" }],
      [dynamoDbService, "Query", { Items: [null] }],
      [dynamoDbService, "Query", { Items: [], LastEvaluatedKey: "BODYMARKER" }],
      [dynamoDbService, "GetItem", { Item: "BODYMARKER" }],
      [dynamoDbService, "GetItem", { Item: [1, 2] }],
      [dynamoDbService, "UpdateItem", { Attributes: 7 }],
      [dynamoDbService, "BatchGetItem", { Responses: { t: 3 } }],
      [dynamoDbService, "BatchWriteItem", { UnprocessedItems: [] }],
      [dynamoDbService, "DescribeTable", { Table: "BODYMARKER" }],
      [sqsService, "ReceiveMessage", { Messages: {} }],
      [sqsService, "ReceiveMessage", { Messages: [{ MessageId: "m-1", Body: "BODYMARKER" }] }],
      [sqsService, "DeleteMessageBatch", { Failed: 1 }],
      [eventBridgeService, "PutEvents", { Entries: "BODYMARKER" }],
      [eventBridgeService, "PutEvents", { Entries: [5] }],
    ];
    let answer: unknown;
    let asked = 0;
    await withFakeServers(
      [
        async (request) => {
          asked++;
          await request.text();
          return Response.json(answer);
        },
      ],
      async ([server]) => {
        for (const [service, operation, body] of cases) {
          answer = body;
          asked = 0;
          const error = await failure(clientOf(server as FakeServer, {}, service).send(operation, {}));
          expect({ operation, body, error }).toMatchObject({
            error: { serviceCode: "MalformedResponse", retryable: true, attempts: 3, gaveUp: "attempts" },
          });
          expect(asked).toBe(3);
        }
        // The same fields, well formed (or absent), are handed on as they are.
        for (const body of [{}, { Items: [{ pk: { S: "a" } }], LastEvaluatedKey: { pk: { S: "a" } } }, { Item: {} }]) {
          answer = body;
          expect(await clientOf(server as FakeServer).send("Query", {})).toEqual(body);
        }
      },
    );
  });

  test("fake server: a load balancer's HTML 502 or 503 (its Retry-After nonsense) is retried, then thrown retryable by its status, nothing of the page kept", async () => {
    let status = 502;
    let asked = 0;
    await withFakeServers(
      [
        async (request) => {
          asked++;
          await request.text();
          return new Response("<html><body><h1>BODYMARKER Bad Gateway</h1></body></html>", {
            status,
            headers: { "content-type": "text/html", "retry-after": "BODYMARKER soon" },
          });
        },
      ],
      async ([server]) => {
        for (const [given, code] of [
          [502, "InternalServerError"],
          [503, "ServiceUnavailable"],
        ] as const) {
          status = given;
          asked = 0;
          const error = await failure(clientOf(server as FakeServer).send("GetItem", {}));
          expect(error).toMatchObject({ serviceCode: code, status, retryable: true, attempts: 3, gaveUp: "attempts" });
          expect(asked).toBe(3);
        }
      },
    );
  });

  test("fake server: a 400 with an unknown __type and a message of megabytes keeps the code, is not retried, and keeps 300 characters of the message", async () => {
    let asked = 0;
    await withFakeServers(
      [
        async (request) => {
          asked++;
          await request.text();
          const message = `${"m".repeat(3 * 1024 * 1024)}BODYMARKER`;
          return Response.json(
            { __type: "com.amazonaws.dynamodb.v20991231#BrandNewException", message },
            { status: 400 },
          );
        },
      ],
      async ([server]) => {
        const error = await failure(clientOf(server as FakeServer).send("GetItem", {}));
        expect(error).toMatchObject({ serviceCode: "BrandNewException", status: 400, retryable: false, attempts: 1 });
        expect(error.message.length).toBeLessThan(500);
        expect(asked).toBe(1);
      },
    );
  });

  test("fake TCP server: an answer that stalls after its headers times out, and a connection reset mid-body is a NetworkError; both retried, then thrown retryable", async () => {
    let attempts = 0;
    let reset = false;
    const head = "HTTP/1.1 200 OK\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: 4096\r\n\r\n";
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(socket) {
          attempts++;
          // Headers and the start of the body, then nothing more (stall) or a reset.
          socket.write(`${head}{"Item":{"pk":{"S":"BODYMARKER`);
          socket.flush();
          if (reset) setTimeout(() => socket.terminate(), 10);
        },
      },
    });
    try {
      for (reset of [false, true]) {
        attempts = 0;
        const client = clientOf(server as unknown as FakeServer, { attemptTimeoutMs: 200, timeoutMs: 5_000 });
        const error = await failure(client.send("GetItem", {}));
        expect(error).toMatchObject({
          serviceCode: reset ? "NetworkError" : "TimeoutError",
          retryable: true,
          attempts: 3,
          gaveUp: "attempts",
        });
        expect(attempts).toBe(3);
      }
    } finally {
      server.stop(true);
    }
  });
  test("fake server: an answer over the client's 32 MiB cap (declared or streamed) is refused once read past it, not retried; a 5xx's keeps its status; no emulator answers so much", async () => {
    const filler = (bytes: number) => {
      const head = new TextEncoder().encode('{"Item":{"pk":{"S":"BODYMARKER');
      const body = new Uint8Array(bytes).fill(0x78);
      body.set(head);
      body.set(new TextEncoder().encode('"}}}'), bytes - 4);
      return body;
    };
    const over = filler(MAX_ANSWER_BYTES + 1);
    const atCap = filler(MAX_ANSWER_BYTES);
    /** The body in 1 MiB chunks, with no content-length: how much there is shows only as it is read. */
    const streamed = (body: Uint8Array) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (let at = 0; at < body.length; at += 1024 * 1024) controller.enqueue(body.subarray(at, at + 1024 * 1024));
          controller.close();
        },
      });
    let answer: () => Response = () => new Response(over);
    let asked = 0;
    await withFakeServers(
      [
        async (request) => {
          asked++;
          await request.text();
          return answer();
        },
      ],
      async ([server]) => {
        const client = clientOf(server as FakeServer);
        for (const make of [() => new Response(over), () => new Response(streamed(over))]) {
          answer = make;
          asked = 0;
          const error = await failure(client.send("GetItem", { TableName: "t", Key: {} }));
          expect(error).toMatchObject({ serviceCode: "ResponseTooLarge", retryable: false, attempts: 1 });
          expect(error.message).toContain(`${MAX_ANSWER_BYTES} bytes`);
          expect(asked).toBe(1);
        }
        // A 503 whose body is over the cap is still the 503 it says it is: retried, then thrown by its status.
        answer = () => new Response(streamed(over), { status: 503 });
        asked = 0;
        const unavailable = await failure(client.send("GetItem", {}));
        expect(unavailable).toMatchObject({ serviceCode: "ServiceUnavailable", retryable: true, attempts: 3 });
        expect(asked).toBe(3);
        // An answer of exactly the cap is read and handed on.
        answer = () => new Response(streamed(atCap));
        const read = await client.send<{ Item: { pk: { S: string } } }>("GetItem", {});
        expect(read.Item.pk.S.length).toBe(MAX_ANSWER_BYTES - '{"Item":{"pk":{"S":"'.length - '"}}}'.length);
      },
    );
  });
});
