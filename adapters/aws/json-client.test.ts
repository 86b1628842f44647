import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { ErrorCode, isServiceError, isValidationError, ValidationError } from "../../src/index.js";
import { everythingShown } from "../../test/leaks.ts";
import type { AwsServiceError } from "./errors.js";
import { AwsJsonClient, type AwsJsonClientOptions, type FetchFunction } from "./json-client.js";
import { RetryBudget } from "./retry.js";
import { dynamoDbService, eventBridgeService, sqsService } from "./services.js";

const credentials = { accessKeyId: "AKIDTEST", secretAccessKey: "secret" };
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/x-amz-json-1.0", ...headers } });

/** A fetch answering from a script, one response (or thrown error) per call, recording the requests. */
function scripted(...answers: (Response | Error | (() => Response))[]) {
  const requests: Request[] = [];
  const fetch: FetchFunction = async (request) => {
    requests.push(request);
    const next = answers.shift();
    if (next === undefined) throw new Error("script ran out");
    if (next instanceof Error) throw next;
    return typeof next === "function" ? next() : next;
  };
  return { fetch, requests };
}

const client = (options: AwsJsonClientOptions = {}) =>
  new AwsJsonClient(dynamoDbService, {
    region: "eu-west-1",
    endpoint: "http://127.0.0.1:1",
    credentials,
    retry: { baseDelayMs: 1, maxDelayMs: 2 },
    ...options,
  });

/** What `make` throws, or else what it returns: a construction the case expects to be refused. */
function thrownBy(make: () => unknown): unknown {
  try {
    return make();
  } catch (error) {
    return error;
  }
}

/** A call of a client whose credential provider answers `given`: what it fails with, and the requests it sent. */
async function sentWith(given: unknown): Promise<{ sent: unknown; requests: Request[] }> {
  const { fetch, requests } = scripted(json(200, {}));
  const provided = client({ fetch, credentials: async () => given as never });
  return { sent: await provided.send("ListTables", {}).catch((e: unknown) => e), requests };
}

// Tests of environment fallbacks must not see what the test command exports.
const AWS_VARIABLES = [
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_ENDPOINT_URL",
  "AWS_ENDPOINT_URL_DYNAMODB",
  "AWS_ENDPOINT_URL_EVENTBRIDGE",
  "AWS_ENDPOINT_URL_EVENTS",
  "AWS_ENDPOINT_URL_SQS",
];
let saved: Record<string, string | undefined> = {};
beforeEach(() => {
  saved = Object.fromEntries(AWS_VARIABLES.map((name) => [name, process.env[name]]));
  for (const name of AWS_VARIABLES) delete process.env[name];
});
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

describe("AwsJsonClient configuration", () => {
  test("explicit options win over the env object, which wins over the ambient environment", () => {
    process.env.AWS_REGION = "us-west-2";
    process.env.AWS_ENDPOINT_URL_DYNAMODB = "http://ambient:1";
    const env = { AWS_REGION: "eu-central-1", AWS_ENDPOINT_URL_DYNAMODB: "http://bound:2" };
    const fromEnvObject = new AwsJsonClient(dynamoDbService, { env, credentials });
    expect([fromEnvObject.region, fromEnvObject.endpoint]).toEqual(["eu-central-1", "http://bound:2"]);
    const explicit = new AwsJsonClient(dynamoDbService, {
      env,
      credentials,
      region: "ap-south-1",
      endpoint: "http://x:3",
    });
    expect([explicit.region, explicit.endpoint]).toEqual(["ap-south-1", "http://x:3"]);
    const ambient = new AwsJsonClient(dynamoDbService, { credentials });
    expect([ambient.region, ambient.endpoint]).toEqual(["us-west-2", "http://ambient:1"]);
  });

  test("endpoints: the service variable, then AWS_ENDPOINT_URL, then the public endpoint of the region", () => {
    const env = {
      AWS_REGION: "eu-west-1",
      AWS_ENDPOINT_URL: "http://generic:1",
      AWS_ENDPOINT_URL_EVENTS: "http://ev:2",
    };
    expect(new AwsJsonClient(dynamoDbService, { env, credentials }).endpoint).toBe("http://generic:1");
    expect(new AwsJsonClient(eventBridgeService, { env, credentials }).endpoint).toBe("http://ev:2");
    const plain = { AWS_DEFAULT_REGION: "eu-west-1" };
    expect(new AwsJsonClient(dynamoDbService, { env: plain, credentials }).endpoint).toBe(
      "https://dynamodb.eu-west-1.amazonaws.com",
    );
    expect(new AwsJsonClient(sqsService, { env: plain, credentials }).endpoint).toBe(
      "https://sqs.eu-west-1.amazonaws.com",
    );
    expect(new AwsJsonClient(eventBridgeService, { region: "cn-north-1", credentials }).endpoint).toBe(
      "https://events.cn-north-1.amazonaws.com.cn",
    );
  });

  test("credentials come from the environment, session token included", async () => {
    const { fetch, requests } = scripted(json(200, {}));
    const env = {
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIDENV",
      AWS_SECRET_ACCESS_KEY: "s",
      AWS_SESSION_TOKEN: "token-1",
    };
    await new AwsJsonClient(dynamoDbService, { env, fetch }).send("ListTables", {});
    expect(requests[0]?.headers.get("authorization")).toContain("Credential=AKIDENV/");
    expect(requests[0]?.headers.get("x-amz-security-token")).toBe("token-1");
  });

  test("missing or malformed configuration is a ValidationError before any request", async () => {
    const cases: [AwsJsonClientOptions, string][] = [
      [{ region: "us-east-1" }, "credentials.accessKeyId"],
      [{ region: "us-east-1", credentials: { accessKeyId: "A", secretAccessKey: "" } }, "credentials.secretAccessKey"],
      [{ credentials }, "region"],
      [{ region: "Not A Region", credentials }, "region"],
      [{ region: "us-east-1", credentials, endpoint: "ftp://x" }, "endpoint"],
      [{ region: "us-east-1", credentials, endpoint: "not a url" }, "endpoint"],
      [{ region: "us-east-1", credentials, retry: { maxAttempts: 0 } }, "retry.maxAttempts"],
    ];
    for (const [options, path] of cases) {
      let thrown: unknown;
      try {
        new AwsJsonClient(dynamoDbService, options);
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown)).toBe(true);
      expect((thrown as { issues: { path: string[] }[] }).issues.map((i) => i.path.join("."))).toContain(path);
    }
  });

  test("a credentials provider returning nothing usable fails the call before it is sent", async () => {
    const { fetch, requests } = scripted(json(200, {}));
    const bad = client({ fetch, credentials: async () => ({ accessKeyId: "", secretAccessKey: "x" }) });
    await expect(bad.send("ListTables", {})).rejects.toMatchObject({ code: ErrorCode.Validation });
    expect(requests.length).toBe(0);
  });

  test("property: a credential an HTTP header cannot carry is refused by field before any request, its value never shown", async () => {
    // Outside Latin-1 (an emoji, a Cyrillic look-alike), or NUL, CR or LF: fetch refuses such a header every time.
    const unsendable = fc.constantFrom("\u0100", "\u0410", "\u{1F680}", "\u2028", "\0", "\r", "\n");
    const fields = fc.constantFrom("accessKeyId", "secretAccessKey", "sessionToken");
    await fc.assert(
      fc.asyncProperty(fields, unsendable, fc.stringMatching(/^[A-Z0-9]{4,12}$/), async (field, bad, rest) => {
        const value = `Zq7${rest}${bad}${rest}`;
        const given = { ...credentials, sessionToken: "token", [field]: value };
        const path = `credentials.${field}`;
        const constructed = thrownBy(() => client({ credentials: given }));
        expect(isValidationError(constructed)).toBe(true);
        expect((constructed as ValidationError).issues.map((i) => i.path.join("."))).toEqual([path]);
        expect(everythingShown(constructed)).not.toContain(value);
        // From a provider: refused when it answers, nothing sent and nothing retried.
        const { sent, requests } = await sentWith(given);
        expect(isValidationError(sent)).toBe(true);
        expect((sent as ValidationError).issues.map((i) => i.path.join("."))).toEqual([path]);
        expect(everythingShown(sent)).not.toContain(value);
        expect(requests.length).toBe(0);
      }),
      { numRuns: 60 },
    );
    // Latin-1 past ASCII goes into a header (AWS's own keys are ASCII, and it answers for the rest).
    expect(client({ credentials: { accessKeyId: "AKID\u00ff", secretAccessKey: "s\u00e9" } }).endpoint).toBeString();
    // A session token's edge whitespace (a file's last newline) is trimmed when signed, as before.
    const { fetch, requests } = scripted(json(200, {}));
    await client({ fetch, credentials: { ...credentials, sessionToken: "\ttoken\n" } }).send("ListTables", {});
    expect(requests[0]?.headers.get("x-amz-security-token")).toBe("token");
  });

  test("property: a blank or non-string static credential is refused by field at construction, its value never shown", async () => {
    const blank = fc
      .array(fc.constantFrom(" ", "\t", "\n", "\r", "\u00a0", "\u3000", "\ufeff"), { minLength: 1, maxLength: 6 })
      .map((units) => units.join(""));
    const wrongKind = fc.constantFrom<unknown>(0, 42, true, null, {}, ["AKID"], Symbol("key"));
    const fields = fc.constantFrom("accessKeyId", "secretAccessKey", "sessionToken");
    await fc.assert(
      fc.asyncProperty(fields, fc.oneof(blank, wrongKind), async (field, value) => {
        const given = { ...credentials, sessionToken: "token", [field]: value };
        const constructed = thrownBy(() => client({ credentials: given as never }));
        expect(isValidationError(constructed)).toBe(true);
        expect((constructed as ValidationError).issues.map((i) => i.path.join("."))).toEqual([`credentials.${field}`]);
        // The field's name and what is wrong, in words of the library's own: nothing of the value.
        const why = typeof value === "string" ? `${field} is only whitespace` : `${field} must be a string`;
        expect((constructed as ValidationError).issues.map((i) => i.message)).toEqual([why]);
        // From a provider: refused when it answers, nothing sent.
        const { sent, requests } = await sentWith(given);
        expect(isValidationError(sent)).toBe(true);
        expect((sent as ValidationError).issues.map((i) => i.message)).toEqual([why]);
        expect(requests.length).toBe(0);
      }),
      { numRuns: 80 },
    );
    // An empty session token is none, as an empty AWS_SESSION_TOKEN is: no token header goes out.
    const { fetch, requests } = scripted(json(200, {}));
    await client({ fetch, credentials: { ...credentials, sessionToken: "" } }).send("ListTables", {});
    expect(requests[0]?.headers.has("x-amz-security-token")).toBe(false);
  });

  test("property: a key id or secret with whitespace at an edge (a copied space, a file's last newline) is refused by field before any request, its value never shown", async () => {
    // The key id goes into Authorization as it is, and the secret signs as it is: AWS refused every
    // call (a signature error, or an unknown key id). A session token's HTTP whitespace is trimmed when
    // signed, so only other whitespace at its edges (a no-break space, a byte-order mark) counts.
    const space = fc.constantFrom(" ", "\t", "\n", "\r", "\u00a0", "\u3000", "\ufeff");
    const tokenSpace = fc.constantFrom("\u00a0", "\u3000", "\ufeff");
    const at = fc.constantFrom("start", "end", "both");
    const field = fc.constantFrom("accessKeyId", "secretAccessKey", "sessionToken");
    await fc.assert(
      fc.asyncProperty(
        field,
        space,
        tokenSpace,
        at,
        fc.stringMatching(/^[A-Z0-9]{8,20}$/),
        async (key, ws, tokenWs, where, core) => {
          const edge = key === "sessionToken" ? tokenWs : ws;
          const value = `${where === "end" ? "" : edge}Zq7${core}${where === "start" ? "" : edge}`;
          const given = { ...credentials, sessionToken: "token", [key]: value };
          const why = [`${key} has whitespace at its start or end: remove it`];
          const constructed = thrownBy(() => client({ credentials: given }));
          expect(isValidationError(constructed)).toBe(true);
          expect((constructed as ValidationError).issues.map((i) => i.path.join("."))).toEqual([`credentials.${key}`]);
          expect((constructed as ValidationError).issues.map((i) => i.message)).toEqual(why);
          expect(everythingShown(constructed)).not.toContain(`Zq7${core}`);
          // From a provider: refused when it answers, nothing sent.
          const { sent, requests } = await sentWith(given);
          expect(isValidationError(sent)).toBe(true);
          expect((sent as ValidationError).issues.map((i) => i.message)).toEqual(why);
          expect(everythingShown(sent)).not.toContain(`Zq7${core}`);
          expect(requests.length).toBe(0);
        },
      ),
      { numRuns: 80 },
    );
  });

  test("property: a credentials provider that throws fails the call with a ServiceError keeping none of its secrets, nothing sent", async () => {
    // What a vault, STS or IMDS client throws: the secret in its message, its response body, its request.
    const secret = fc.string({ minLength: 1, maxLength: 30, unit: "binary" }).map((s) => `Zq7${s}`);
    await fc.assert(
      fc.asyncProperty(secret, async (s) => {
        const { fetch, requests } = scripted(json(200, {}));
        const failing = client({
          fetch,
          credentials: async () => {
            throw Object.assign(new Error(`vault refused secret_id=${encodeURIComponent(s)}`), {
              code: "VAULT_403",
              response: { body: `{"client_secret":"${s}"}` },
              request: { headers: { "x-vault-token": s } },
            });
          },
        });
        const error = await failing.send("ListTables", {}).catch((e: unknown) => e);
        expect(isServiceError(error)).toBe(true);
        expect(error).toMatchObject({ serviceCode: "CredentialsProviderFailed", retryable: false, attempts: 1 });
        expect(((error as Error).cause as { code?: unknown }).code).toBe("VAULT_403");
        expect(everythingShown(error)).not.toContain(s);
        expect(requests.length).toBe(0);
      }),
      { numRuns: 50 },
    );
    // The library's own errors (and the application's EventFlows errors) from a provider pass as they are.
    const own = new ValidationError("no role for this tenant");
    const owned = client({
      credentials: () => {
        throw own;
      },
    });
    await expect(owned.send("ListTables", {})).rejects.toBe(own);
  });

  test("sign() wraps a credentials provider that throws as send() does; the library's own errors pass as they are", async () => {
    const secret = "Zq7-vault-token-9f3";
    const failing = client({
      credentials: async () => {
        throw Object.assign(new Error(`vault refused secret_id=${secret}`), {
          code: "VAULT_403",
          request: { headers: { "x-vault-token": secret } },
        });
      },
    });
    const error = await failing.sign("ListTables", {}).catch((e: unknown) => e);
    expect(isServiceError(error)).toBe(true);
    expect(error).toMatchObject({ serviceCode: "CredentialsProviderFailed", retryable: false });
    expect(((error as Error).cause as { code?: unknown }).code).toBe("VAULT_403");
    expect(everythingShown(error)).not.toContain(secret);
    const own = new ValidationError("no role for this tenant");
    const owned = client({
      credentials: () => {
        throw own;
      },
    });
    await expect(owned.sign("ListTables", {})).rejects.toBe(own);
  });

  test("a credentials provider is asked before every request, so rotated keys are used", async () => {
    const { fetch, requests } = scripted(json(200, {}), json(200, {}));
    let n = 0;
    const rotating = client({ fetch, credentials: () => ({ accessKeyId: `AKID${++n}`, secretAccessKey: "s" }) });
    await rotating.send("ListTables", {});
    await rotating.send("ListTables", {});
    expect(requests.map((r) => /Credential=(\w+)\//.exec(r.headers.get("authorization") ?? "")?.[1])).toEqual([
      "AKID1",
      "AKID2",
    ]);
  });
});

describe("AwsJsonClient requests and errors", () => {
  test("speaks the service's JSON protocol: target, content type, body", async () => {
    const { fetch, requests } = scripted(json(200, { Entries: [] }), json(200, {}));
    const events = new AwsJsonClient(eventBridgeService, { region: "eu-west-1", credentials, fetch });
    expect(await events.send("PutEvents", { Entries: [{ Detail: "{}" }] })).toEqual({ Entries: [] });
    const request = requests[0] as Request;
    expect(request.method).toBe("POST");
    expect(request.url).toBe("https://events.eu-west-1.amazonaws.com/");
    expect(request.headers.get("x-amz-target")).toBe("AWSEvents.PutEvents");
    expect(request.headers.get("content-type")).toBe("application/x-amz-json-1.1");
    expect(await request.json()).toEqual({ Entries: [{ Detail: "{}" }] });
    const queue = new AwsJsonClient(sqsService, { region: "eu-west-1", credentials, fetch });
    await queue.send("SendMessage", { QueueUrl: "q", MessageBody: "m" });
    expect(requests[1]?.headers.get("x-amz-target")).toBe("AmazonSQS.SendMessage");
    expect(requests[1]?.headers.get("content-type")).toBe("application/x-amz-json-1.0");
  });

  test("parses __type after '#', message or Message, the request id and cancellation reasons", async () => {
    const cancelled = {
      __type: "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
      Message: "Transaction cancelled",
      CancellationReasons: [
        { Code: "None" },
        { Code: "ConditionalCheckFailed", Message: "The conditional request failed", Item: { pk: { S: "a" } } },
      ],
    };
    const { fetch } = scripted(
      json(400, cancelled, { "x-amzn-requestid": "REQ1" }),
      json(400, { __type: "com.amazonaws.sqs#QueueDoesNotExist", message: "no queue" }),
      new Response("<html>bad gateway</html>", {
        status: 400,
        headers: { "x-amzn-ErrorType": "AccessDeniedException:http://internal" },
      }),
    );
    const c = client({ fetch });
    const error = await c.send("TransactWriteItems", {}).catch((e) => e);
    expect(isServiceError(error)).toBe(true);
    expect(error).toMatchObject({
      service: "DynamoDB",
      operation: "TransactWriteItems",
      serviceCode: "TransactionCanceledException",
      retryable: false,
      status: 400,
      requestId: "REQ1",
      attempts: 1,
    });
    expect(error.cancellationReasons).toEqual([
      { code: "None" },
      { code: "ConditionalCheckFailed", message: "The conditional request failed" },
    ]);
    // The stored item: readable, not enumerable (out of JSON.stringify, as a payload is).
    expect(error.cancellationReasons[1]?.item).toEqual({ pk: { S: "a" } });
    expect(error.message).toContain("Transaction cancelled");
    await expect(c.send("X", {})).rejects.toMatchObject({
      serviceCode: "QueueDoesNotExist",
      message: expect.stringContaining("no queue"),
    });
    await expect(c.send("X", {})).rejects.toMatchObject({ serviceCode: "AccessDeniedException", retryable: false });
  });

  test("property: what an answer puts in the error code, request id or cancellation reasons keeps no credential", async () => {
    // A proxy's or a broken endpoint's answer: a credential where AWS writes a code, a request id, a reason.
    const secret = fc.stringMatching(/^[A-Za-z0-9]{8,24}$/).map((s) => `Zq7${s}`);
    const around = fc.constantFrom(
      (s: string) => `password=${s}`,
      (s: string) => `Bearer ${s}`,
      (s: string) => `token: ${s}`,
      (s: string) => `postgres://app:${s}@db.internal/x`,
    );
    await fc.assert(
      fc.asyncProperty(secret, around, fc.constantFrom("type", "requestId", "reason"), async (s, wrap, where) => {
        const text = wrap(s);
        const body = {
          __type:
            where === "type" ? `com.amazonaws.dynamodb#${text}` : "com.amazonaws.dynamodb#TransactionCanceledException",
          message: "Transaction cancelled",
          CancellationReasons: [
            where === "reason" ? { Code: text, Message: text } : { Code: "ConditionalCheckFailed", Message: "failed" },
          ],
        };
        const headers = { "x-amzn-requestid": where === "requestId" ? text : "REQ-1" };
        const { fetch } = scripted(json(400, body, headers));
        const error = await client({ fetch })
          .send("TransactWriteItems", {})
          .catch((e: unknown) => e);
        expect(isServiceError(error)).toBe(true);
        expect(everythingShown(error)).not.toContain(s);
      }),
      { numRuns: 60 },
    );
    // What has AWS's shape is kept; the stored item a reason returns is read by the stores, not serialized.
    const { fetch } = scripted(
      json(
        400,
        {
          __type: "com.amazonaws.dynamodb#TransactionCanceledException",
          message: "Transaction cancelled",
          CancellationReasons: [
            { Code: "ConditionalCheckFailed", Message: "failed", Item: { card: { S: "4111-kept" } } },
          ],
        },
        { "x-amzn-requestid": "9X0B5BTE6V8L7Q2DUMAKQ0OJ3VVV4KQNSO5AEMVJF66Q9ASUAAJG" },
      ),
    );
    const error = (await client({ fetch })
      .send("TransactWriteItems", {})
      .catch((e: unknown) => e)) as AwsServiceError;
    expect(error).toMatchObject({
      serviceCode: "TransactionCanceledException",
      requestId: "9X0B5BTE6V8L7Q2DUMAKQ0OJ3VVV4KQNSO5AEMVJF66Q9ASUAAJG",
    });
    expect(error.cancellationReasons[0]).toMatchObject({ code: "ConditionalCheckFailed", message: "failed" });
    expect(error.cancellationReasons[0]?.item).toEqual({ card: { S: "4111-kept" } });
    expect(JSON.stringify(error)).not.toContain("4111-kept");
  });

  test("property: a refusal quoting the canonical request (a signature mismatch) keeps no session token or signature", async () => {
    // What AWS answers a request whose signature it recomputed otherwise: the message quotes the canonical
    // request, the session token's header among its lines, right at the start of what the client keeps.
    const token = fc.stringMatching(/^[A-Za-z0-9+/=]{16,120}$/).map((t) => `IQoJ${t}`);
    await fc.assert(
      fc.asyncProperty(token, fc.stringMatching(/^[0-9a-f]{64}$/), async (sessionToken, signature) => {
        const message =
          "The request signature we calculated does not match the signature you provided.\n\n" +
          "The Canonical String for this request should have been\n'POST\n/\n\nhost:dynamodb.eu-west-1.amazonaws.com\n" +
          `x-amz-date:20260101T000000Z\nx-amz-security-token:${sessionToken}\n'\n\n` +
          `Authorization: AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/eu-west-1/dynamodb/aws4_request, Signature=${signature}`;
        const { fetch } = scripted(
          json(400, { __type: "com.amazon.coral.service#InvalidSignatureException", message }),
        );
        const error = await client({ fetch, credentials: { ...credentials, sessionToken } })
          .send("GetItem", {})
          .catch((e: unknown) => e);
        expect(isServiceError(error)).toBe(true);
        expect((error as { serviceCode: string }).serviceCode).toBe("InvalidSignatureException");
        expect((error as Error).message).toContain("The request signature we calculated does not match");
        const shown = everythingShown(error);
        expect(shown).not.toContain(sessionToken.slice(0, 12));
        expect(shown).not.toContain(signature);
      }),
      { numRuns: 50 },
    );
  });
});

describe("AwsJsonClient retries", () => {
  const throttled = () =>
    json(400, { __type: "com.amazonaws.dynamodb.v20120810#ThrottlingException", message: "slow down" });

  test("retries throttling (HTTP 400), 5xx, 429 and network errors, then succeeds", async () => {
    const { fetch, requests } = scripted(
      throttled(),
      json(400, { __type: "ProvisionedThroughputExceededException" }),
      json(400, { __type: "RequestLimitExceeded" }),
      json(500, { __type: "InternalServerError" }),
      new Response("", { status: 503 }),
      new Response("", { status: 429 }),
      new TypeError("fetch failed: connection reset"),
      json(200, { ok: true }),
    );
    expect(await client({ fetch }).send("GetItem", {})).toEqual({ ok: true });
    expect(requests.length).toBe(8);
  });

  test("each attempt is signed again", async () => {
    let time = Date.parse("2024-01-01T00:00:00Z");
    const { fetch, requests } = scripted(throttled(), json(200, {}));
    const clock = () => {
      time += 1000;
      return new Date(time);
    };
    await client({ fetch, clock }).send("GetItem", {});
    expect(requests.map((r) => r.headers.get("x-amz-date"))).toEqual(["20240101T000001Z", "20240101T000002Z"]);
  });

  test("never retries a failed condition, nor a transaction cancelled by one", async () => {
    const { fetch, requests } = scripted(
      json(400, { __type: "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" }),
      json(400, {
        __type: "TransactionCanceledException",
        CancellationReasons: [{ Code: "TransactionConflict" }, { Code: "ConditionalCheckFailed" }],
      }),
      json(400, { __type: "ValidationException", message: "bad" }),
    );
    const c = client({ fetch });
    await expect(c.send("PutItem", {})).rejects.toMatchObject({
      serviceCode: "ConditionalCheckFailedException",
      retryable: false,
    });
    await expect(c.send("TransactWriteItems", {})).rejects.toMatchObject({ retryable: false, attempts: 1 });
    await expect(c.send("PutItem", {})).rejects.toMatchObject({ serviceCode: "ValidationException", attempts: 1 });
    expect(requests.length).toBe(3);
  });

  test("retries a transaction cancelled only by conflicts or throttling", async () => {
    const { fetch, requests } = scripted(
      json(400, {
        __type: "TransactionCanceledException",
        CancellationReasons: [{ Code: "None" }, { Code: "TransactionConflict" }],
      }),
      json(400, { __type: "TransactionCanceledException", CancellationReasons: [{ Code: "ThrottlingError" }] }),
      json(200, {}),
    );
    await client({ fetch }).send("TransactWriteItems", {});
    expect(requests.length).toBe(3);
  });

  test("property: every answer AWS documents as worth retrying is retried with backoff and, still failing, reported retryable with its code (mocked response: DynamoDB Local and moto never throttle, fail or time out a transaction)", async () => {
    // DynamoDB's "OK to retry? Yes" codes: throttling (HTTP 400), a transaction still running under the
    // same token, a write another Region's request holds (multi-Region strong consistency), server
    // failures (HTTP 500/503, with and without a body), and transactions cancelled by conflicts or
    // throttling only.
    const answer = fc.oneof(
      fc
        .constantFrom(
          "ThrottlingException",
          "ProvisionedThroughputExceededException",
          "RequestLimitExceeded",
          "TransactionInProgressException",
          "ReplicatedWriteConflictException",
        )
        .map((code) => ({ status: 400, code, body: { __type: `com.amazonaws.dynamodb.v20120810#${code}` } })),
      fc.constantFrom(
        { status: 500, code: "InternalServerError", body: { __type: "InternalServerError" } },
        { status: 503, code: "ServiceUnavailable", body: { __type: "ServiceUnavailable" } },
        { status: 500, code: "InternalServerError", body: undefined },
        { status: 503, code: "ServiceUnavailable", body: undefined },
      ),
      fc
        .array(fc.constantFrom("None", "ThrottlingError", "TransactionConflict", "ProvisionedThroughputExceeded"), {
          minLength: 1,
          maxLength: 6,
        })
        .filter((codes) => codes.some((code) => code !== "None"))
        .map((codes) => ({
          status: 400,
          code: "TransactionCanceledException",
          body: { __type: "TransactionCanceledException", CancellationReasons: codes.map((Code) => ({ Code })) },
        })),
    );
    await fc.assert(
      fc.asyncProperty(answer, fc.integer({ min: 2, max: 4 }), async ({ status, code, body }, maxAttempts) => {
        const draws: number[] = [];
        const { fetch, requests } = scripted(
          ...Array.from({ length: maxAttempts }, () =>
            body === undefined ? new Response("", { status }) : json(status, body),
          ),
        );
        const c = client({
          fetch,
          retry: {
            maxAttempts,
            baseDelayMs: 1,
            maxDelayMs: 2,
            random: () => {
              draws.push(0);
              return 0;
            },
          },
        });
        const error = await c.send("TransactWriteItems", {}).catch((e) => e);
        expect(isServiceError(error)).toBe(true);
        expect(error).toMatchObject({ serviceCode: code, retryable: true, attempts: maxAttempts, gaveUp: "attempts" });
        expect(requests).toHaveLength(maxAttempts);
        // A backoff drawn before each retry, and each retry paid from the budget.
        expect(draws).toHaveLength(maxAttempts - 1);
        expect(c.retryBudget).toBe(500 - 5 * (maxAttempts - 1));
      }),
      { numRuns: 60 },
    );
  });

  test("stops after maxAttempts with the last failure, saying so", async () => {
    const { fetch, requests } = scripted(throttled(), throttled(), throttled(), throttled());
    const error = await client({ fetch, retry: { maxAttempts: 3, baseDelayMs: 1 } })
      .send("GetItem", {})
      .catch((e) => e);
    expect(error).toMatchObject({
      serviceCode: "ThrottlingException",
      retryable: true,
      attempts: 3,
      gaveUp: "attempts",
    });
    expect(error.message).toContain("after 3 attempts");
    expect(requests.length).toBe(3);
  });

  test("the retry budget stops a hopeless loop: a spent budget means no more retries, successes refill it", async () => {
    const failing: FetchFunction = async () => {
      throw new TypeError("connection refused");
    };
    let healthy = false;
    let calls = 0;
    const fetch: FetchFunction = async (request) => {
      calls++;
      return healthy ? json(200, {}) : failing(request);
    };
    // 25 tokens: two network-error retries (10 each) fit, a third does not.
    const c = client({ fetch, retry: { budget: 25, maxAttempts: 100, baseDelayMs: 1 } });
    const error = await c.send("GetItem", {}).catch((e) => e);
    expect(error).toMatchObject({
      code: ErrorCode.Service,
      serviceCode: "NetworkError",
      gaveUp: "budget",
      attempts: 3,
    });
    expect(error.message).toContain("retry budget");
    expect(calls).toBe(3);
    expect(c.retryBudget).toBe(5);
    // With the budget spent, the next failing call is not retried at all.
    await expect(c.send("GetItem", {})).rejects.toMatchObject({ attempts: 1, gaveUp: "budget" });
    healthy = true;
    await c.send("GetItem", {});
    expect(c.retryBudget).toBe(6);
  });

  test("a connection failure names its code, never the host: Node's wrapped cause and a real unresolvable endpoint", async () => {
    const nodeLike: FetchFunction = async () => {
      throw new TypeError("fetch failed", {
        cause: Object.assign(new Error("getaddrinfo ENOTFOUND secret-db.internal"), {
          code: "ENOTFOUND",
          hostname: "secret-db.internal",
        }),
      });
    };
    const real = new AwsJsonClient(dynamoDbService, {
      region: "eu-west-1",
      endpoint: "http://secret-db.invalid:1",
      credentials,
      retry: { maxAttempts: 1 },
    });
    for (const c of [client({ fetch: nodeLike, retry: { maxAttempts: 1 } }), real]) {
      const error = await c.send("GetItem", {}).catch((e) => e);
      expect(error).toMatchObject({ code: ErrorCode.Service, serviceCode: "NetworkError", retryable: true });
      const told = `${error.message} ${String(error.cause)} ${JSON.stringify(error)} ${JSON.stringify(error.cause)}`;
      expect(told).not.toContain("secret-db");
    }
    const wrapped = await client({ fetch: nodeLike, retry: { maxAttempts: 1 } })
      .send("GetItem", {})
      .catch((e) => e);
    expect(wrapped.message).toContain("(ENOTFOUND)");
    expect(wrapped.cause).toMatchObject({ name: "TypeError", code: "ENOTFOUND" });
  });

  test("a connection the runtime's permissions refuse (Deno without --allow-net) fails at once, not retried, naming no host", async () => {
    for (const name of ["NotCapable", "PermissionDenied"]) {
      const refused = Object.assign(
        new Error('Requires net access to "secret-db.internal:8000", run again with the --allow-net flag'),
        { name },
      );
      const script = scripted(refused, refused, json(200, {}));
      const error = await client({ fetch: script.fetch, retry: { maxAttempts: 3, baseDelayMs: 1 } })
        .send("GetItem", {})
        .catch((e) => e);
      expect(error).toMatchObject({ code: ErrorCode.Service, serviceCode: "NetAccessRefused", retryable: false });
      expect(script.requests).toHaveLength(1);
      const told = `${error.message} ${String(error.cause)} ${JSON.stringify(error)} ${JSON.stringify(error.cause)}`;
      expect(told).toContain("--allow-net");
      expect(told).not.toContain("secret-db");
    }
  });

  test("an attempt without a response times out and is retried", async () => {
    let first = true;
    const fetch: FetchFunction = (request) =>
      first
        ? new Promise((_, reject) => {
            first = false;
            request.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
          })
        : Promise.resolve(json(200, { late: false }));
    expect(await client({ fetch, attemptTimeoutMs: 20 }).send("GetItem", {})).toEqual({ late: false });
  });

  test("a 200 whose body was cut short is a network failure, retried", async () => {
    const { fetch, requests } = scripted(new Response('{"Item":{"pk"', { status: 200 }), json(200, { Item: {} }));
    expect(await client({ fetch }).send("GetItem", {})).toEqual({ Item: {} });
    expect(requests.length).toBe(2);
  });

  test("a 200 whose body is JSON but no object (null, an array, a number, a string: a proxy's, not the service's) is a network failure, retried, never handed to the caller (mocked fetch)", async () => {
    for (const body of ["null", "[]", "[1,2]", "5", '"ok"', "true"]) {
      const { fetch, requests } = scripted(new Response(body, { status: 200 }), json(200, { Item: {} }));
      expect(await client({ fetch }).send("GetItem", {})).toEqual({ Item: {} });
      expect(requests.length).toBe(2);
      const always = () => new Response(body, { status: 200 });
      const error = await client({ fetch: scripted(always, always).fetch, retry: { maxAttempts: 2, baseDelayMs: 1 } })
        .send("GetItem", {})
        .catch((e: unknown) => e);
      expect(isServiceError(error)).toBe(true);
      expect(error).toMatchObject({ retryable: true });
    }
  });

  test("send refuses, before any request, what an untyped caller may pass: an operation that is no name, options or a signal of the wrong kind, a deadline or server wait that is no number, an input that is no JSON", async () => {
    const { fetch, requests } = scripted();
    const calls: [unknown, unknown, unknown, string][] = [
      [5, {}, {}, "operation"],
      ["Get Item\n", {}, {}, "operation"],
      ["GetItem", {}, "fast", "options"],
      ["GetItem", {}, null, "options"],
      ["GetItem", {}, { signal: {} }, "options.signal"],
      ["GetItem", {}, { deadline: "soon" }, "options.deadline"],
      ["GetItem", {}, { deadline: Number.NaN }, "options.deadline"],
      ["GetItem", {}, { serverWaitMs: -5 }, "options.serverWaitMs"],
      ["GetItem", { n: 10n }, {}, "input"],
      ["GetItem", undefined, {}, "input"],
      ["GetItem", [{ TableName: "t" }], {}, "input"],
    ];
    for (const [operation, input, options, path] of calls) {
      const error = await client({ fetch })
        .send(operation as string, input, options as never)
        .catch((e: unknown) => e);
      expect(isValidationError(error)).toBe(true);
      expect((error as Error).message).toContain(`${path}: `);
    }
    expect(requests.length).toBe(0);
  });

  test("property: sign refuses the operation and input send refuses, with the same issues, asking no credentials", async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const badOperation = fc.oneof(
      fc.constantFrom<unknown>(5, undefined, "", "Get Item", "GetItem\r\nX-Evil: 1", "9Lives", `A${"b".repeat(64)}`),
      fc.string().filter((name) => !/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(name)),
    );
    const badInput = fc.constantFrom<unknown>(
      undefined,
      null,
      5,
      "text",
      [1],
      () => 1,
      { n: 10n },
      cyclic,
      new Date(0),
    );
    const asked: number[] = [];
    const { fetch, requests } = scripted();
    const c = client({
      fetch,
      credentials: () => {
        asked.push(1);
        return credentials;
      },
    });
    const refusal = async (call: Promise<unknown>) => {
      const error = await call.catch((e: unknown) => e);
      expect(isValidationError(error)).toBe(true);
      return (error as ValidationError).issues;
    };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.tuple(badOperation, fc.constant<unknown>({})),
          fc.tuple(fc.constant<unknown>("GetItem"), badInput),
          fc.tuple(badOperation, badInput),
        ),
        async ([operation, input]) => {
          const bySend = await refusal(c.send(operation as string, input));
          expect(bySend.length).toBeGreaterThan(0);
          expect(await refusal(c.sign(operation as string, input))).toEqual(bySend);
        },
      ),
    );
    expect(requests.length).toBe(0);
    expect(asked.length).toBe(0);
    // What both take: a name and an object.
    expect((await c.sign("GetItem", { TableName: "t" })).headers.get("x-amz-target")).toBe("DynamoDB_20120810.GetItem");
  });

  test("the caller's abort signal stops the call at once, without retries", async () => {
    const controller = new AbortController();
    const fetch: FetchFunction = async () => {
      controller.abort(new Error("caller gave up"));
      return throttled();
    };
    await expect(client({ fetch }).send("GetItem", {}, { signal: controller.signal })).rejects.toThrow(
      "caller gave up",
    );
  });

  test("backoff is full jitter under a capped exponential ceiling", async () => {
    const delays: number[] = [];
    const original = globalThis.setTimeout;
    const { fetch } = scripted(throttled(), throttled(), throttled(), throttled(), throttled(), json(200, {}));
    const c = client({ fetch, retry: { baseDelayMs: 10, maxDelayMs: 35, random: () => 0.999 } });
    globalThis.setTimeout = ((fn: () => void, ms?: number) => {
      // Backoff sleeps are recorded and skipped; the 10 s attempt timers are left alone.
      if (ms !== undefined && ms < 1000) {
        delays.push(ms);
        return original(fn, 0);
      }
      return original(fn, ms);
    }) as typeof setTimeout;
    try {
      await c.send("GetItem", {});
    } finally {
      globalThis.setTimeout = original;
    }
    expect(delays).toEqual([9, 19, 34, 34, 34]);
  });
});

describe("RetryBudget", () => {
  test("spends, refuses when short, refunds on success up to capacity", () => {
    const budget = new RetryBudget(12);
    expect(budget.spend(5)).toBe(true);
    expect(budget.spend(10)).toBe(false);
    expect(budget.tokens).toBe(7);
    budget.succeeded(5);
    expect(budget.tokens).toBe(12);
    budget.succeeded(0);
    expect(budget.tokens).toBe(12);
  });
});
