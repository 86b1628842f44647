import { type HmacKey, hmac, hmacHex, hmacKey, sha256Hex } from "./signing-sha256.js";

/** The credentials a signature needs. */
export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** Headers aws4fetch never signs (its `UNSIGNABLE_HEADERS`): a proxy may change them on the way. */
const UNSIGNABLE = new Set([
  "authorization",
  "content-type",
  "content-length",
  "user-agent",
  "presigned-expires",
  "expect",
  "x-amzn-trace-id",
  "range",
  "connection",
]);

/** What `Headers` strips from both ends of a value: HTTP whitespace. */
export const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;

/**
 * SigV4 header signing for one endpoint, service and region, synchronous: the canonical request
 * exactly as aws4fetch builds it (header signing, not S3, not presigned URLs; a property test holds
 * the two to the same headers byte for byte), hashed with the pure-JS SHA-256 of
 * `signing-sha256.ts`. The endpoint's path and query are encoded once, and the derived signing key
 * is kept per secret and day, so a signature costs two hashes and one HMAC.
 */
export class SigV4Signer {
  readonly service: string;
  readonly region: string;
  readonly #host: string;
  readonly #path: string;
  readonly #query: string;
  #key: { readonly id: string; readonly key: HmacKey } | undefined;

  constructor(endpoint: string, service: string, region: string) {
    const url = new URL(endpoint);
    this.service = service;
    this.region = region;
    this.#host = url.host;
    this.#path = rfc3986(encodeURIComponent(url.pathname.replace(/\/+/g, "/")).replace(/%2F/g, "/"));
    this.#query = [...url.searchParams]
      .filter(([name]) => name !== "")
      .map(([name, value]) => [rfc3986(encodeURIComponent(name)), rfc3986(encodeURIComponent(value))] as const)
      .sort(([k1, v1], [k2, v2]) => (k1 < k2 ? -1 : k1 > k2 ? 1 : v1 < v2 ? -1 : v1 > v2 ? 1 : 0))
      .map(([name, value]) => `${name}=${value}`)
      .join("&");
  }

  /**
   * The headers to send: `headers` (names in lower case, values trimmed as `Headers` trims them, no
   * `host`), `x-amz-date`, `x-amz-security-token` with a session token, and `authorization`.
   * @param datetime the X-Amz-Date, `20150830T123600Z`.
   */
  sign(
    method: string,
    headers: Readonly<Record<string, string>>,
    body: string,
    credentials: SigningCredentials,
    datetime: string,
  ): Record<string, string> {
    // No prototype: a header named `constructor` or `__proto__` is just a header.
    const out: Record<string, string> = Object.create(null);
    for (const name in headers) {
      const lower = name.toLowerCase();
      if (lower === "host") continue;
      const value = (headers[name] as string).replace(EDGE_WHITESPACE, "");
      // Headers combines repeated names (any case) into one value.
      out[lower] = Object.hasOwn(out, lower) ? `${out[lower]}, ${value}` : value;
    }
    out["x-amz-date"] = datetime;
    if (credentials.sessionToken) out["x-amz-security-token"] = credentials.sessionToken.replace(EDGE_WHITESPACE, "");
    const names = ["host"];
    for (const name in out) if (!UNSIGNABLE.has(name)) names.push(name);
    names.sort();
    let canonicalHeaders = "";
    for (const name of names) {
      const value = name === "host" ? this.#host : (out[name] as string).replace(/\s+/g, " ");
      canonicalHeaders += `${name}:${value}\n`;
    }
    const signedHeaders = names.join(";");
    const bodyHash = out["x-amz-content-sha256"] || sha256Hex(body);
    const canonical = `${method.toUpperCase()}\n${this.#path}\n${this.#query}\n${canonicalHeaders}\n${signedHeaders}\n${bodyHash}`;
    const date = datetime.slice(0, 8);
    const scope = `${date}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `AWS4-HMAC-SHA256\n${datetime}\n${scope}\n${sha256Hex(canonical)}`;
    const signature = hmacHex(this.#signingKey(credentials.secretAccessKey, date), stringToSign);
    out.authorization = `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return out;
  }

  /** kSigning = HMAC chain of the secret over date, region, service and `aws4_request`; kept for the day. */
  #signingKey(secret: string, date: string): HmacKey {
    const id = `${date}/${secret}`;
    if (this.#key?.id === id) return this.#key.key;
    let key = hmacKey(`AWS4${secret}`);
    for (const part of [date, this.region, this.service]) key = hmacKey(hmac(key, part));
    const signing = hmacKey(hmac(key, "aws4_request"));
    this.#key = { id, key: signing };
    return signing;
  }
}

/** `20150830T123600Z` for a time in ms since the epoch: the X-Amz-Date format. */
export function amzDate(ms: number): string {
  return new Date(ms).toISOString().replace(/[:-]|\.\d{3}/g, "");
}

/** Escapes what `encodeURIComponent` leaves and RFC 3986 reserves: `!'()*`. */
function rfc3986(encoded: string): string {
  return encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
