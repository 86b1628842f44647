import type { DomainEvent, EventEnvelope, EventMetadata } from "../events/envelope.js";

/**
 * A schema as the Standard Schema interface describes it (`~standard`): every valibot schema is one,
 * so are zod's and ArkType's. The core calls only `validate`, and so never imports a schema library.
 */
export interface StandardSchema<Output = unknown> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: unknown; readonly output: Output } | undefined;
  };
}

/** What `~standard.validate` returns: the value, or the problems found. */
export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: readonly StandardIssue[] };

export interface StandardIssue {
  readonly message: string;
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
}

/** The data of the member of the event union `E` whose type is `T`. */
export type DataOf<E extends DomainEvent, T extends E["type"]> = E extends DomainEvent<T> ? E["data"] : never;

/**
 * An event an upcaster produces: a type and its data at the next schema version, of one member of
 * `E` (the data must be that type's). `metadata` replaces the stored event's metadata when given;
 * `schemaVersion` is the produced event's version (see {@link EventRegistry.split} for its default).
 */
export type UpcastEvent<E extends DomainEvent = DomainEvent> = E extends DomainEvent
  ? {
      readonly type: E["type"];
      readonly data: E["data"];
      readonly metadata?: EventMetadata;
      readonly schemaVersion?: number;
    }
  : never;

/** One step of a chain: an event of `type` at `fromVersion` becomes one or more events. */
export type UpcastStep = DataStep | EventStep;

/** A step that changes the data only (`upcast`): the type stays, the version goes up by one. */
export interface DataStep {
  readonly type: string;
  readonly fromVersion: number;
  readonly kind: "upcast";
  readonly upcast: (data: unknown, event: EventEnvelope) => unknown;
  /** Whether `upcast` reads its second argument: the envelope is built for it only then. */
  readonly wantsEvent: boolean;
}

/** A step that may change the type or make several events (`rename`, `split`). */
export interface EventStep {
  readonly type: string;
  readonly fromVersion: number;
  readonly kind: "rename" | "split";
  /** The events this step makes, each with the version it is at. */
  readonly apply: (event: EventEnvelope) => readonly UpcastEvent[];
}
