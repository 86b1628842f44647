import {
  ambientEnv,
  assertObject,
  type EnvSource,
  type Issue,
  objectIssues,
  unknownKeyIssues,
  ValidationError,
} from "../../src/index.js";
import type { AwsJsonService } from "./services.js";
import { EDGE_WHITESPACE } from "./signing.js";

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
   * Where the variables above are read: on Workers pass the bindings (`env`). When given, it is the
   * only source, and the ambient environment (the process environment on Node, Bun, Lambda) is not read at all,
   * so keys from here are never sent with a session token or to an endpoint from elsewhere. Without
   * it, the ambient environment. Explicit options win over either.
   */
  readonly env?: EnvSource;
}

export interface ResolvedAwsConfig {
  readonly region: string;
  readonly endpoint: string;
  readonly credentials: AwsCredentialsProvider;
}

/**
 * The keys of {@link AwsClientConfig}, for the options that extend it (a client's, a store's) to refuse any
 * other key: a record, so that a key added to the interface and not here fails to compile.
 */
export const AWS_CLIENT_CONFIG = {
  region: true,
  endpoint: true,
  credentials: true,
  env: true,
} as const satisfies Record<keyof AwsClientConfig, true>;
const CONFIG_KEYS = Object.keys(AWS_CLIENT_CONFIG);

/**
 * Resolves region, endpoint and credentials, explicit options first. Everything missing or malformed
 * is reported in one {@link ValidationError}, before any request is made.
 */
export function resolveAwsConfig(
  service: AwsJsonService,
  config: AwsClientConfig = {},
  keys: readonly string[] = CONFIG_KEYS,
): ResolvedAwsConfig {
  assertService(service);
  assertObject(config, [], `${service.displayName} client configuration`, false);
  const options = config ?? {};
  // A misspelt `endpiont` sent the requests to AWS itself rather than the endpoint meant (DynamoDB Local, a VPC one).
  const early = [...unknownKeyIssues(options, keys), ...objectIssues(options.env, "env")];
  for (const key of ["region", "endpoint"] as const) {
    if (options[key] !== undefined && typeof options[key] !== "string") {
      early.push({ path: [key], message: `${key} must be a string` });
    }
  }
  if (early.length > 0) throw new ValidationError(`Invalid ${service.displayName} client configuration`, early);
  config = options;
  const issues: Issue[] = [];
  // One source for every variable: settings from two environments never mix.
  const source = config.env ?? ambientEnv();
  const read = (name: string) => {
    const value = source[name];
    return value === undefined || value === "" ? undefined : value;
  };
  const where = config.env === undefined ? "" : " in `env` (the ambient environment is not read when `env` is given)";
  const region = config.region ?? read("AWS_REGION") ?? read("AWS_DEFAULT_REGION");
  if (region === undefined) {
    issues.push({
      path: ["region"],
      message: `no region: pass \`region\` or set AWS_REGION (or AWS_DEFAULT_REGION)${where}`,
    });
  } else if (!/^[a-z0-9-]{1,64}$/.test(region)) {
    issues.push({ path: ["region"], message: `"${region.slice(0, 64)}" is not a region name` });
  }
  let endpoint = config.endpoint;
  for (const suffix of service.endpointVariables) endpoint ??= read(`AWS_ENDPOINT_URL_${suffix}`);
  endpoint ??= read("AWS_ENDPOINT_URL");
  if (endpoint === undefined && region !== undefined) endpoint = publicEndpoint(service, region);
  if (endpoint !== undefined && !isCredentialFreeHttpUrl(endpoint)) {
    issues.push({ path: ["endpoint"], message: "the endpoint must be an http(s) URL without a user or password" });
  }
  if (endpoint !== undefined) endpoint = signableEndpoint(endpoint);
  const credentials = resolveCredentials(config.credentials, read, where, issues);
  if (issues.length > 0) throw new ValidationError(`Invalid ${service.displayName} client configuration`, issues);
  return { region: region as string, endpoint: endpoint as string, credentials: credentials as AwsCredentialsProvider };
}

/**
 * The endpoint as the AWS SDK reads it. The SDK's URL parser decodes a query string with
 * `decodeURIComponent`, so a `+` there is a plus sign; aws4fetch reads it through `URLSearchParams`,
 * which takes it for a space, and would sign another request than the SDK (and AWS) would. Spelled
 * `%2B`, both read a plus sign, and the URL sent is the one the SDK sends.
 */
export function signableEndpoint(endpoint: string): string {
  assertString(endpoint, "endpoint");
  const query = endpoint.indexOf("?");
  const fragment = endpoint.indexOf("#");
  if (query < 0 || (fragment >= 0 && fragment < query)) return endpoint;
  const end = fragment < 0 ? endpoint.length : fragment;
  return endpoint.slice(0, query) + endpoint.slice(query, end).replaceAll("+", "%2B") + endpoint.slice(end);
}

/** `https://dynamodb.eu-west-1.amazonaws.com`; China regions live under amazonaws.com.cn. */
export function publicEndpoint(service: AwsJsonService, region: string): string {
  assertService(service);
  assertString(region, "region");
  const domain = region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return `https://${service.endpointPrefix}.${region}.${domain}`;
}

/** Credentials as one unit: the explicit ones, or all three variables from the one source. */
function resolveCredentials(
  given: AwsClientConfig["credentials"],
  read: (name: string) => string | undefined,
  where: string,
  issues: Issue[],
): AwsCredentialsProvider | undefined {
  if (typeof given === "function") {
    return async () => {
      const provided = await given();
      const problems = credentialIssues(provided);
      if (problems.length > 0) throw new ValidationError("Invalid AWS credentials from the provider", problems);
      return provided;
    };
  }
  const credentials: Partial<AwsCredentials> = given ?? {
    accessKeyId: read("AWS_ACCESS_KEY_ID"),
    secretAccessKey: read("AWS_SECRET_ACCESS_KEY"),
    sessionToken: read("AWS_SESSION_TOKEN"),
  };
  const problems = credentialIssues(credentials, given === undefined ? where : undefined);
  // A misspelt `sessionTokn` was dropped, and every request went out without the token. The AWS SDK's
  // own fields pass (its credential objects carry them, and the SDK adds `$source` to an object it
  // was given), as does anything in a provider's answer.
  problems.push(...unknownKeyIssues(given, [...CREDENTIAL_KEYS, ...AWS_SDK_CREDENTIAL_KEYS], ["credentials"]));
  if (problems.length > 0) {
    issues.push(...problems);
    return undefined;
  }
  const fixed = Object.freeze({ ...credentials }) as AwsCredentials;
  return () => fixed;
}

/** `fromEnv`: where the variables were looked for, when they were ("" for the ambient environment). */
function credentialIssues(credentials: unknown, fromEnv?: string): Issue[] {
  if (typeof credentials !== "object" || credentials === null) {
    return [{ path: ["credentials"], message: "credentials must be an object" }];
  }
  const c = credentials as Record<string, unknown>;
  const hint =
    fromEnv === undefined ? "" : `: pass \`credentials\` or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY${fromEnv}`;
  const issues: Issue[] = [];
  for (const key of CREDENTIAL_KEYS) {
    const problem = credentialProblem(key, c[key]);
    if (problem !== undefined) {
      issues.push({ path: ["credentials", key], message: problem === MISSING ? `${key} is missing${hint}` : problem });
    }
  }
  return issues;
}

const MISSING = "missing";

const CREDENTIAL_KEYS = ["accessKeyId", "secretAccessKey", "sessionToken"] as const;

/** What the AWS SDK's credential identities hold besides the three, all ignored here. */
const AWS_SDK_CREDENTIAL_KEYS = ["expiration", "credentialScope", "accountId", "$source"] as const;

/**
 * What keeps one credential from being sent, if anything. Never the value in the message: it is a credential.
 * A session token is optional, and an empty one is none, as an empty AWS_SESSION_TOKEN is (and as the AWS SDK
 * reads it); the key id and the secret are required.
 */
function credentialProblem(
  key: "accessKeyId" | "secretAccessKey" | "sessionToken",
  value: unknown,
): string | undefined {
  const optional = key === "sessionToken";
  if (value === undefined || value === "") return optional ? undefined : MISSING;
  if (typeof value !== "string") return `${key} must be a string`;
  // Blank: a blank key id or secret signed every request wrongly (AWS refused each call), and a blank token
  // went out as an empty X-Amz-Security-Token header (its edges are trimmed when signed).
  if (BLANK.test(value)) return `${key} is only whitespace`;
  // The token's edge whitespace is trimmed when it is signed (see SigV4Signer), so only its inside counts.
  const sent = optional ? value.replace(EDGE_WHITESPACE, "") : value;
  // Whitespace at an edge (a copied space, a file's last newline) went out as it was: in Authorization
  // for the key id, into the signature for the secret, beside the token (what HTTP does not trim), and
  // AWS refused every call. No AWS key id, secret or token has any.
  if (EDGE_SPACE.test(sent)) return `${key} has whitespace at its start or end: remove it`;
  if (UNSENDABLE.test(sent)) {
    const why = key === "secretAccessKey" ? "no AWS secret has" : "an HTTP header cannot carry";
    return `${key} has a character ${why} (outside Latin-1, or NUL, CR or LF)`;
  }
  return undefined;
}

const BLANK = /^\s+$/;
const EDGE_SPACE = /^\s|\s$/;
// What fetch refuses in a header value (the key id goes into Authorization, the token into its own
// header): a request with such a credential could never be sent, and was retried as a network
// failure. The secret is not sent, but no AWS secret has such a character either.
const UNSENDABLE = /[\0\n\r]|[^\0-\xff]/;

/**
 * An http(s) URL with no user or password in it. Endpoints and queue URLs are checked with it: fetch
 * refuses such a URL on some runtimes (Node's message then quotes it, password included) and sends it
 * as Basic credentials on others, and a queue URL is sent in request bodies and kept in dead letters;
 * the requests are signed instead. Errors about a refused URL must not repeat it.
 */
export function isCredentialFreeHttpUrl(value: unknown): boolean {
  if (typeof value !== "string") return false;
  try {
    const url = new URL(value);
    return (url.protocol === "https:" || url.protocol === "http:") && url.username === "" && url.password === "";
  } catch {
    return false;
  }
}

/**
 * A service descriptor as `AwsJsonService` describes it (`dynamoDbService`, `sqsService`...): checked
 * before it is used, so a wrong one is a ValidationError and not a TypeError at the first request.
 */
export function assertService(service: unknown): asserts service is AwsJsonService {
  assertObject(service, "service", "AWS service descriptor");
  const s = service as Record<string, unknown>;
  const issues: Issue[] = [];
  for (const key of ["signingName", "displayName", "endpointPrefix", "targetPrefix"] as const) {
    if (typeof s[key] !== "string" || s[key] === "")
      issues.push({ path: ["service", key], message: "must be a string" });
  }
  if (!Array.isArray(s.endpointVariables) || !s.endpointVariables.every((v) => typeof v === "string")) {
    issues.push({ path: ["service", "endpointVariables"], message: "must be an array of strings" });
  }
  if (s.jsonVersion !== "1.0" && s.jsonVersion !== "1.1") {
    issues.push({ path: ["service", "jsonVersion"], message: 'must be "1.0" or "1.1"' });
  }
  if (issues.length > 0) throw new ValidationError("Invalid AWS service descriptor", issues);
}

function assertString(value: unknown, key: string): asserts value is string {
  if (typeof value !== "string")
    throw new ValidationError(`Invalid ${key}`, [{ path: [key], message: "must be a string" }]);
}
