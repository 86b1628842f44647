import { describe, expect, test } from "bun:test";
import { expectOtherKeysRefused, type OptionBuilder, refusedPaths } from "../../test/options/option-keys.ts";
import { AwsJsonClient, dynamoDbService, resolveAwsConfig, retryPolicy, sqsService } from "./index.js";

// The AWS layer's option objects refuse a key they do not take, naming its path, before any request:
// before, `endpiont` sent the requests to AWS itself rather than the endpoint meant, `maxAttempt`
// kept 8 attempts, and a call's `serverWaitMS` cut its deadline short of the wait it asked for.

const config = { region: "eu-west-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } };
const answer = () => Promise.resolve(new Response("{}", { headers: { "content-type": "application/x-amz-json-1.0" } }));
const client = new AwsJsonClient(sqsService, { ...config, fetch: answer });

const builders: Record<string, OptionBuilder> = {
  AwsJsonClient: {
    keys: ["region", "endpoint", "credentials", "env", "fetch", "retry", "timeoutMs", "attemptTimeoutMs", "clock"],
    build: (extra) => new AwsJsonClient(dynamoDbService, { ...config, ...extra }),
  },
  resolveAwsConfig: {
    keys: ["region", "endpoint", "credentials", "env"],
    build: (extra) => resolveAwsConfig(dynamoDbService, { ...config, ...extra }),
  },
  retryPolicy: {
    keys: ["maxAttempts", "baseDelayMs", "maxDelayMs", "budget", "random"],
    at: "retry.",
    build: (extra) => retryPolicy({ maxAttempts: 2, ...extra }),
  },
  "send options": {
    keys: ["signal", "deadline", "serverWaitMs"],
    at: "options.",
    build: (extra) => client.send("ListQueues", {}, { serverWaitMs: 0, ...extra }),
  },
};

describe("the AWS layer's option objects refuse keys they do not take", () => {
  test("the misspellings that changed behaviour silently are refused, naming their path", async () => {
    const cases: [() => unknown, string[]][] = [
      [
        () => new AwsJsonClient(dynamoDbService, { ...config, endpiont: "http://localhost:8000" } as never),
        ["endpiont"],
      ],
      [
        () => new AwsJsonClient(dynamoDbService, { ...config, retry: { maxAttempt: 1 } } as never),
        ["retry.maxAttempt"],
      ],
      [() => client.send("ReceiveMessage", {}, { serverWaitMS: 20_000 } as never), ["options.serverWaitMS"]],
      // Every request went out without the token.
      [
        () =>
          new AwsJsonClient(dynamoDbService, {
            ...config,
            credentials: { accessKeyId: "a", secretAccessKey: "b", sessionTokn: "t" },
          } as never),
        ["credentials.sessionTokn"],
      ],
    ];
    for (const [build, paths] of cases) expect(await refusedPaths(build)).toEqual(paths);
  });

  // The AWS SDK adds `$source` to a credentials object it was given: the same object, passed here after,
  // was refused (every DynamoDB test after one that signed with the SDK failed).
  test("a credentials object may carry the AWS SDK's own fields ($source, expiration, credentialScope, accountId)", () => {
    const credentials = {
      accessKeyId: "a",
      secretAccessKey: "b",
      $source: { CREDENTIALS_CODE: "e" },
      expiration: new Date(Date.now() + 60_000),
      credentialScope: "eu-west-1",
      accountId: "123456789012",
    };
    expect(() => new AwsJsonClient(dynamoDbService, { ...config, credentials })).not.toThrow();
  });

  test("a credentials function's answer may carry keys of its own (the AWS SDK's expiration)", async () => {
    const requests: Request[] = [];
    const withExpiration = new AwsJsonClient(dynamoDbService, {
      ...config,
      credentials: () => ({ accessKeyId: "a", secretAccessKey: "b", expiration: new Date(Date.now() + 60_000) }),
      fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
        requests.push(new Request(input, init));
        return answer();
      },
    } as never);
    await withExpiration.send("ListTables", {});
    expect(requests.map((request) => request.headers.get("authorization")?.startsWith("AWS4-HMAC-SHA256"))).toEqual([
      true,
    ]);
  });

  test("each is built from its own keys, and refuses any other key with one issue naming it", async () => {
    await expectOtherKeysRefused(builders, { skipProto: true });
  });
});
