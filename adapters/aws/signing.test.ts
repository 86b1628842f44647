/**
 * Signing correctness: the credential scope of requests for real AWS hostnames, AWS's published
 * SigV4 test vectors, and agreement with the AWS SDK's own signer (`@smithy/signature-v4`, installed
 * with @aws-sdk/client-dynamodb) on the exact requests our client sends, at a fixed time, including
 * endpoints with query strings of any spelling.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Sha256 } from "@smithy/core/checksum";
import { SignatureV4 } from "@smithy/signature-v4";
import { AwsV4Signer } from "aws4fetch";
import fc from "fast-check";
import { AwsJsonClient } from "./json-client.js";
import { type AwsJsonService, dynamoDbService, eventBridgeService, sqsService } from "./services.js";
import { amzDate, SigV4Signer } from "./signing.js";

// The test command points AWS_ENDPOINT_URL_* at local emulators; these tests are about AWS's own hosts.
let saved: [string, string | undefined][] = [];
beforeEach(() => {
  saved = Object.keys(process.env)
    .filter((name) => name.startsWith("AWS_"))
    .map((name) => [name, process.env[name]]);
  for (const [name] of saved) delete process.env[name];
});
afterEach(() => {
  for (const [name, value] of saved) process.env[name] = value;
});

const EXAMPLE = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const AT = new Date("2015-08-30T12:36:00Z");

describe("SigV4 signing", () => {
  // From AWS's SigV4 test suite (aws-sig-v4-test-suite: get-vanilla, post-vanilla), which aws4fetch
  // is also tested against.
  test("matches AWS's published test vectors", async () => {
    for (const [method, signature] of [
      ["GET", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"],
      ["POST", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"],
    ] as const) {
      const signer = new AwsV4Signer({
        method,
        url: "https://example.amazonaws.com/",
        ...EXAMPLE,
        service: "service",
        region: "us-east-1",
        datetime: "20150830T123600Z",
      });
      const { headers } = await signer.sign();
      const expected = `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`;
      expect(headers.get("authorization")).toBe(expected);
      const ours = new SigV4Signer("https://example.amazonaws.com/", "service", "us-east-1");
      expect(ours.sign(method, {}, "", EXAMPLE, "20150830T123600Z").authorization).toBe(expected);
    }
  });

  const cases: [AwsJsonService, string, string, string][] = [
    [dynamoDbService, "eu-west-1", "https://dynamodb.eu-west-1.amazonaws.com/", "PutItem"],
    [dynamoDbService, "us-east-1", "https://dynamodb.us-east-1.amazonaws.com/", "TransactWriteItems"],
    [eventBridgeService, "ap-southeast-2", "https://events.ap-southeast-2.amazonaws.com/", "PutEvents"],
    [sqsService, "eu-central-1", "https://sqs.eu-central-1.amazonaws.com/", "SendMessage"],
  ];

  for (const [service, region, url, operation] of cases) {
    test(`${service.displayName} in ${region}: the credential scope names ${service.signingName} and ${region}`, async () => {
      const client = new AwsJsonClient(service, { region, credentials: EXAMPLE, clock: () => AT });
      const request = await client.sign(operation, { Key: "ünï 🚀", n: 1 });
      expect(request.url).toBe(url);
      expect(request.headers.get("authorization")).toStartWith(
        `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/${region}/${service.signingName}/aws4_request, `,
      );
      expect(request.headers.get("x-amz-date")).toBe("20150830T123600Z");
    });
  }

  test("agrees with the AWS SDK's signer on the requests the client sends, session token included", async () => {
    const credentials = { ...EXAMPLE, sessionToken: "FQoGZXIvYXdzE//session+token==" };
    for (const [service, region, , operation] of cases) {
      const client = new AwsJsonClient(service, { region, credentials, clock: () => AT });
      const input = { TableName: "events", Item: { data: { S: 'quotes " and ünïcødé 流 🚀' } } };
      const ours = await client.sign(operation, input);
      expect(ours.headers.get("authorization")).toBe(await sdkAuthorization(ours, service, region, credentials, {}));
    }
  });

  test("an endpoint with '+' in its query string is signed as the AWS SDK signs it (a plus sign, sent as %2B)", async () => {
    const endpoint = "https://dynamodb.eu-west-1.amazonaws.com/?tag=a+b&x=1%2B2&y=c%20d";
    const client = new AwsJsonClient(dynamoDbService, {
      region: "eu-west-1",
      credentials: EXAMPLE,
      endpoint,
      clock: () => AT,
    });
    const ours = await client.sign("PutItem", { TableName: "events" });
    expect(new URL(ours.url).search).toBe("?tag=a%2Bb&x=1%2B2&y=c%20d");
    expect(ours.headers.get("authorization")).toBe(
      await sdkAuthorization(ours, dynamoDbService, "eu-west-1", EXAMPLE, sdkQuery(new URL(endpoint).search)),
    );
  });

  test("endpoint query strings of any spelling are signed as the AWS SDK signs them", async () => {
    // Each character written raw (where a URL allows it) or percent-encoded; '+' raw is a plus sign.
    const chars = [..."aZ09-_.~ +/?!*'()é流🚀%&=#"];
    const rawAllowed = new Set([..."aZ09-_.~+/?!*'()"]);
    const spelled = fc.array(fc.tuple(fc.constantFrom(...chars), fc.boolean()), { maxLength: 8 }).map((parts) => ({
      text: parts.map(([c]) => c).join(""),
      raw: parts.map(([c, raw]) => (raw && rawAllowed.has(c) ? c : encodeURIComponent(c))).join(""),
    }));
    const pairs = fc.array(
      fc.tuple(
        spelled.filter((k) => k.text !== ""),
        spelled,
      ),
      { minLength: 1, maxLength: 4 },
    );
    await fc.assert(
      fc.asyncProperty(pairs, async (query) => {
        const search = query.map(([k, v]) => `${k.raw}=${v.raw}`).join("&");
        const endpoint = `https://dynamodb.eu-west-1.amazonaws.com/?${search}`;
        const client = new AwsJsonClient(dynamoDbService, {
          region: "eu-west-1",
          credentials: EXAMPLE,
          endpoint,
          clock: () => AT,
        });
        const ours = await client.sign("GetItem", { TableName: "events" });
        const theirs = await sdkAuthorization(ours, dynamoDbService, "eu-west-1", EXAMPLE, sdkQuery(`?${search}`));
        expect(ours.headers.get("authorization")).toBe(theirs);
      }),
      { numRuns: 200 },
    );
  });
});

/**
 * How the AWS SDK reads an endpoint's query string (`parseQueryString` of @smithy/querystring-parser):
 * split on `&` and `=`, each part through `decodeURIComponent` (so `+` stays a plus sign), repeated
 * keys collected into arrays.
 */
function sdkQuery(search: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = {};
  for (const pair of search.replace(/^\?/, "").split("&")) {
    if (pair === "") continue;
    const [rawKey = "", rawValue = ""] = pair.split("=");
    const key = decodeURIComponent(rawKey);
    const value = decodeURIComponent(rawValue);
    const seen = query[key];
    query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  return query;
}

/** The AWS SDK's signature (@smithy/signature-v4) of the request we signed: same headers, body, time. */
async function sdkAuthorization(
  ours: Request,
  service: AwsJsonService,
  region: string,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  query: Record<string, string | string[]>,
): Promise<string> {
  const url = new URL(ours.url);
  const body = await ours.clone().text();
  // Give the SDK exactly the headers we signed, so both canonical requests cover the same set.
  const signedNames = /SignedHeaders=([^,]+)/.exec(ours.headers.get("authorization") ?? "")?.[1]?.split(";") ?? [];
  expect(signedNames).toContain("x-amz-target");
  if (credentials.sessionToken !== undefined) expect(signedNames).toContain("x-amz-security-token");
  const headers: Record<string, string> = {};
  for (const name of signedNames) headers[name] = name === "host" ? url.host : (ours.headers.get(name) ?? "");
  const sdk = new SignatureV4({
    service: service.signingName,
    region,
    credentials,
    sha256: Sha256,
    applyChecksum: false,
  });
  const theirs = await sdk.sign(
    { method: "POST", protocol: url.protocol, hostname: url.hostname, path: url.pathname, query, headers, body },
    { signingDate: AT },
  );
  return theirs.headers.authorization as string;
}

describe("the synchronous signer", () => {
  // Header names as HTTP allows them (any case), values with inner and edge whitespace of every
  // kind `\s` matches in Latin-1 (what a header value may hold).
  const headerName = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}$/);
  const headerValue = fc
    .array(fc.constantFrom(..."aZ09 \t\u00a0-_.:/=+,;\"'()é"), { maxLength: 16 })
    .map((chars) => chars.join(""));
  const pathOrQuery = fc
    .array(fc.constantFrom(..."aZ09-_.~ +/!*'()é流🚀%25&=?"), { maxLength: 12 })
    .map((chars) => chars.join(""));
  const request = fc.record({
    path: pathOrQuery,
    query: fc.option(pathOrQuery, { nil: undefined }),
    host: fc.constantFrom("dynamodb.eu-west-1.amazonaws.com", "localhost:8000", "127.0.0.1:4566"),
    service: fc.constantFrom("dynamodb", "events", "sqs", "execute-api"),
    region: fc.constantFrom("us-east-1", "eu-west-1", "cn-north-1"),
    headers: fc.dictionary(headerName, headerValue, { maxKeys: 5 }),
    target: fc.constantFrom("DynamoDB_20120810.PutItem", "AWSEvents.PutEvents", "AmazonSQS.SendMessage"),
    body: fc.string({ unit: "binary", maxLength: 400 }),
    sessionToken: fc.option(fc.string({ unit: fc.constantFrom(..."AZaz09+/= "), minLength: 1, maxLength: 40 }), {
      nil: undefined,
    }),
    secret: fc.string({ unit: fc.constantFrom(..."AZaz09+/"), minLength: 1, maxLength: 40 }),
    when: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2099, 11, 31) }),
  });

  test("produces exactly aws4fetch's headers (authorization included) for generated requests", async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const url = `http://${r.host}/${encodeURI(r.path)}${r.query === undefined ? "" : `?${r.query}`}`;
        const headers: Record<string, string> = {
          ...r.headers,
          "content-type": "application/x-amz-json-1.0",
          "X-Amz-Target": r.target,
        };
        const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: r.secret, sessionToken: r.sessionToken };
        const datetime = amzDate(r.when);
        const theirs = await new AwsV4Signer({
          method: "POST",
          url,
          headers,
          body: r.body,
          ...credentials,
          service: r.service,
          region: r.region,
          datetime,
        }).sign();
        const ours = new SigV4Signer(url, r.service, r.region).sign("POST", headers, r.body, credentials, datetime);
        expect([...new Headers(ours)]).toEqual([...theirs.headers]);
        expect(theirs.url.toString()).toBe(new Request(url).url);
      }),
      { numRuns: 500 },
    );
  });

  test("headers named like Object.prototype's members are plain headers, as aws4fetch signs them", async () => {
    const url = "https://dynamodb.eu-west-1.amazonaws.com/";
    const headers = { ...JSON.parse('{"__proto__":"p","constructor":"c","toString":"t"}'), "x-amz-target": "X.Y" };
    const credentials = { accessKeyId: "AKID", secretAccessKey: "secret" };
    const datetime = "20240101T000000Z";
    const theirs = await new AwsV4Signer({
      method: "POST",
      url,
      headers,
      body: "{}",
      ...credentials,
      service: "dynamodb",
      region: "eu-west-1",
      datetime,
    }).sign();
    const ours = new SigV4Signer(url, "dynamodb", "eu-west-1").sign("POST", headers, "{}", credentials, datetime);
    expect(theirs.headers.get("authorization")).toContain("SignedHeaders=__proto__;constructor;host;tostring;");
    expect([...new Headers(ours)]).toEqual([...theirs.headers]);
  });

  test("keeps the derived key per day: a new day, or new credentials, sign with a new key", async () => {
    const url = "https://dynamodb.eu-west-1.amazonaws.com/";
    const signer = new SigV4Signer(url, "dynamodb", "eu-west-1");
    const headers = { "x-amz-target": "DynamoDB_20120810.PutItem" };
    for (const [secretAccessKey, when] of [
      ["one", "20240101T000000Z"],
      ["one", "20240101T235959Z"],
      ["one", "20240102T000000Z"],
      ["two", "20240102T000000Z"],
      ["one", "20240102T000001Z"],
    ] as const) {
      const credentials = { accessKeyId: "AKID", secretAccessKey };
      const theirs = await new AwsV4Signer({
        method: "POST",
        url,
        headers,
        body: "{}",
        ...credentials,
        service: "dynamodb",
        region: "eu-west-1",
        datetime: when,
      }).sign();
      expect(signer.sign("POST", headers, "{}", credentials, when).authorization).toBe(
        theirs.headers.get("authorization") as string,
      );
    }
  });
});
