import type { EventMetadata } from "../events/envelope.js";
import { ulid } from "../ids.js";

export type MessageKind = "command" | "query";

/** Per-type payload and result: `{ PlaceOrder: { payload: {...}; result: {...} } }`. */
export type MessageMap = { readonly [type: string]: { readonly payload: unknown; readonly result: unknown } };

export type PayloadOf<M extends MessageMap, T extends keyof M> = M[T]["payload"];
export type ResultOf<M extends MessageMap, T extends keyof M> = M[T]["result"];

// `| undefined` on the optional fields: absent and undefined are one (a caller forwarding
// `event.metadata.correlationId`, which may be absent, compiles under exactOptionalPropertyTypes).
export interface MessageMetadata {
  readonly correlationId?: string | undefined;
  readonly causationId?: string | undefined;
  /** The caller's identity, if an auth layer set one. */
  readonly userId?: string | undefined;
  readonly [key: string]: unknown;
}

/** A command or query in flight, as hooks, middleware and handlers see it. */
export interface Message<Type extends string = string, Payload = unknown> {
  readonly kind: MessageKind;
  /** A ULID, made on first read: dispatch that never looks at it pays nothing for it. */
  readonly id: string;
  readonly type: Type;
  readonly payload: Payload;
  readonly metadata: MessageMetadata;
  readonly signal: AbortSignal | undefined;
}

export interface ExecuteOptions {
  readonly metadata?: MessageMetadata;
  /** Use this message id instead of a fresh one (an idempotency key, say). */
  readonly id?: string;
  readonly signal?: AbortSignal;
}

export class DispatchedMessage<Type extends string, Payload> implements Message<Type, Payload> {
  #id: string | undefined;
  constructor(
    readonly kind: MessageKind,
    readonly type: Type,
    readonly payload: Payload,
    readonly metadata: MessageMetadata,
    readonly signal: AbortSignal | undefined,
    id: string | undefined,
  ) {
    this.#id = id;
  }

  get id(): string {
    this.#id ??= ulid();
    return this.#id;
  }
}

/**
 * Metadata for the events a command causes: the command's correlation id (or its own id when it
 * starts the conversation) and the command's id as causation.
 */
export function eventMetadataFor(message: Message): EventMetadata {
  return { correlationId: message.metadata.correlationId ?? message.id, causationId: message.id };
}
