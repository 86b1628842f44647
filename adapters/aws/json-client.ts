import {
  functionIssues,
  type Issue,
  objectIssues,
  unknownKeyIssues,
  utf8Length,
  ValidationError,
} from "../../src/index.js";
import { malformedField, pageRepeats } from "./answer-shape.js";
import { MAX_ANSWER_BYTES, textWithin } from "./answer-text.js";
import {
  AWS_CLIENT_CONFIG,
  type AwsClientConfig,
  type AwsCredentials,
  type AwsCredentialsProvider,
  resolveAwsConfig,
} from "./config.js";
import {
  type AwsFailure,
  answerTooLarge,
  credentialsFailure,
  deadlinePassed,
  failureOf,
  isTimeoutLike,
  malformedAnswer,
  toServiceError,
  transportFailure,
} from "./errors.js";
import { PageTrail } from "./page-trail.js";
import {
  pauseWithin,
  positiveIntegerIssue,
  RETRY_COST,
  type RetryOptions,
  type RetryPolicy,
  retryPolicy,
  sleep,
  TIMEOUT_RETRY_COST,
} from "./retry.js";
import type { AwsJsonService } from "./services.js";

export { MAX_ANSWER_BYTES } from "./answer-text.js";

import { amzDate, SigV4Signer } from "./signing.js";

/** The part of `fetch` the client uses: inject one to trace, proxy, or inject faults in tests. */
export type FetchFunction = (request: Request) => Promise<Response>;

export interface AwsJsonClientOptions extends AwsClientConfig {
  /** Defaults to the global `fetch`. */
  readonly fetch?: FetchFunction;
  readonly retry?: RetryOptions;
  /**
   * The deadline of one call, in ms: its attempts and the pauses between them all fit in it, and a
   * retry whose pause would end past it is not made. Defaults to 15,000.
   */
  readonly timeoutMs?: number;
  /**
   * Abandon an attempt with no response after this many ms (then retry it, if the deadline leaves
   * room). Defaults to 10,000; never longer than what is left of the call's deadline.
   */
  readonly attemptTimeoutMs?: number;
  /** The signing clock. For tests that compare signatures; defaults to the current time. */
  readonly clock?: () => Date;
}

/**
 * The keys of {@link AwsJsonClientOptions}, for the options that extend them (a store's) to refuse any other
 * key: a record, so that a key added to the interface and not here fails to compile.
 */
export const AWS_JSON_CLIENT_OPTIONS = {
  ...AWS_CLIENT_CONFIG,
  fetch: true,
  retry: true,
  timeoutMs: true,
  attemptTimeoutMs: true,
  clock: true,
} as const satisfies Record<keyof AwsJsonClientOptions, true>;
const CLIENT_KEYS = Object.keys(AWS_JSON_CLIENT_OPTIONS);

export interface SendOptions {
  /** Stops the call (an attempt in flight, a pause): it rejects with the signal's reason, without retrying. */
  readonly signal?: AbortSignal;
  /**
   * When the call must be over, in ms since the epoch (`Date.now()`), instead of `timeoutMs` from
   * now: several calls of one operation can share one deadline. A call whose deadline has passed is
   * not sent.
   */
  readonly deadline?: number;
  /**
   * Extra time this call's server may hold each attempt, in ms, on top of the client's attempt
   * timeout and deadline: an SQS long poll (`WaitTimeSeconds`) answers only after it.
   */
  readonly serverWaitMs?: number;
  /**
   * The next-page keys the paged read this call belongs to was given (one trail per read): an answer of a
   * paging operation (`Query`, `Scan`) naming one of them again is a cycle, refused as a `MalformedResponse`.
   */
  readonly pageTrail?: PageTrail;
}

/**
 * Calls one AWS service over its JSON protocol: SigV4 signing (aws4fetch's canonical request, signed
 * synchronously by {@link SigV4Signer}), our retries (full-jitter exponential backoff, capped, bounded by a shared retry budget) for
 * throttling, 5xx and network failures, and every failure as an {@link AwsServiceError}.
 * Web-standard APIs only: runs on Node, Bun, Lambda and Workers.
 */
export class AwsJsonClient {
  readonly service: AwsJsonService;
  readonly region: string;
  readonly endpoint: string;
  readonly #credentials: AwsCredentialsProvider;
  /** The caller's fetch; without one, the global `fetch` is called with the URL and init. */
  readonly #fetch: FetchFunction | undefined;
  readonly #retry: RetryPolicy;
  /** The deadline of one call, in ms. */
  readonly timeoutMs: number;
  readonly #attemptTimeoutMs: number;
  readonly #clock: (() => Date) | undefined;
  readonly #contentType: string;
  readonly #signer: SigV4Signer;

  /** @throws {ValidationError} missing or malformed region, endpoint or credentials: before any request. */
  constructor(service: AwsJsonService, options: AwsJsonClientOptions = {}) {
    const config = resolveAwsConfig(service, options, CLIENT_KEYS);
    const callbacks = [...functionIssues(options.fetch, "fetch"), ...functionIssues(options.clock, "clock")];
    if (callbacks.length > 0) throw new ValidationError(`Invalid ${service.displayName} client options`, callbacks);
    this.service = service;
    this.region = config.region;
    this.endpoint = config.endpoint;
    this.#credentials = config.credentials;
    this.#fetch = options.fetch;
    this.#retry = retryPolicy(options.retry);
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.#attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
    const issues = [
      ...positiveIntegerIssue("timeoutMs", this.timeoutMs),
      ...positiveIntegerIssue("attemptTimeoutMs", this.#attemptTimeoutMs),
    ];
    if (issues.length > 0) throw new ValidationError(`Invalid ${service.displayName} client options`, issues);
    this.#clock = options.clock;
    this.#contentType = `application/x-amz-json-${service.jsonVersion}`;
    this.#signer = new SigV4Signer(this.endpoint, service.signingName, this.region);
  }

  /** Tokens left in the retry budget. */
  get retryBudget(): number {
    return this.#retry.budget.tokens;
  }

  /**
   * The client's retry policy: what a caller that retries part of an answer itself (DynamoDB's
   * unprocessed batch items) paces those retries by, with `backoffDelay`.
   */
  get retryPolicy(): RetryPolicy {
    return this.#retry;
  }

  /**
   * Sends `operation` with `input` as its JSON body and returns the parsed response.
   * @throws {AwsServiceError} the service refused it, or it kept failing transiently.
   * @throws {PayloadTooLargeError} DynamoDB refused an item as over 400 KB (see the service's `typedError`).
   */
  async send<T = Record<string, unknown>>(operation: string, input: unknown, options: SendOptions = {}): Promise<T> {
    const issues: Issue[] = [];
    const body = requestBody(operation, input, issues);
    issues.push(...sendOptionIssues(options));
    if (issues.length > 0) throw new ValidationError(`Invalid ${this.service.displayName} call`, issues);
    const headers = { "content-type": this.#contentType, "x-amz-target": `${this.service.targetPrefix}.${operation}` };
    const serverWaitMs = options.serverWaitMs ?? 0;
    const deadline = options.deadline ?? Date.now() + this.timeoutMs + serverWaitMs;
    let spent = 0;
    let last: AwsFailure | undefined;
    for (let attempt = 1; ; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw toServiceError(this.service.displayName, operation, last ?? deadlinePassed(), attempt - 1, "deadline");
      }
      const failure = await this.#attempt(
        operation,
        input,
        headers,
        body,
        options,
        Math.min(this.#attemptTimeoutMs + serverWaitMs, left),
      );
      if (!("code" in failure)) {
        this.#retry.budget.succeeded(spent);
        return failure.data as T;
      }
      last = failure;
      if (!failure.retryable) {
        const error = toServiceError(this.service.displayName, operation, failure, attempt);
        throw this.service.typedError?.(operation, failure, utf8Length(body), error) ?? error;
      }
      if (attempt >= this.#retry.maxAttempts) {
        throw toServiceError(this.service.displayName, operation, failure, attempt, "attempts");
      }
      const delay = pauseWithin(this.#retry, attempt, deadline - Date.now());
      if (delay === undefined) throw toServiceError(this.service.displayName, operation, failure, attempt, "deadline");
      const cost = isTimeoutLike(failure.code) ? TIMEOUT_RETRY_COST : RETRY_COST;
      if (!this.#retry.budget.spend(cost)) {
        throw toServiceError(this.service.displayName, operation, failure, attempt, "budget");
      }
      spent += cost;
      await sleep(delay, options.signal);
    }
  }

  /**
   * Signs a request as `send` would, without sending it.
   * @throws {ValidationError} an operation that is no name, or an input that is no JSON object, as `send` refuses them.
   * @throws {AwsServiceError} `CredentialsProviderFailed`: the credentials provider threw, as `send` reports it.
   */
  async sign(operation: string, input: unknown): Promise<Request> {
    const issues: Issue[] = [];
    const body = requestBody(operation, input, issues);
    if (issues.length > 0) throw new ValidationError(`Invalid ${this.service.displayName} call`, issues);
    const headers = { "content-type": this.#contentType, "x-amz-target": `${this.service.targetPrefix}.${operation}` };
    let credentials: AwsCredentials;
    try {
      credentials = await this.#credentials();
    } catch (error) {
      // Nothing is attempted: 0 attempts.
      throw toServiceError(this.service.displayName, operation, credentialsFailure(error), 0);
    }
    return new Request(this.endpoint, this.#sign(credentials, headers, body, undefined));
  }

  async #attempt(
    operation: string,
    input: unknown,
    headers: Record<string, string>,
    body: string,
    { signal, pageTrail }: SendOptions,
    timeoutMs: number,
  ): Promise<AwsFailure | { readonly data: unknown }> {
    signal?.throwIfAborted();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    const forward = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", forward, { once: true });
    // Every wait below races the attempt's end (its timeout, the caller's signal): a fetch, a body or
    // a credentials provider that ignores the signal still cannot outlast the deadline.
    const stopped = new Promise<never>((_, reject) => {
      controller.signal.addEventListener("abort", () => reject(controller.signal.reason), { once: true });
    });
    stopped.catch(() => undefined);
    const until = <T>(work: Promise<T>): Promise<T> => {
      work.catch(() => undefined);
      return Promise.race([work, stopped]);
    };
    let sending = false;
    try {
      const credentials = await until(Promise.resolve().then(() => this.#credentials()));
      sending = true;
      // Signed per attempt: a retry carries a fresh date, as the SDKs do.
      const init = this.#sign(credentials, headers, body, controller.signal);
      // Node's fetch builds its own Request from whatever it is given: handing it one more would
      // build two (~15 µs each on Node 20), so only an injected fetch gets a Request.
      const response = await until(
        this.#fetch === undefined ? fetch(this.endpoint, init) : this.#fetch(new Request(this.endpoint, init)),
      );
      const text = await until(textWithin(response, MAX_ANSWER_BYTES));
      if (text === undefined) {
        // An error's status still says what happened (a 503 is retried); a success's body is the answer itself.
        return response.ok
          ? answerTooLarge(this.service.displayName, MAX_ANSWER_BYTES)
          : failureOf(response.status, response.headers, "");
      }
      if (response.ok) {
        let data: unknown;
        try {
          data = text === "" ? {} : JSON.parse(text);
        } catch (error) {
          // A 200 with a body cut short: the connection dropped mid-response.
          return transportFailure(error);
        }
        // Every answer of these services is a JSON object; anything else (null, an array) came from
        // something in between, and handed on it would be a TypeError in the caller's `result.Item`.
        if (typeof data !== "object" || data === null || Array.isArray(data)) {
          return malformedAnswer(this.service.displayName);
        }
        const answer = data as Record<string, unknown>;
        const field = malformedField(this.service.answerShapes?.[operation], answer);
        if (field !== undefined) return malformedAnswer(this.service.displayName, field);
        const paging = this.service.paging?.[operation];
        if (paging === undefined) return { data };
        if (pageRepeats(paging, input, answer)) return malformedAnswer(this.service.displayName, paging[1], "repeated");
        const next = answer[paging[1]];
        if (pageTrail !== undefined && next !== undefined) {
          if (pageTrail.repeats(next)) return malformedAnswer(this.service.displayName, paging[1], "cycle");
          pageTrail.record(next);
        }
        return { data };
      }
      return failureOf(response.status, response.headers, text);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      // A provider failure is the provider's, not a network error: not retried, and said safely
      // (see credentialsFailure), unless it is already one of the library's errors.
      if (!sending && !timedOut) return credentialsFailure(error);
      return transportFailure(error, timedOut ? timeoutMs : undefined);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", forward);
    }
  }

  #sign(
    credentials: AwsCredentials,
    headers: Record<string, string>,
    body: string,
    signal: AbortSignal | undefined,
  ): RequestInit {
    const datetime = amzDate(this.#clock?.().getTime() ?? Date.now());
    const signed = this.#signer.sign("POST", headers, body, credentials, datetime);
    // No AWS JSON-protocol service redirects a call: a 3xx comes from something in between. Followed, it
    // sent the signed request (the session token, the body) to wherever `location` says and took that
    // host's answer for the service's; unfollowed, it is a failure with its status, not retried.
    return { method: "POST", headers: signed, body, redirect: "manual", ...(signal ? { signal } : {}) };
  }
}

/**
 * The JSON body of a call to `operation`, or "" with what keeps it from being sent added to `issues`: an
 * operation that is no name (it goes into the X-Amz-Target header), an input that is no JSON object (every
 * request of these protocols is one; `undefined` or a function has no JSON at all, and signing it threw a
 * TypeError that `send` retried as a network failure). `send` and `sign` both check with it.
 */
function requestBody(operation: unknown, input: unknown, issues: Issue[]): string {
  if (typeof operation !== "string" || !/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(operation)) {
    issues.push({ path: ["operation"], message: "must be an operation name, such as GetItem" });
  }
  let body: string | undefined;
  try {
    body = JSON.stringify(input);
  } catch {
    issues.push({ path: ["input"], message: "must be JSON (no BigInt, no cycle)" });
    return "";
  }
  // By its JSON, so that an object whose toJSON answers something else is judged by what would be sent.
  if (typeof body !== "string" || !body.startsWith("{")) {
    issues.push({ path: ["input"], message: "must be an object (the operation's request)" });
    return "";
  }
  return body;
}

/** What `send` refuses in its options before anything is sent: options of the wrong kind or with unknown keys. */
const SEND_KEYS = Object.keys({ signal: true, deadline: true, serverWaitMs: true, pageTrail: true } satisfies Record<
  keyof SendOptions,
  true
>);

function sendOptionIssues(options: SendOptions): Issue[] {
  const issues: Issue[] = [];
  issues.push(...objectIssues(options, "options"));
  if (issues.length > 0 && typeof options !== "object") return issues;
  // A misspelt `serverWaitMS` cut the call's deadline short of the wait it asked the server for. Once
  // per request, not per event: a look at a handful of keys beside a round trip.
  issues.push(...unknownKeyIssues(options, SEND_KEYS, ["options"]));
  const { signal, deadline, serverWaitMs, pageTrail } = (options ?? {}) as SendOptions;
  if (pageTrail !== undefined && !(pageTrail instanceof PageTrail)) {
    issues.push({ path: ["options", "pageTrail"], message: "must be a PageTrail" });
  }
  const s = signal as Partial<AbortSignal> | undefined;
  if (s !== undefined && (typeof s?.throwIfAborted !== "function" || typeof s.addEventListener !== "function")) {
    issues.push({ path: ["options", "signal"], message: "must be an AbortSignal" });
  }
  if (deadline !== undefined && (typeof deadline !== "number" || !Number.isFinite(deadline))) {
    issues.push({ path: ["options", "deadline"], message: "must be a time in ms since the epoch" });
  }
  if (
    serverWaitMs !== undefined &&
    (typeof serverWaitMs !== "number" || !(serverWaitMs >= 0) || !Number.isFinite(serverWaitMs))
  ) {
    issues.push({ path: ["options", "serverWaitMs"], message: "must be a number of ms from 0" });
  }
  return issues;
}
