import { MAX_CHECKPOINT_ID_LENGTH } from "../checkpoint/checkpoint-store.js";
import { type Issue, ValidationError } from "../errors.js";
import { isStreamLifecycleEvent } from "../event-store/stream-deletion.js";
import type { EventEnvelope } from "../events/envelope.js";
import { categoryOf, categorySeparatorIssue } from "../events/stream.js";
import { jsonIssues } from "../internal/json.js";
import { functionIssues, kindOf, nameIssues, unknownKeyIssues } from "../internal/validate.js";
import type { ReadModelWriter } from "./read-model-store.js";

/** What a projection's handler gets besides the event. */
export interface ProjectionContext<S> {
  /**
   * Where to write documents. Writes made here commit together with the projection's checkpoint
   * (and its state) when the read-model store is transactional, and roll back with them.
   */
  readonly readModels: ReadModelWriter;
  /** The projection's state before this event: `initialState` at first, then what `handle` returned. */
  readonly state: S;
}

/** The handler's result: a projection with `initialState` returns its next state (or nothing to keep it). */
export type ProjectionResult<S> = S | undefined | Promise<S | undefined> | void | Promise<void>;

/** The part of a definition that filters the feed; an event must pass every filter given. */
export interface ProjectionFilters<Type extends string> {
  /** Only these streams (exact stream ids). */
  readonly streams?: readonly string[];
  /** Only streams of these categories (`Cart` for `Cart-01J...`, see `categoryOf`). */
  readonly categories?: readonly string[];
  /**
   * Only these event types. Required when the handler is typed with an event union. List
   * `$stream-deleted` (and `$stream-restored`, `$stream-truncated`) to be told when a stream that
   * passes `streams`/`categories` is deleted: those events pass the stream filters by the stream they name.
   */
  readonly types?: readonly Type[];
}

interface DefinitionBase<E extends EventEnvelope, S> extends ProjectionFilters<E["type"]> {
  /** Names the checkpoint, the state and the lock: one name, one position, one active runner. */
  readonly name: string;
  /**
   * Handles one event. Throwing stops the runner with a `ProjectionFailedError` (the batch rolls
   * back; the event is retried when the runner starts again, never skipped).
   */
  readonly handle: (event: E, context: ProjectionContext<NoInfer<S>>) => ProjectionResult<NoInfer<S>>;
  /** The state before the first event; give it to keep state (it is stored as a JSON document). */
  readonly initialState?: S;
  /**
   * The document an event's handler will read, as `[collection, id]` (or undefined: none). A runner
   * loads the documents of a whole batch's events ahead, in one read where the store has one
   * (PostgreSQL), so the handler's first `get` of each makes no round trip. Only a hint: the handler
   * may read other documents, and sees its own writes as before.
   */
  readonly prefetch?: (event: E) => PrefetchKey | undefined;
}

/** A document to load ahead: its collection and id. */
export type PrefetchKey = readonly [collection: string, id: string];

/**
 * A projection's definition. `E` is the envelope union the handler handles (`EnvelopeOf<CartEvent>`,
 * inferred from the handler's annotation or given explicitly): when it is narrower than every event,
 * `types` is required and may list only its types, so the handler never sees an event it did not
 * declare.
 */
export type ProjectionDefinition<E extends EventEnvelope, S> = DefinitionBase<E, S> &
  (string extends E["type"] ? unknown : { readonly types: readonly E["type"][] });

/** A checked projection definition, ready for a runner (`ProjectionRunner`) or an inline step. */
export interface Projection<E extends EventEnvelope = EventEnvelope, S = undefined> {
  readonly name: string;
  readonly streams: readonly string[] | undefined;
  readonly categories: readonly string[] | undefined;
  readonly types: readonly E["type"][] | undefined;
  readonly initialState: S | undefined;
  /** Whether the projection keeps state (it was given an `initialState`). */
  readonly stateful: boolean;
  readonly handle: (event: E, context: ProjectionContext<S>) => ProjectionResult<S>;
  /** The document each event's handler will read, loaded ahead per batch (see the definition). */
  readonly prefetch: ((event: E) => PrefetchKey | undefined) | undefined;
  /** Whether the definition's filters take this event. */
  matches(event: EventEnvelope): event is E;
}

/** The longest projection name: the checkpoint id (`projection:` and the name) must fit the checkpoint store. */
export const MAX_PROJECTION_NAME_LENGTH = MAX_CHECKPOINT_ID_LENGTH - "projection:".length;

/**
 * Declares a projection: a read model built from the events that pass its filters, run by a
 * `ProjectionRunner` over the global feed. The definition is checked here, once.
 * @throws {ValidationError} a missing name or handler, or malformed filters.
 */
export function projection<E extends EventEnvelope = EventEnvelope, S = undefined>(
  definition: ProjectionDefinition<E, S>,
): Projection<E, S> {
  const issues = definitionIssues(definition);
  if (issues.length > 0) throw new ValidationError("Invalid projection", issues);
  const { name, streams, categories, types, handle, initialState, prefetch } = definition as DefinitionBase<E, S>;
  const streamSet = streams === undefined ? undefined : new Set(streams);
  const categorySet = categories === undefined ? undefined : new Set(categories);
  const typeSet = types === undefined ? undefined : new Set<string>(types);
  const stateful = "initialState" in definition && initialState !== undefined;
  return Object.freeze({
    name,
    streams: streams === undefined ? undefined : Object.freeze([...streams]),
    categories: categories === undefined ? undefined : Object.freeze([...categories]),
    types: types === undefined ? undefined : Object.freeze([...types]),
    initialState,
    stateful,
    handle,
    prefetch,
    matches: (event: EventEnvelope): event is E => {
      if (typeSet !== undefined && !typeSet.has(event.type)) return false;
      // A lifecycle event the projection asked for by type passes its stream filters by the stream
      // it is about: how a projection of one category learns that one of its streams was deleted.
      const streamId = typeSet !== undefined && isStreamLifecycleEvent(event) ? event.data.streamId : event.streamId;
      return (
        (streamSet === undefined || streamSet.has(streamId)) &&
        (categorySet === undefined || categorySet.has(categoryOf(streamId)))
      );
    },
  });
}

const DEFINITION_KEYS = [
  "name",
  "streams",
  "categories",
  "types",
  "handle",
  "initialState",
  "prefetch",
] as const satisfies readonly (keyof DefinitionBase<EventEnvelope, unknown>)[];

function definitionIssues(definition: unknown): Issue[] {
  if (typeof definition !== "object" || definition === null) {
    return [{ path: [], message: `a projection definition is an object, got ${kindOf(definition)}` }];
  }
  const d = definition as Partial<DefinitionBase<EventEnvelope, unknown>>;
  // A misspelt key was dropped without a word: `categroies` made a projection of every category.
  const issues: Issue[] = unknownKeyIssues(definition, DEFINITION_KEYS);
  if (typeof d.name !== "string" || d.name.trim() === "") {
    issues.push({ path: ["name"], message: "a projection needs a non-empty name" });
  } else {
    // The rule its checkpoint id is held to (its length in UTF-16 code units, a control character, a
    // lone surrogate): refused here, where it is written, not at the runner's first catch-up.
    issues.push(...nameIssues(d.name, "projection name", MAX_PROJECTION_NAME_LENGTH, ["name"]));
  }
  issues.push(...functionIssues(d.handle, "handle", true), ...functionIssues(d.prefetch, "prefetch"));
  // Stored with the checkpoint: a NaN or a U+0000 was refused at the first commit, which the runner
  // took for a passing failure and retried for ever.
  if (d.initialState !== undefined) issues.push(...jsonIssues(d.initialState, ["initialState"], { refuseNul: true }));
  for (const key of ["streams", "categories", "types"] as const) {
    const list = d[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.some((item) => typeof item !== "string" || item === "")) {
      issues.push({ path: [key], message: `${key} must be an array of non-empty strings` });
    } else if (list.length === 0) {
      // Taken, it matched nothing: the runner read every event and handed none to the handler.
      issues.push({ path: [key], message: `${key} must list at least one: an empty list would match no event` });
    } else if (key === "categories") {
      list.forEach((item: string, index) => {
        const issue = categorySeparatorIssue(item, "list a stream under streams");
        if (issue !== undefined) issues.push({ path: [key, index], message: issue });
      });
    }
  }
  return issues;
}
