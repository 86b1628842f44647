import {
  assertKnownOptions,
  checkFilter,
  ErrorCode,
  EVENT_STORE_OPTIONS,
  type EventEnvelope,
  EventStore,
  type EventStoreCapabilities,
  type EventStoreOptions,
  type ExpectedVersion,
  filterFromQuery,
  filterToQuery,
  getLogger,
  isEventFlowsError,
  isSealedRecord,
  LiveErrorCode,
  markSealedRecord,
  type NewEvent,
  type PendingEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  ServiceError,
  type StoreSubscription,
  type StreamChange,
  type StreamChangeCommit,
  type StreamChangeResult,
  utf8Length,
  ValidationError,
} from "../../src/index.js";
import { problemFor } from "../http/problem-details.js";
import { parseQuery } from "../http/query-string.js";
import type { Committed } from "./append.js";
import type { LiveSubscribers } from "./live-subscribers.js";
import { type ClientWebSocketLike, type SubscribeLiveOptions, startLiveSubscription } from "./live-subscription.js";
import {
  badReply,
  fromWireError,
  isWireCount,
  isWireEvent,
  isWireReply,
  OBJECT_SERVICE,
  toWireError,
  type WireReply,
} from "./object-wire.js";

/** The part of a Durable Object stub (`env.EVENTS.get(id)`) the client uses. */
export interface DurableObjectStubLike {
  fetch(url: string, init?: RequestInit): Promise<Response>;
}

type Operation =
  | "append"
  | "readStream"
  | "readAll"
  | "streamVersion"
  | "lastPosition"
  | "changeStream"
  | "deletionEvent";
const OPERATIONS: readonly string[] = [
  "append",
  "readStream",
  "readAll",
  "streamVersion",
  "lastPosition",
  "changeStream",
  "deletionEvent",
];
/** What the handler calls on the store it serves. */
const STORE_METHODS = [
  "appendToStream",
  "readStream",
  "readAll",
  "getStreamVersion",
  "getLastGlobalPosition",
  "deleteStream",
  "restoreStream",
  "truncateStream",
  "streamDeletionEvent",
] as const;
/** Events per request when reading through the object. */
const PAGE = 1000;

/**
 * The request header by which a client says it reads a read answer's `more` (it asks again after a
 * short answer that says so). A client without it (one released before answers were bounded in
 * bytes) takes any answer shorter than it asked for as the end of the stream or feed: such a client
 * is answered in full when the answer fits `maxReplyBytes`, and refused with a `ServiceError`
 * (`CLIENT_OUTDATED`) when it does not, never given a short answer it would read as the end.
 */
export const OBJECT_PROTOCOL_HEADER = "eventflows-object-protocol";
/** The protocol this client speaks: answers may end early with `more: true`. */
const OBJECT_PROTOCOL = "2";

/** The default of {@link HandleEventStoreRequestOptions.maxReplyBytes}: 4 MiB. */
export const DEFAULT_MAX_REPLY_BYTES = 4 * 1024 * 1024;

export interface HandleEventStoreRequestOptions {
  /**
   * How much one read's answer carries: its events' JSON, in UTF-8 bytes (as sent; in characters an
   * answer of 3-byte text would be three times this, as `readPageBytes` counts bytes too). The answer ends before
   * the event that would pass it (one larger event comes alone) and tells the client to ask for
   * the rest, so an answer's size is bounded whatever the events' sizes and the count asked for
   * (an object has 128 MB of memory). Defaults to 4 MiB.
   */
  readonly maxReplyBytes?: number;
  /**
   * The object's live subscribers: with them, `GET /subscribe?after=N` WebSocket upgrades (with
   * optional `stream`, `category` and `type` filters, as the Hono live routes take them) are
   * accepted, and every append is pushed to the connected subscribers.
   */
  readonly live?: LiveSubscribers;
  /**
   * What must be done before the object serves (its store's `migrate()`, started in the constructor):
   * awaited before each request is served, so its failure (`SCHEMA_TOO_NEW`, say) reaches the client
   * as the typed error it is, as a failed read does. Awaited by the object's own `fetch` instead, it
   * threw before this handler ran, and every client call was a retryable `UNAVAILABLE`.
   */
  readonly ready?: PromiseLike<unknown>;
}

/** The query parameters of `/subscribe`, checked for escapes that are not UTF-8. */
const SUBSCRIBE_PARAMETERS: ReadonlySet<string> = new Set(["after", "from", "stream", "category", "type"]);

/**
 * Where a subscription starts: `after`, or `from` (the name the live routes and `subscribeLive` of
 * `@eventflows/core/client` use), given once; neither: the store's head, so that only events appended
 * from now on are sent, as the live routes do (the object sent the whole feed).
 */
async function subscribePosition(params: URLSearchParams, store: EventStore): Promise<number> {
  const given = [...params.getAll("after"), ...params.getAll("from")];
  // Given twice, a proxy or a log may read the other one: refused, as the live routes refuse `from`.
  if (given.length > 1) {
    throw new ValidationError("Invalid subscription request", [
      { path: ["after"], message: `after (or from) is given ${given.length} times: give it once` },
    ]);
  }
  const [text] = given;
  if (text === undefined) return store.getLastGlobalPosition();
  return /^\d{1,16}$/.test(text) ? Number(text) : Number.NaN;
}

/**
 * Serves an event store (a {@link SqliteEventStore} over the object's own storage) to
 * {@link DurableObjectEventStore} clients: call it from the Durable Object's `fetch`. The store
 * should have no bus: the client publishes what it appended, where it runs. A `store` that is not an
 * event store, or options it cannot use, answer every request with a `ValidationError` (400) naming
 * them, which the client throws; nothing is read or written.
 */
export async function handleEventStoreRequest(
  store: EventStore,
  request: Request,
  options: HandleEventStoreRequestOptions = {},
): Promise<Response> {
  // Options of null are none; checked before anything is read or written (a live that is not one
  // would fail after an append committed, answering an error for an append that was stored).
  const { maxReplyBytes = DEFAULT_MAX_REPLY_BYTES, live, ready } = options ?? {};
  let operation = "";
  try {
    // A store that is not one (undefined, a plain object, one missing a method) is the application's
    // mistake: named here, as a bad option is, rather than an INTERNAL failure (or, for a store whose
    // appendToStream alone exists, a reply of nonsense) that hides it.
    const missing = STORE_METHODS.filter(
      (method) => typeof (store as unknown as Record<string, unknown> | null)?.[method] !== "function",
    );
    if (missing.length > 0) {
      throw new ValidationError("Invalid event store request options", [
        {
          path: ["store"],
          message: `store must be an EventStore (a SqliteEventStore over the object's storage); it has no ${missing.join("(), ")}()`,
        },
      ]);
    }
    // The arguments swapped, or no request: named, rather than a TypeError from reading its URL.
    const { url: href, method } = (request ?? {}) as Partial<Request>;
    let url: URL | undefined;
    try {
      url = typeof href === "string" && typeof method === "string" ? new URL(href) : undefined;
    } catch {
      url = undefined;
    }
    if (url === undefined) {
      throw new ValidationError("Invalid event store request options", [
        { path: ["request"], message: "request must be the Request the object's fetch received" },
      ]);
    }
    operation = url.pathname.slice(1);
    if (!Number.isSafeInteger(maxReplyBytes) || maxReplyBytes < 1) {
      throw new ValidationError("Invalid event store request options", [
        { path: ["maxReplyBytes"], message: "maxReplyBytes must be a positive integer" },
      ]);
    }
    // A misspelt `liv` served no live subscribers, and `maxReplyByte` the default size, without a word.
    assertKnownOptions(options, ["maxReplyBytes", "live", "ready"], "event store request options");
    if (live !== undefined && (typeof live?.accept !== "function" || typeof live.notify !== "function")) {
      throw new ValidationError("Invalid event store request options", [
        { path: ["live"], message: "live must be the object's LiveSubscribers" },
      ]);
    }
    if (ready !== undefined) {
      if (typeof (ready as { then?: unknown } | null)?.then !== "function") {
        throw new ValidationError("Invalid event store request options", [
          { path: ["ready"], message: "ready must be a promise (the store's migrate())" },
        ]);
      }
      await ready;
    }
    if (operation === "subscribe" && live !== undefined) {
      try {
        // Escapes of bytes that are not UTF-8 (`%ED%A0%80`) are refused, as by the live routes:
        // URLSearchParams reads them as U+FFFD, which names another stream, category or type.
        parseQuery(url.search.slice(1), (name) => SUBSCRIBE_PARAMETERS.has(name));
        const after = await subscribePosition(url.searchParams, store);
        return live.accept(request, after, filterFromQuery(url.searchParams));
      } catch (error) {
        // As the Hono live routes answer: a full object is 503 with Retry-After, a bad request 400.
        const code = isEventFlowsError(error) ? error.code : undefined;
        const full = code === LiveErrorCode.TooManyClients;
        return Response.json(
          { ok: false, error: toWireError(logHidden(error, operation), operation) } satisfies WireReply,
          {
            status: full ? 503 : code === ErrorCode.Validation ? 400 : 500,
            headers: full ? { "retry-after": "1" } : {},
          },
        );
      }
    }
    if (request.method !== "POST" || !OPERATIONS.includes(operation)) {
      throw new ValidationError("Invalid event store request", [
        { path: [], message: `POST one of /${OPERATIONS.join(", /")}` },
      ]);
    }
    const body = await requestBody(request);
    if (operation === "readStream" || operation === "readAll") {
      const events =
        operation === "readStream" ? store.readStream(body.streamId, body.options) : store.readAll(body.options);
      const readsMore = Number(request.headers.get(OBJECT_PROTOCOL_HEADER)) >= Number(OBJECT_PROTOCOL);
      return await readReply(events, maxReplyBytes, readsMore ? undefined : operation);
    }
    const value = await serve(store, operation as Exclude<Operation, "readStream" | "readAll">, body);
    // Pushed after the commit, without holding up the reply; a failure is logged and the next
    // append delivers again from each subscriber's position. A stream change appends its
    // `$stream-*` event to the feed, as an append does.
    if (operation === "append" || operation === "changeStream") live?.notify();
    return Response.json({ ok: true, value } satisfies WireReply);
  } catch (error) {
    // The status the HTTP adapters give the same error (a bad request 400, a conflict 409, …); the
    // client reads the reply's body whatever the status.
    return Response.json(
      { ok: false, error: toWireError(logHidden(error, operation), operation) } satisfies WireReply,
      {
        status: problemFor(isEventFlowsError(error) ? error : undefined).status,
      },
    );
  }
}

/**
 * A failure that is not one of ours crosses the wire as an opaque INTERNAL (its text may hold
 * internals): logged here, in the object, so that its cause is not lost with it.
 */
function logHidden(error: unknown, operation: string): unknown {
  if (!isEventFlowsError(error)) getLogger().error("event store object request failed", { operation, error });
  return error;
}

/** The request's body: a JSON object, whose `options` (for reads) is an object too when given. */
async function requestBody(request: Request): Promise<RequestBody> {
  const refuse = (path: string[], message: string) =>
    new ValidationError("Invalid event store request", [{ path, message }]);
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    throw refuse([], "the body must be JSON");
  }
  if (!isObject(body)) throw refuse([], "the body must be a JSON object");
  const options = (body as { options?: unknown }).options;
  if (options !== undefined && !isObject(options)) throw refuse(["options"], "options must be an object");
  return body as unknown as RequestBody;
}

function isObject(value: unknown): value is object {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** As sent by the client; the store validates every field as it would a direct call's. */
interface RequestBody {
  readonly streamId: string;
  readonly events: NewEvent[];
  /**
   * `append`: the indexes of the events whose data the client sealed (personal fields), so that the
   * object compares a retry of them without the sealed bytes, which differ on every seal. An older
   * client sends none (its retries of such events are refused, as they always were).
   */
  readonly sealed?: unknown;
  readonly expectedVersion: ExpectedVersion;
  readonly options: ReadStreamOptions & ReadAllOptions;
  /** `changeStream`: what to change, and for a truncation below which version. */
  readonly kind: StreamChange["kind"];
  readonly before: number;
  readonly metadata: StreamChange["metadata"];
}

async function serve(
  store: EventStore,
  operation: Exclude<Operation, "readStream" | "readAll">,
  body: RequestBody,
): Promise<unknown> {
  switch (operation) {
    case "append": {
      markSealedEvents(body);
      const result = await store.appendToStream(body.streamId, body.events, { expectedVersion: body.expectedVersion });
      return { events: result.events, retried: result.retried === true };
    }
    case "streamVersion":
      return store.getStreamVersion(body.streamId);
    case "lastPosition":
      return store.getLastGlobalPosition();
    case "changeStream": {
      const { version, removed, event } = await changeStream(store, body);
      return event === undefined ? { version, removed } : { version, removed, event };
    }
    case "deletionEvent":
      // JSON has no undefined: a stream that is not deleted answers null.
      return (await store.streamDeletionEvent(body.streamId)) ?? null;
  }
}

/** A client's deletion, restore or truncation, made by the object's own store (which checks every field). */
/** Marks the data the client said it sealed (see RequestBody.sealed); anything else there is ignored. */
function markSealedEvents(body: RequestBody): void {
  if (!Array.isArray(body.sealed) || !Array.isArray(body.events)) return;
  for (const index of body.sealed) {
    if (Number.isInteger(index)) markSealedRecord((body.events[index] as { data?: unknown } | undefined)?.data);
  }
}

function changeStream(store: EventStore, body: RequestBody): Promise<StreamChangeResult> {
  const { streamId, kind, expectedVersion, before, metadata } = body;
  switch (kind) {
    case "soft-delete":
    case "hard-delete":
      return store.deleteStream(streamId, {
        mode: kind === "hard-delete" ? "hard" : "soft",
        expectedVersion,
        metadata,
      });
    case "restore":
      return store.restoreStream(streamId, { expectedVersion, metadata });
    case "truncate":
      return store.truncateStream(streamId, { before, expectedVersion, metadata });
    default:
      throw new ValidationError("Invalid event store request", [
        { path: ["kind"], message: "kind must be soft-delete, hard-delete, restore or truncate" },
      ]);
  }
}

/**
 * A read's answer: the events as JSON, each stringified once, until the next would pass
 * `maxBytes` (UTF-8 bytes of JSON, as the answer travels; the first always goes). `more: true` when the answer ended there,
 * before the count asked for: the client asks again after its last event. For a client that does
 * not read `more` (`outdated`, the operation's name), an answer that would end there is refused.
 */
async function readReply(events: AsyncIterable<EventEnvelope>, maxBytes: number, outdated?: string): Promise<Response> {
  const parts: string[] = [];
  let size = 0;
  let more = false;
  for await (const event of events) {
    const text = JSON.stringify(event);
    const bytes = utf8Length(text);
    if (parts.length > 0 && size + bytes > maxBytes) {
      if (outdated !== undefined) {
        throw new ServiceError(
          OBJECT_SERVICE,
          outdated,
          "CLIENT_OUTDATED",
          false,
          "this read's answer passes maxReplyBytes, and the client would take a shorter answer for the end: update @eventflows/core where the DurableObjectEventStore runs",
        );
      }
      more = true;
      break;
    }
    parts.push(text);
    size += bytes + 1;
  }
  return new Response(`{"ok":true,"value":[${parts.join(",")}]${more ? ',"more":true' : ""}}`, {
    headers: { "content-type": "application/json" },
  });
}

export interface DurableObjectEventStoreOptions extends EventStoreOptions {
  /** The stub of the Durable Object that serves the store with {@link handleEventStoreRequest}. */
  readonly stub: DurableObjectStubLike;
}

const OBJECT_STORE_OPTIONS = Object.keys({ ...EVENT_STORE_OPTIONS, stub: true } satisfies Record<
  keyof DurableObjectEventStoreOptions,
  true
>);

/**
 * The event store of one Durable Object, used from a Worker: every call is one request to the
 * object, which runs it on its own SQLite storage. The object serves one request at a time, so its
 * appends are serialised; the feed and its positions are the object's own (nothing orders events
 * across objects). Appends are published to this store's bus, after the object committed them.
 */
export class DurableObjectEventStore extends EventStore {
  protected override readonly dbSystem: string = "sqlite";
  // Deletions are made by the object's store, which every append through it also checks.
  readonly capabilities: EventStoreCapabilities = { globalOrder: true, idempotentAppends: true, streamDeletion: true };
  readonly #stub: DurableObjectStubLike;

  constructor(options: DurableObjectEventStoreOptions) {
    assertKnownOptions(options, OBJECT_STORE_OPTIONS, "Durable Object event store options");
    if (typeof options?.stub?.fetch !== "function") {
      throw new ValidationError("Invalid Durable Object event store options", [
        { path: ["stub"], message: "stub must be a Durable Object stub (env.BINDING.get(id))" },
      ]);
    }
    super(options);
    this.#stub = options.stub;
  }

  protected async commit(
    streamId: string,
    events: readonly PendingEvent[],
    expectedVersion: ExpectedVersion,
  ): Promise<Committed> {
    // The timestamp travels too: an event's own time (an import's) must survive the hop to the object.
    const sent = events.map(({ id, type, data, metadata, timestamp }) => ({ id, type, data, metadata, timestamp }));
    const sealed = events.flatMap((event, i) => (isSealedRecord(event.data) ? [i] : []));
    const body =
      sealed.length === 0
        ? { streamId, events: sent, expectedVersion }
        : { streamId, events: sent, sealed, expectedVersion };
    const result = (await this.#call("append", body)) as Committed | null;
    if (typeof result !== "object" || result === null || !Array.isArray(result.events)) throw badReply("append");
    if (!result.events.every(isWireEvent)) throw badReply("append");
    return result.retried ? result : { events: result.events };
  }

  protected async *readStreamEvents(
    streamId: string,
    options: ReadStreamOptions,
  ): AsyncGenerator<EventEnvelope, void, undefined> {
    const backward = options.direction === "backward";
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    let from = options.fromVersion;
    while (remaining > 0) {
      const maxCount = Math.min(PAGE, remaining);
      const { value: page, more } = await this.#read("readStream", {
        streamId,
        options: {
          direction: options.direction ?? "forward",
          maxCount,
          ...(from === undefined ? {} : { fromVersion: from }),
        },
      });
      for (const event of page) yield event;
      remaining -= page.length;
      const last = page[page.length - 1];
      if ((page.length < maxCount && !more) || last === undefined) return;
      from = backward ? last.version - 1 : last.version + 1;
      if (from < 1) return;
    }
  }

  protected async *readAllEvents(options: ReadAllOptions): AsyncGenerator<EventEnvelope, void, undefined> {
    let remaining = options.maxCount ?? Number.POSITIVE_INFINITY;
    let after = options.after ?? 0;
    while (remaining > 0) {
      const maxCount = Math.min(PAGE, remaining);
      const { value: page, more } = await this.#read("readAll", { options: { after, maxCount } });
      for (const event of page) yield event;
      remaining -= page.length;
      const last = page[page.length - 1];
      if ((page.length < maxCount && !more) || last === undefined) return;
      after = last.globalPosition ?? after;
    }
  }

  /**
   * Follows the object's feed as the object pushes it (see `LiveSubscribers`): no polling, one
   * WebSocket held open, events handled one at a time in global order from `after`. When the
   * connection drops or a handler throws, it connects again from the last handled position. Only
   * in workerd: the object must serve live subscribers, and `stub.fetch` must give WebSockets.
   */
  subscribeLive<E extends EventEnvelope = EventEnvelope>(options: SubscribeLiveOptions<E>): StoreSubscription {
    const registry = this.eventRegistry;
    // Checked here as the object checks it: a filter it refuses would be refused on every reconnect.
    const filter = options?.filter === undefined ? {} : checkFilter(options.filter);
    const connect = async (after: number): Promise<ClientWebSocketLike> => {
      const query = filterToQuery(filter, new URLSearchParams({ after: String(after) }));
      let response: Response;
      try {
        response = await this.#stub.fetch(`https://event-store.object/subscribe?${query}`, {
          headers: { upgrade: "websocket" },
        });
      } catch (error) {
        throw unavailable("subscribe", error);
      }
      const socket = (response as { webSocket?: ClientWebSocketLike | null }).webSocket;
      if (socket === undefined || socket === null) {
        const reply: unknown = await response.json().catch(() => undefined);
        if (isWireReply(reply) && !reply.ok) throw fromWireError(reply.error);
        throw new ServiceError(OBJECT_SERVICE, "subscribe", "NO_WEBSOCKET", false, "the object accepted no WebSocket");
      }
      return socket;
    };
    const personal = this.personalData;
    return startLiveSubscription(
      connect,
      options as SubscribeLiveOptions,
      registry === undefined ? undefined : (stored) => registry.upcastEvent(stored),
      personal === undefined ? undefined : (stored) => personal.decryptEvent(stored),
    );
  }

  protected async streamVersion(streamId: string): Promise<number> {
    return this.#count("streamVersion", { streamId });
  }

  /**
   * The object's store decides and commits the change in its own transaction; the lifecycle event's
   * id and time are its own. The client publishes the event to its bus, as it does its appends.
   */
  protected override async commitStreamChange(change: StreamChange): Promise<StreamChangeCommit> {
    const { kind, streamId, expectedVersion, before, metadata } = change;
    const commit = (await this.#call("changeStream", {
      kind,
      streamId,
      expectedVersion,
      before,
      metadata,
    })) as StreamChangeCommit | null;
    if (
      typeof commit !== "object" ||
      commit === null ||
      !isWireCount(commit.version) ||
      !isWireCount(commit.removed) ||
      (commit.event !== undefined && !isWireEvent(commit.event))
    ) {
      throw badReply("changeStream");
    }
    return commit;
  }

  /** What an empty append checks (after the version, as the default does): the object's deletion record. */
  protected override async deletionEvent(streamId: string): Promise<EventEnvelope | undefined> {
    const event = await this.#call("deletionEvent", { streamId });
    if (event !== null && !isWireEvent(event)) throw badReply("deletionEvent");
    return (event as EventEnvelope | null) ?? undefined;
  }

  override async getLastGlobalPosition(): Promise<number> {
    return this.#count("lastPosition", {});
  }

  async #call(operation: Operation, body: unknown): Promise<unknown> {
    return (await this.#reply(operation, body)).value;
  }

  /** A version or position the object answers: anything else was handed on as one (a string, null, a list). */
  async #count(operation: "streamVersion" | "lastPosition", body: unknown): Promise<number> {
    const value = await this.#call(operation, body);
    if (!isWireCount(value)) throw badReply(operation);
    return value;
  }

  /** A read's events, and whether the object ended its answer early (its byte bound) with more to read. */
  async #read(operation: "readStream" | "readAll", body: unknown): Promise<{ value: EventEnvelope[]; more: boolean }> {
    const reply = await this.#reply(operation, body);
    // Each event is checked too: a null one was yielded to the caller, and paging on read its version.
    if (!Array.isArray(reply.value) || !reply.value.every(isWireEvent)) throw badReply(operation);
    return { value: reply.value as EventEnvelope[], more: (reply as { more?: unknown }).more === true };
  }

  async #reply(operation: Operation, body: unknown): Promise<WireReply & { ok: true }> {
    let reply: unknown;
    try {
      const response = await this.#stub.fetch(`https://event-store.object/${operation}`, {
        method: "POST",
        headers: { "content-type": "application/json", [OBJECT_PROTOCOL_HEADER]: OBJECT_PROTOCOL },
        body: JSON.stringify(body),
      });
      reply = await response.text();
    } catch (error) {
      // The object was unreachable, reset or overloaded: an append may or may not have committed;
      // retrying it with the same event ids is safe (idempotent appends).
      throw unavailable(operation, error);
    }
    try {
      reply = JSON.parse(reply as string);
    } catch {
      // It answered, with text of its own ("Not found", a page): its fetch does not call
      // handleEventStoreRequest, which retrying cannot change.
      throw badReply(operation);
    }
    if (!isWireReply(reply)) throw badReply(operation);
    if (!reply.ok) throw fromWireError(reply.error);
    return reply;
  }
}

/** The object was unreachable, reset or overloaded: a retryable ServiceError, the runtime's message as its cause. */
function unavailable(operation: string, error: unknown): ServiceError {
  return new ServiceError(OBJECT_SERVICE, operation, "UNAVAILABLE", true, "the Durable Object did not answer", {
    cause: error instanceof Error ? new Error(error.message) : undefined,
  });
}
