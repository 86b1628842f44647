/**
 * AWS settings come from one source: explicit options, else the `env` object when one is given
 * (and then nothing from the ambient environment), else the ambient environment. Credentials are
 * one unit: keys and session token always from the same place.
 */
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { isValidationError } from "../../src/index.js";
import { type AwsClientConfig, resolveAwsConfig } from "./config.js";
import { dynamoDbService, eventBridgeService } from "./services.js";

const VARIABLES = [
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_ENDPOINT_URL_DYNAMODB",
  "AWS_ENDPOINT_URL",
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
] as const;
type Variable = (typeof VARIABLES)[number];

let saved: Record<string, string | undefined> = {};
beforeEach(() => {
  saved = Object.fromEntries(
    Object.keys(process.env)
      .filter((n) => n.startsWith("AWS_"))
      .map((n) => [n, process.env[n]]),
  );
  for (const name of Object.keys(saved)) delete process.env[name];
});
afterEach(() => {
  for (const name of Object.keys(process.env)) if (name.startsWith("AWS_")) delete process.env[name];
  for (const [name, value] of Object.entries(saved)) if (value !== undefined) process.env[name] = value;
});

/** A value that says where it came from, valid for its variable. */
function sourced(name: Variable, from: "ambient" | "env"): string {
  if (name === "AWS_REGION") return from === "env" ? "eu-west-1" : "us-east-1";
  if (name === "AWS_DEFAULT_REGION") return from === "env" ? "eu-west-2" : "us-east-2";
  if (name.startsWith("AWS_ENDPOINT_URL")) return `http://${from}-${name.toLowerCase().replaceAll("_", "-")}:1`;
  return `${from}-${name}`;
}

const presence = fc.record(
  Object.fromEntries(VARIABLES.map((name) => [name, fc.boolean()])) as Record<Variable, fc.Arbitrary<boolean>>,
);

describe("resolveAwsConfig: one source", () => {
  test("every mix of explicit options, an env object and the ambient environment resolves from one source", async () => {
    await fc.assert(
      fc.asyncProperty(
        presence,
        fc.option(presence, { nil: undefined }),
        fc.record({ region: fc.boolean(), endpoint: fc.boolean(), credentials: fc.boolean(), token: fc.boolean() }),
        async (ambient, env, explicit) => {
          for (const name of VARIABLES) {
            if (ambient[name]) process.env[name] = sourced(name, "ambient");
            else delete process.env[name];
          }
          const envObject =
            env === undefined
              ? undefined
              : Object.fromEntries(VARIABLES.filter((name) => env[name]).map((name) => [name, sourced(name, "env")]));
          const config: AwsClientConfig = {
            ...(envObject === undefined ? {} : { env: envObject }),
            ...(explicit.region ? { region: "ap-south-1" } : {}),
            ...(explicit.endpoint ? { endpoint: "http://explicit:1" } : {}),
            ...(explicit.credentials
              ? {
                  credentials: {
                    accessKeyId: "explicit-key",
                    secretAccessKey: "explicit-secret",
                    ...(explicit.token ? { sessionToken: "explicit-token" } : {}),
                  },
                }
              : {}),
          };
          // The model: the one source is the env object when given, else the ambient environment.
          const from = envObject === undefined ? "ambient" : "env";
          const has = envObject === undefined ? ambient : (env as Record<Variable, boolean>);
          const pick = (...names: Variable[]) => {
            const name = names.find((n) => has[n]);
            return name === undefined ? undefined : sourced(name, from);
          };
          const region = explicit.region ? "ap-south-1" : pick("AWS_REGION", "AWS_DEFAULT_REGION");
          const endpoint = explicit.endpoint
            ? "http://explicit:1"
            : (pick("AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL") ??
              (region === undefined ? undefined : `https://dynamodb.${region}.amazonaws.com`));
          const credentials = explicit.credentials
            ? {
                accessKeyId: "explicit-key",
                secretAccessKey: "explicit-secret",
                ...(explicit.token ? { sessionToken: "explicit-token" } : {}),
              }
            : has.AWS_ACCESS_KEY_ID && has.AWS_SECRET_ACCESS_KEY
              ? {
                  accessKeyId: sourced("AWS_ACCESS_KEY_ID", from),
                  secretAccessKey: sourced("AWS_SECRET_ACCESS_KEY", from),
                  sessionToken: has.AWS_SESSION_TOKEN ? sourced("AWS_SESSION_TOKEN", from) : undefined,
                }
              : undefined;
          if (region === undefined || credentials === undefined) {
            let thrown: unknown;
            try {
              resolveAwsConfig(dynamoDbService, config);
            } catch (error) {
              thrown = error;
            }
            expect(isValidationError(thrown)).toBe(true);
            const paths = (thrown as { issues: { path: string[] }[] }).issues.map((i) => i.path[0]);
            expect(paths.includes("region")).toBe(region === undefined);
            expect(paths.includes("credentials")).toBe(credentials === undefined);
            return;
          }
          const resolved = resolveAwsConfig(dynamoDbService, config);
          expect(resolved.region).toBe(region);
          expect(resolved.endpoint).toBe(endpoint as string);
          const got = await resolved.credentials();
          expect({ ...got }).toEqual(credentials);
          // One unit: every credential field names the same source.
          const origins = Object.values(got)
            .filter((v) => v !== undefined)
            .map((v) => String(v).split("-")[0]);
          expect(new Set(origins).size).toBe(1);
        },
      ),
      { numRuns: 400 },
    );
  });

  test("keys in an env object are never sent with the ambient session token or to the ambient endpoint", async () => {
    process.env.AWS_SESSION_TOKEN = "ambient-token";
    process.env.AWS_ENDPOINT_URL_DYNAMODB = "http://ambient:1";
    process.env.AWS_REGION = "us-east-1";
    const resolved = resolveAwsConfig(dynamoDbService, {
      env: { AWS_REGION: "eu-west-1", AWS_ACCESS_KEY_ID: "AKIDENV", AWS_SECRET_ACCESS_KEY: "s" },
    });
    expect(await resolved.credentials()).toEqual({
      accessKeyId: "AKIDENV",
      secretAccessKey: "s",
      sessionToken: undefined,
    });
    expect(resolved.endpoint).toBe("https://dynamodb.eu-west-1.amazonaws.com");
  });

  test("an endpoint with a user or password in it is refused before any request, without echoing it", () => {
    for (const endpoint of ["http://user:pw-secret@localhost:8000", "https://user@dynamodb.local"]) {
      let thrown: unknown;
      try {
        resolveAwsConfig(dynamoDbService, {
          region: "eu-west-1",
          endpoint,
          credentials: { accessKeyId: "AKID", secretAccessKey: "s" },
        });
      } catch (error) {
        thrown = error;
      }
      expect(isValidationError(thrown)).toBe(true);
      expect((thrown as { issues: unknown }).issues).toEqual([
        { path: ["endpoint"], message: "the endpoint must be an http(s) URL without a user or password" },
      ]);
      expect(JSON.stringify(thrown) + String(thrown)).not.toContain("pw-secret");
    }
  });

  test("an env object without keys does not borrow the ambient ones: the error says where it looked", () => {
    process.env.AWS_ACCESS_KEY_ID = "AKIDAMBIENT";
    process.env.AWS_SECRET_ACCESS_KEY = "s";
    expect(() => resolveAwsConfig(dynamoDbService, { env: { AWS_REGION: "eu-west-1" } })).toThrow(
      /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in `env`/,
    );
    process.env.AWS_REGION = "us-east-1";
    expect(() =>
      resolveAwsConfig(dynamoDbService, { env: { AWS_ACCESS_KEY_ID: "A", AWS_SECRET_ACCESS_KEY: "s" } }),
    ).toThrow(/set AWS_REGION \(or AWS_DEFAULT_REGION\) in `env`/);
  });

  test("a missing region names both variables it is read from, as the CLI does", () => {
    // Before: only AWS_REGION was named, though AWS_DEFAULT_REGION is read too (the docs say the variables are named).
    expect(() =>
      resolveAwsConfig(eventBridgeService, { env: { AWS_ACCESS_KEY_ID: "A", AWS_SECRET_ACCESS_KEY: "s" } }),
    ).toThrow(/set AWS_REGION \(or AWS_DEFAULT_REGION\)/);
  });
});
