import { type EnvSource, type Issue, readEnv, ValidationError } from "../../src/index.js";
import type { AwsJsonService } from "./services.js";

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** Temporary credentials (Lambda, STS) come with one. */
  readonly sessionToken?: string;
}

/** Called before every request, so rotating credentials (STS, a Worker secret store) stay fresh. */
export type AwsCredentialsProvider = () => AwsCredentials | Promise<AwsCredentials>;

export interface AwsClientConfig {
  /** The region; otherwise `AWS_REGION`, then `AWS_DEFAULT_REGION`. */
  readonly region?: string;
  /**
   * The endpoint URL; otherwise `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_DYNAMODB`), then
   * `AWS_ENDPOINT_URL`, then the service's public endpoint in the region.
   */
  readonly endpoint?: string;
  /**
   * Credentials or a provider of them; otherwise `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
   * `AWS_SESSION_TOKEN` (what Lambda sets).
   */
  readonly credentials?: AwsCredentials | AwsCredentialsProvider;
  /**
   * Where the variables above are read: on Workers pass the bindings (`env`). The ambient environment
   * (on Node, Bun, Lambda) is read after it. Explicit options win over both.
   */
  readonly env?: EnvSource;
}

export interface ResolvedAwsConfig {
  readonly region: string;
  readonly endpoint: string;
  readonly credentials: AwsCredentialsProvider;
}

/**
 * Resolves region, endpoint and credentials, explicit options first. Everything missing or malformed
 * is reported in one {@link ValidationError}, before any request is made.
 */
export function resolveAwsConfig(service: AwsJsonService, config: AwsClientConfig = {}): ResolvedAwsConfig {
  const issues: Issue[] = [];
  const env = config.env;
  const region = config.region ?? readEnv("AWS_REGION", env) ?? readEnv("AWS_DEFAULT_REGION", env);
  if (region === undefined) {
    issues.push({ path: ["region"], message: "no region: pass `region` or set AWS_REGION" });
  } else if (!/^[a-z0-9-]{1,64}$/.test(region)) {
    issues.push({ path: ["region"], message: `"${region.slice(0, 64)}" is not a region name` });
  }
  let endpoint = config.endpoint;
  for (const suffix of service.endpointVariables) endpoint ??= readEnv(`AWS_ENDPOINT_URL_${suffix}`, env);
  endpoint ??= readEnv("AWS_ENDPOINT_URL", env);
  if (endpoint === undefined && region !== undefined) endpoint = publicEndpoint(service, region);
  if (endpoint !== undefined && !isHttpUrl(endpoint)) {
    issues.push({ path: ["endpoint"], message: "the endpoint must be an http(s) URL" });
  }
  const credentials = resolveCredentials(config, issues);
  if (issues.length > 0) throw new ValidationError(`Invalid ${service.displayName} client configuration`, issues);
  return { region: region as string, endpoint: endpoint as string, credentials: credentials as AwsCredentialsProvider };
}

/** `https://dynamodb.eu-west-1.amazonaws.com`; China regions live under amazonaws.com.cn. */
export function publicEndpoint(service: AwsJsonService, region: string): string {
  const domain = region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return `https://${service.endpointPrefix}.${region}.${domain}`;
}

function resolveCredentials(config: AwsClientConfig, issues: Issue[]): AwsCredentialsProvider | undefined {
  const given = config.credentials;
  if (typeof given === "function") {
    return async () => {
      const provided = await given();
      const problems = credentialIssues(provided);
      if (problems.length > 0) throw new ValidationError("Invalid AWS credentials from the provider", problems);
      return provided;
    };
  }
  const credentials: Partial<AwsCredentials> = given ?? {
    accessKeyId: readEnv("AWS_ACCESS_KEY_ID", config.env),
    secretAccessKey: readEnv("AWS_SECRET_ACCESS_KEY", config.env),
    sessionToken: readEnv("AWS_SESSION_TOKEN", config.env),
  };
  const problems = credentialIssues(credentials, given === undefined);
  if (problems.length > 0) {
    issues.push(...problems);
    return undefined;
  }
  const fixed = Object.freeze({ ...credentials }) as AwsCredentials;
  return () => fixed;
}

function credentialIssues(credentials: unknown, fromEnv = false): Issue[] {
  const issues: Issue[] = [];
  if (typeof credentials !== "object" || credentials === null) {
    return [{ path: ["credentials"], message: "credentials must be an object" }];
  }
  const c = credentials as Record<string, unknown>;
  const hint = fromEnv ? ": pass `credentials` or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" : "";
  for (const key of ["accessKeyId", "secretAccessKey"] as const) {
    if (typeof c[key] !== "string" || (c[key] as string).length === 0) {
      issues.push({ path: ["credentials", key], message: `${key} is missing${hint}` });
    }
  }
  if (c.sessionToken !== undefined && typeof c.sessionToken !== "string") {
    issues.push({ path: ["credentials", "sessionToken"], message: "sessionToken must be a string" });
  }
  return issues;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}
