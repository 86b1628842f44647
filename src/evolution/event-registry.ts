import { type Issue, isEventFlowsError, UpcastError, ValidationError } from "../errors.js";
import type { EventPages } from "../event-store/read-pages.js";
import {
  type DomainEvent,
  type EventEnvelope,
  type EventMetadata,
  metadataIssues,
  type PendingEvent,
} from "../events/envelope.js";
import { isJsonData, jsonIssues, jsonRoundTrip, MAX_JSON_DEPTH_LIMIT } from "../internal/json.js";
import { objectShapeCheck } from "../internal/object-shape.js";
import {
  assertFunction,
  assertKnownOptions,
  assertPositiveInteger,
  assertTypeName,
  kindOf,
  MAX_TYPE_LENGTH,
  nameIssues,
} from "../internal/validate.js";
import { schemaIssues } from "./schema-issues.js";
import { markSplitParts, splitEventId } from "./split-ids.js";
import type { StandardSchema, UpcastEvent, UpcastStep } from "./types.js";
import { upcastingReader } from "./upcasting-reader.js";

export interface EventRegistryOptions {
  /**
   * Also check every event read against the schema registered for its type and (upcast) version.
   * A stored event that fails throws a `ValidationError` naming the stream, version and type.
   * Only synchronous schemas are checked on read. Defaults to false: appends are checked always.
   */
  readonly validateOnRead?: boolean;
}

/** A registered schema, as `schemas()` lists them (for JSON Schema and OpenAPI documents). */
export interface RegisteredSchema {
  readonly type: string;
  readonly version: number;
  readonly schema: StandardSchema;
  /** Whether this is the type's current version: the one appends are stamped with. */
  readonly current: boolean;
}

// A chain that is still going after this many steps loops (renames back and forth).
const MAX_CHAIN = 1000;

/**
 * What the application knows about its event types over time: upcasters from each schema version
 * to the next (changing data, renaming a type, splitting one event into several) and schemas per
 * type and version. Give it to a store as `eventRegistry`: every read path (`readStream`, `readAll`,
 * `subscribeToAll`, repositories and snapshot tails, what the store publishes) then yields events
 * at their current version, and every append is stamped with its type's current `schemaVersion`
 * and checked against its schema. `E` is the union of the current events: what handlers see.
 */
export class EventRegistry<E extends DomainEvent = DomainEvent> {
  /** Each known type's steps by the version they start from, and its reach: one lookup per event read. */
  readonly #steps = new Map<string, TypeSteps>();
  readonly #schemas = new Map<string, Map<number, SchemaEntry>>();
  readonly #current = new Map<string, number>();
  /** The oldest version of each type a step, a schema or a rename's target names: where its chain starts. */
  readonly #oldest = new Map<string, number>();
  readonly #validateOnRead: boolean;
  /** Whether the steps and schemas registered so far were checked for holes (see #assertChains). */
  #chainsChecked = false;

  constructor(options: EventRegistryOptions = {}) {
    // A misspelt key was ignored: `validateOnRaed: true` left every read unchecked.
    assertKnownOptions(options, ["validateOnRead"], "event registry options");
    const validateOnRead = (options as EventRegistryOptions | null)?.validateOnRead;
    if (validateOnRead !== undefined && typeof validateOnRead !== "boolean") {
      throw new ValidationError("Invalid event registry options", [
        { path: ["validateOnRead"], message: `must be a boolean, got ${kindOf(validateOnRead)}` },
      ]);
    }
    this.#validateOnRead = validateOnRead ?? false;
  }

  /**
   * Registers the step from `fromVersion` to `fromVersion + 1` of `type`: `upcaster` gets the data at
   * `fromVersion` (and the envelope) and returns the data at the next version. Annotate the last
   * step's return type with `DataOf<E, type>` to have the compiler check it yields the current shape.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the stored shape is whatever the caller says it was
  upcast<T extends string, From = any, To = unknown>(
    type: T,
    fromVersion: number,
    upcaster: (data: From, event: EventEnvelope<T, From>) => To,
  ): this {
    assertFunction(upcaster, "upcaster", "upcaster");
    return this.#add({
      type,
      fromVersion,
      kind: "upcast",
      upcast: upcaster as (data: unknown, event: EventEnvelope) => unknown,
      wantsEvent: upcaster.length > 1,
    });
  }

  /**
   * Renames `type` from `fromVersion` on: its events become `to` events, data unchanged, at `to`'s
   * version `toVersion` (default 1), from where `to`'s own upcasters continue.
   */
  rename<T extends string>(type: T, fromVersion: number, to: E["type"], toVersion = 1): this {
    assertTypeName(to, "event type");
    assertPositiveInteger(toVersion, "toVersion");
    this.#add({
      type,
      fromVersion,
      kind: "rename",
      apply: (event) => [{ type: to, data: event.data, schemaVersion: toVersion }],
    });
    // After the step is taken (a duplicate is refused): the target's chain now reaches toVersion.
    this.#raise(to, toVersion);
    return this;
  }

  /**
   * Splits each event of `type` at `fromVersion` into the events `splitter` returns (one or more).
   * Each produced event is at its `schemaVersion`; without one, at `fromVersion + 1` when it keeps
   * the type, at version 1 of another type. The produced events share the stored event's `version`
   * and `globalPosition`; the first keeps its id, the others get ids derived from it.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the stored shape is whatever the caller says it was
  split<T extends string, From = any>(
    type: T,
    fromVersion: number,
    splitter: (event: EventEnvelope<T, From>) => readonly UpcastEvent<E>[],
  ): this {
    assertFunction(splitter, "splitter", "splitter");
    return this.#add({
      type,
      fromVersion,
      kind: "split",
      apply: (event) => {
        const produced = splitter(event as EventEnvelope<T, From>);
        if (produced instanceof Promise) produced.catch(() => undefined); // never awaited: splitters are synchronous
        if (!Array.isArray(produced) || produced.length === 0) {
          throw new ValidationError(`The splitter of "${type}" v${fromVersion} returned no events${forEvent(event)}`, [
            { path: [type, fromVersion], message: `must return a non-empty array, got ${kindOf(produced)}` },
          ]);
        }
        const issues = produced.flatMap(partIssues);
        if (issues.length > 0) {
          throw new ValidationError(
            `The splitter of "${type}" v${fromVersion} returned malformed events${forEvent(event)}`,
            issues,
          );
        }
        const parts = produced.map((e) =>
          e.schemaVersion !== undefined ? e : { ...e, schemaVersion: e.type === type ? fromVersion + 1 : 1 },
        );
        const ahead = this.#aheadIssues(parts);
        if (ahead.length > 0) {
          throw new ValidationError(
            `The splitter of "${type}" v${fromVersion} returned events above their type's versions${forEvent(event)}`,
            ahead,
          );
        }
        return parts;
      },
    });
  }

  /**
   * Registers the schema of `type` at `version` (any Standard Schema: a valibot schema, say). Appends
   * of that version are checked against it; older versions keep their own schemas, so events stored
   * under them still read.
   */
  schema<T extends E["type"]>(type: T, version: number, schema: StandardSchema): this {
    assertTypeName(type, "event type");
    assertPositiveInteger(version, "version");
    // Read once, in a try: a getter that throws (a Proxy's, a broken wrapper's) is no Standard Schema,
    // and its own error, whose text the library cannot vouch for, left as a raw Error before.
    let vendor: unknown;
    let standard = false;
    try {
      standard = typeof schema?.["~standard"]?.validate === "function";
      vendor = standard ? schema["~standard"].vendor : undefined;
    } catch {
      standard = false;
    }
    if (!standard) {
      throw new ValidationError("Invalid event schema", [
        { path: [type, version], message: "must be a Standard Schema (a valibot schema, for instance)" },
      ]);
    }
    const byVersion = this.#schemas.get(type) ?? new Map<number, SchemaEntry>();
    if (byVersion.has(version)) {
      // As for steps: a second schema for one version is a mistake (a version not bumped), not a replacement.
      throw new ValidationError("Duplicate event schema", [
        { path: [type, version], message: `"${type}" v${version} already has a schema` },
      ]);
    }
    // valibot's object schemas take an array: the walk that refuses it is decided here, once per schema.
    const misplacedArrays = vendor === "valibot" ? objectShapeCheck(schema) : undefined;
    byVersion.set(version, { schema, misplacedArrays });
    this.#schemas.set(type, byVersion);
    this.#chainsChecked = false;
    this.#raise(type, version);
    return this;
  }

  /**
   * Throws a `ValidationError` if a type's chain has a hole: from the oldest version a step, a schema
   * or a rename's target names to its current version, every version must have a step (steps from
   * v1, a schema of v3 and no step from v2: an event stored at v2 would reach handlers as v2). Stores
   * and the SQS consumer call it when they are given the registry; its first use after a later
   * registration (an append, a read, `upcastEvent`) calls it again.
   */
  check(): void {
    if (!this.#chainsChecked) this.#assertChains();
  }

  /**
   * The version new events of `type` are stamped with: the highest version a schema, an upcaster of
   * it or a rename to it reaches (for a renamed or split type, the version its last step starts from, so that new
   * events of the old type are transformed too). Undefined for a type the registry does not know.
   */
  currentVersion(type: string): number | undefined {
    return this.#current.get(type);
  }

  /** Every registered schema, by type and version. */
  schemas(): RegisteredSchema[] {
    const list: RegisteredSchema[] = [];
    for (const [type, byVersion] of this.#schemas) {
      for (const [version, { schema }] of byVersion) {
        list.push({ type, version, schema, current: this.#current.get(type) === version });
      }
    }
    return list;
  }

  /**
   * The event at its current version: unchanged (the same object) when no step applies, one new
   * envelope after upcasts and renames, several after a split. Stored events are never changed.
   */
  upcastEvent(event: EventEnvelope): EventEnvelope | readonly EventEnvelope[] {
    if (!this.#chainsChecked) this.#assertChains();
    try {
      return this.#upcast(event);
    } catch (error) {
      if (isEventFlowsError(error)) throw error;
      // Not an envelope (a JavaScript caller's mistake): checked only here, off the read path.
      const given = (event as Partial<EventEnvelope> | null | undefined)?.metadata;
      if (typeof given !== "object" || given === null) {
        throw new ValidationError("upcastEvent takes an event envelope", [
          { path: [], message: `must be an event envelope with metadata, got ${kindOf(event)}` },
        ]);
      }
      // A user's upcaster threw: name the stored event (never its data), keep their error as the cause.
      const { streamId, version, type, metadata } = event;
      throw new UpcastError(streamId, version, type, metadata.schemaVersion ?? 1, { cause: error });
    }
  }

  #upcast(event: EventEnvelope): EventEnvelope | readonly EventEnvelope[] {
    let version = event.metadata.schemaVersion ?? 1;
    if (!Number.isSafeInteger(version) || version < 1) {
      // Written by another tool, or by hand: no step nor schema of a known type can be chosen for it.
      if (this.#current.has(event.type)) {
        throw new ValidationError(`The stored schemaVersion of "${event.type}" is not a version${forEvent(event)}`, [
          {
            path: ["metadata", "schemaVersion"],
            message: `must be a positive integer, got ${kindOf(version)}`,
          },
        ]);
      }
      return event;
    }
    const byVersion = this.#steps.get(event.type);
    let step = byVersion?.get(version);
    if (step === undefined) {
      // Written by a newer release (or by a store without this registry): no step of this code reads it.
      if (byVersion !== undefined && version > byVersion.reach) newerThanKnown(event, version, byVersion.reach);
      return this.#checkRead(event, version);
    }
    // The common chain, data steps only, in a loop: no list, no recursion, one envelope at the end.
    const storedVersion = version;
    // A rename hands the data on untouched; an upcaster or splitter may change it in place.
    let data = step.kind === "rename" ? event.data : writable(event.data);
    while (step?.kind === "upcast") {
      const at = step.wantsEvent ? envelopeAt(event, event.type, data, event.metadata, version) : undefined;
      data = step.upcast(data, at as EventEnvelope);
      if (data === undefined || data instanceof Promise) upcastNoData(data, event, event.type, version);
      step = byVersion?.get(++version);
    }
    if (step === undefined) {
      if (!isJsonData(data)) notJson(event, "upcaster", event.type, version - 1, data, event.metadata);
      return this.#checkRead(envelopeAt(event, event.type, data, event.metadata, version), version);
    }
    const out: EventEnvelope[] = [];
    const by: MadeBy | undefined =
      version === storedVersion ? undefined : { kind: "upcaster", type: event.type, version: version - 1 };
    this.#run(event, event.type, data, event.metadata, version, out, 0, by);
    if (out.length === 1) return out[0] as EventEnvelope;
    const parts = out.map((e, i) => (i === 0 ? e : { ...e, id: splitEventId(event.id, i) }));
    markSplitParts(parts);
    return parts;
  }

  /**
   * @internal A read's pages at their current versions: what a store's reads go through (see
   * upcasting-reader.ts). Reached through the registry, not imported by the store base, so that a
   * store given no registry bundles none of the reader.
   */
  upcastPages(pages: EventPages): EventPages {
    return upcastingReader(pages, this);
  }

  /**
   * For appends: stamps events of known types that carry no `schemaVersion` with the current one,
   * and checks each against the schema of its version; a version above what a read of a known type
   * takes as it is (its current one; after a split of it at the current one, the version after it) is
   * refused, as is one below its oldest. Throws one `ValidationError` with every issue.
   */
  async prepareAppend(events: readonly PendingEvent[]): Promise<readonly PendingEvent[]> {
    if (!this.#chainsChecked) this.#assertChains();
    let prepared = events;
    const issues: Issue[] = [];
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as PendingEvent;
      let version = event.metadata.schemaVersion;
      const current = this.#current.get(event.type);
      if (version === undefined) {
        version = current;
        if (version !== undefined) {
          if (prepared === events) prepared = [...events];
          (prepared as PendingEvent[])[i] = { ...event, metadata: { ...event.metadata, schemaVersion: version } };
        }
      } else if (current !== undefined && version > (this.#steps.get(event.type) as TypeSteps).reach) {
        // No step or schema knows this version: its data could be checked against nothing, nor read.
        // The bound is the type's reach, as on read: after a split of the type, the version a part
        // that keeps it is at (read as it is) appends too, above the current version new events get.
        issues.push({
          path: [i, "metadata", "schemaVersion"],
          message: `"${event.type}" is at most at v${(this.#steps.get(event.type) as TypeSteps).reach} in the event registry, got v${version}`,
        });
        continue;
      } else if (current !== undefined && version < (this.#oldest.get(event.type) as number)) {
        // Below the type's chain: no schema checks it and it would read as it is, in a shape no handler expects.
        issues.push({
          path: [i, "metadata", "schemaVersion"],
          message: `"${event.type}" starts at v${this.#oldest.get(event.type)} in the event registry, got v${version}`,
        });
        continue;
      }
      const entry = this.#schemas.get(event.type)?.get(version ?? 1);
      if (entry !== undefined) {
        const misplaced = misplacedIssues(entry, event.data, [i, "data"]);
        if (misplaced !== undefined) issues.push(...misplaced);
        else
          issues.push(
            ...(await schemaIssues(entry.schema, event.data, [i, "data"], `"${event.type}" v${version ?? 1}`)),
          );
      }
    }
    if (issues.length > 0) throw new ValidationError("Invalid events", issues);
    return prepared;
  }

  #run(
    stored: EventEnvelope,
    type: string,
    data: unknown,
    metadata: EventMetadata,
    version: number,
    out: EventEnvelope[],
    depth: number,
    made?: MadeBy,
  ): void {
    let by = made;
    const at = (): EventEnvelope => envelopeAt(stored, type, data, metadata, version);
    for (let steps = depth; ; steps++) {
      const step = this.#steps.get(type)?.get(version);
      if (step === undefined) {
        // Only what a step returned is walked (the same object too: an upcaster may change it in place);
        // after renames alone the data is the stored one, which came from the store as JSON.
        if ((by !== undefined && !isJsonData(data)) || metadata !== stored.metadata) {
          notJson(stored, by?.kind ?? "upcaster", by?.type ?? type, by?.version ?? version, data, metadata);
        }
        out.push(this.#checkRead(at(), version));
        return;
      }
      if (steps >= MAX_CHAIN) {
        throw new ValidationError(`The upcasters of "${stored.type}" loop${forEvent(stored)}`, [
          { path: [type, version], message: `still upcasting after ${MAX_CHAIN} steps: do renames go in a circle?` },
        ]);
      }
      // Still the stored data after renames alone: the first step that may change it gets its own copy.
      if (step.kind !== "rename" && data === stored.data) data = writable(data);
      if (step.kind === "upcast") {
        // The common step: data in, data out; no envelope is built unless the upcaster reads it.
        data = step.upcast(data, step.wantsEvent ? at() : (undefined as never));
        if (data === undefined || data instanceof Promise) upcastNoData(data, stored, type, version);
        by = { kind: "upcaster", type, version };
        version++;
        continue;
      }
      const produced = step.apply(at());
      // A rename hands the data on as it is: what it holds was made by the step before.
      if (step.kind === "split") by = { kind: "splitter", type, version };
      if (produced.length !== 1) {
        for (const e of produced) {
          const next = e.schemaVersion ?? version + 1;
          this.#run(stored, e.type, e.data, e.metadata ?? metadata, next, out, steps + 1, by);
        }
        return;
      }
      const only = produced[0] as UpcastEvent;
      type = only.type;
      data = only.data;
      metadata = only.metadata ?? metadata;
      version = only.schemaVersion ?? version + 1;
    }
  }

  #checkRead(event: EventEnvelope, version: number): EventEnvelope {
    if (!this.#validateOnRead) return event;
    const entry = this.#schemas.get(event.type)?.get(version);
    if (entry === undefined) return event;
    const issues = misplacedIssues(entry, event.data, ["data"]) ?? storedDataIssues(entry.schema, event, version);
    if (issues.length === 0) return event;
    throw new ValidationError(
      `Stored event ${event.id} (stream "${event.streamId}", version ${event.version}, ${event.type} v${version}) does not match its schema`,
      issues,
    );
  }

  /**
   * Refuses a type whose chain has a hole: from the oldest version a step, a schema or a rename's
   * target names to the type's current version, every version needs a step. Steps from v1 and v3 and
   * none from v2, or a step from v1 and a schema of v3: an event stored at v2 (or upcast to it) would
   * stop there and reach handlers in a shape that is not the current one. Steps and schemas may be
   * registered in any order, so this runs when a store is given the registry and at its first use
   * after a registration, not at each call.
   */
  #assertChains(): void {
    const issues: Issue[] = [];
    for (const [type, newest] of this.#current) {
      const oldest = this.#oldest.get(type) ?? newest;
      // Walked over the steps, not over every version: a schema of v2^53 must not make a loop that long.
      const steps = [...(this.#steps.get(type)?.keys() ?? [])].sort((x, y) => x - y);
      let next = oldest;
      for (const from of [...steps.filter((v) => v >= oldest && v < newest), newest]) {
        if (from > next) {
          const missing = from - 1 === next ? `v${next}` : `v${next} to v${from - 1}`;
          issues.push({
            path: [type, next],
            message: `"${type}" is known from v${oldest} to v${newest} but has no step from ${missing}: events there would not reach v${newest}`,
          });
        }
        next = from + 1;
      }
    }
    if (issues.length > 0) throw new ValidationError("The event registry's upcasters have a gap", issues);
    this.#chainsChecked = true;
  }

  #add(step: UpcastStep): this {
    assertTypeName(step.type, "event type");
    assertPositiveInteger(step.fromVersion, "fromVersion");
    if (step.kind !== "rename" && step.fromVersion === Number.MAX_SAFE_INTEGER) {
      // Its events would be at 2^53, no longer a version: appends stamped with it would never read back.
      throw new ValidationError("Invalid upcaster", [
        {
          path: [step.type, step.fromVersion],
          message: `${step.kind === "upcast" ? "an" : "a"} ${step.kind} step must start below ${Number.MAX_SAFE_INTEGER}: the version after it must be a safe integer`,
        },
      ]);
    }
    const byVersion = this.#steps.get(step.type) ?? new TypeSteps();
    if (byVersion.has(step.fromVersion)) {
      throw new ValidationError("Duplicate upcaster", [
        { path: [step.type, step.fromVersion], message: `"${step.type}" v${step.fromVersion} already has a step` },
      ]);
    }
    byVersion.set(step.fromVersion, step);
    this.#steps.set(step.type, byVersion);
    this.#chainsChecked = false;
    this.#raise(step.type, step.fromVersion);
    // A renamed or split type is retired at that version: its new events are transformed too.
    if (step.kind === "upcast") this.#raise(step.type, step.fromVersion + 1);
    // A part of a split that keeps the type is at the version after it: it reads again as it is.
    else if (step.kind === "split" && byVersion.reach <= step.fromVersion) byVersion.reach = step.fromVersion + 1;
    return this;
  }

  /**
   * The parts of a split at a version above what the registry knows of their type (a splitter's
   * explicit `schemaVersion`): read again (the SQS consumer re-reads what a store published) they
   * would be taken for events of a newer release. A type the registry does not know may be at any.
   */
  #aheadIssues(parts: readonly UpcastEvent[]): Issue[] {
    const issues: Issue[] = [];
    for (const [i, part] of parts.entries()) {
      const reach = this.#steps.get(part.type)?.reach;
      if (reach !== undefined && (part.schemaVersion as number) > reach) {
        issues.push({
          path: [i, "schemaVersion"],
          message: `"${part.type}" is at most at v${reach} in the event registry, got v${part.schemaVersion}`,
        });
      }
    }
    return issues;
  }

  /** Records that `type` is known at `version`: its current version may go up, its oldest down. */
  #raise(type: string, version: number): void {
    const known = this.#current.get(type);
    if (known === undefined || known < version) this.#current.set(type, version);
    let steps = this.#steps.get(type);
    if (steps === undefined) {
      steps = new TypeSteps();
      this.#steps.set(type, steps);
    }
    if (steps.reach < version) steps.reach = version;
    const oldest = this.#oldest.get(type);
    if (oldest === undefined || oldest > version) this.#oldest.set(type, version);
  }
}

/**
 * A known type's steps by the version they start from, and its reach: the newest version an event of
 * it may be at, its current version or the version after a split of it (a part that keeps the type is
 * there). A stored event above it was written by a newer release; an event read (and published) at
 * it reads again unchanged, as the SQS consumer does.
 */
class TypeSteps extends Map<number, UpcastStep> {
  reach = 0;
}

/**
 * The stored event as `type` at `version` with `data`: an object literal of one shape rather than a
 * spread, which costs several times as much per event on the read path.
 */
/**
 * Stored data as a step may change it in place (as the JSON check allows): the in-memory store hands
 * out its stored events deep-frozen, where the database stores hand out freshly parsed JSON, so such a
 * step read on those and failed in memory ("object is not extensible"). Frozen data is copied (it is
 * JSON, as every append checks); other data is the read's own, handed on as it is, at no cost.
 */
function writable(data: unknown): unknown {
  return typeof data === "object" && data !== null && Object.isFrozen(data) ? jsonRoundTrip(data) : data;
}

function envelopeAt(
  stored: EventEnvelope,
  type: string,
  data: unknown,
  metadata: EventMetadata,
  version: number,
): EventEnvelope {
  // Metadata stored without a schemaVersion (events appended before the registry: v1) gets it first.
  // On Node 20 a spread followed by a key the copy lacks costs ~0.34 µs an event, eight times this.
  const upcast = Object.hasOwn(metadata, "schemaVersion")
    ? { ...metadata, schemaVersion: version }
    : { schemaVersion: version, ...metadata };
  return stored.globalPosition === undefined
    ? {
        id: stored.id,
        type,
        streamId: stored.streamId,
        version: stored.version,
        timestamp: stored.timestamp,
        data,
        metadata: upcast,
      }
    : {
        id: stored.id,
        type,
        streamId: stored.streamId,
        version: stored.version,
        globalPosition: stored.globalPosition,
        timestamp: stored.timestamp,
        data,
        metadata: upcast,
      };
}

/** The union of current events a registry was declared with: `EnvelopeOf<RegistryEvents<typeof registry>>`. */
export type RegistryEvents<R> = R extends EventRegistry<infer E> ? E : never;

/** Creates an {@link EventRegistry} for the current event union `E`. */
export function eventRegistry<E extends DomainEvent = DomainEvent>(options?: EventRegistryOptions): EventRegistry<E> {
  return new EventRegistry<E>(options);
}

/** A registered schema and, for a valibot schema holding an object, its walk for arrays in an object's place. */
interface SchemaEntry {
  readonly schema: StandardSchema;
  readonly misplacedArrays: ((value: unknown) => readonly Issue[]) | undefined;
}

/**
 * The arrays in `data` where the schema wants an object, under `path`; undefined when there are none.
 * They are checked before the schema: under an array valibot reads inherited members as the
 * object's fields, so its own issues there say nothing useful.
 */
function misplacedIssues(entry: SchemaEntry, data: unknown, path: readonly (string | number)[]): Issue[] | undefined {
  const found = entry.misplacedArrays?.(data);
  if (found === undefined || found.length === 0) return undefined;
  return found.map((issue) => ({ path: [...path, ...issue.path], message: issue.message }));
}

/** A stored event's data against the schema of its version, synchronously, its problems without its values. */
function storedDataIssues(schema: StandardSchema, event: EventEnvelope, version: number): Issue[] {
  const what = `"${event.type}" v${version}`;
  let issues: ReturnType<typeof schemaIssues>;
  try {
    // Stored data may be personal (decrypted by now): the issues say what is wrong, not what is there.
    issues = schemaIssues(schema, event.data, ["data"], what, false);
  } catch (error) {
    const failed = error as ValidationError;
    throw new ValidationError(
      `Stored event ${event.id} (stream "${event.streamId}", version ${event.version}, ${event.type} v${version}) could not be checked: its schema failed`,
      failed.issues,
      { cause: failed.cause },
    );
  }
  if (issues instanceof Promise) {
    // Not awaited on read: a rejection must not go unhandled (it ends a Node process).
    issues.catch(() => undefined);
    throw new ValidationError(`The schema of "${event.type}" v${version} is asynchronous`, [
      { path: [event.type, version], message: "only synchronous schemas are checked on read" },
    ]);
  }
  return issues;
}

/** `for event <id> (stream "…", version n)`: which stored event a registry's own error is about. */
function forEvent(event: EventEnvelope): string {
  return ` for event ${event.id} (stream "${event.streamId}", version ${event.version})`;
}

/**
 * An upcaster returned no data (a block body without `return`) or a promise (upcasters are
 * synchronous): the read stops here rather than hand its handlers `undefined` or a promise as data.
 */
function upcastNoData(data: unknown, stored: EventEnvelope, type: string, version: number): never {
  // Never awaited: a rejection must not go unhandled (that ends a Node process).
  if (data instanceof Promise) data.catch(() => undefined);
  const got = data === undefined ? "undefined (does it return its result?)" : "a promise (upcasters are synchronous)";
  throw new ValidationError(`The upcaster of "${type}" v${version} returned no data${forEvent(stored)}`, [
    { path: [type, version], message: `must return the data at v${version + 1}, got ${got}` },
  ]);
}

/** The step whose output an event read holds: the last upcaster or splitter on its way (renames pass data on). */
interface MadeBy {
  readonly kind: "upcaster" | "splitter";
  readonly type: string;
  readonly version: number;
}

/**
 * Refuses what a step made that does not come back from JSON as it is (a Date, NaN, a BigInt, a Map,
 * `undefined` in an array, a cycle, a function), as an append refuses it: handlers, snapshots and
 * read models would otherwise get values no store holds and no reader after a round trip sees; and
 * a splitter's own metadata that an append would refuse (a correlationId that is not a string, say).
 * The callers ask `isJsonData` first (one pass, only over what a step made); this says what and
 * where, never the value.
 */
function notJson(
  stored: EventEnvelope,
  kind: MadeBy["kind"],
  type: string,
  version: number,
  data: unknown,
  metadata: EventMetadata,
): void {
  const limits = { maxDepth: MAX_JSON_DEPTH_LIMIT };
  const issues = isJsonData(data) ? [] : jsonIssues(data, ["data"], limits);
  // A splitter's own metadata, as an append checks it (JSON, string ids); its schemaVersion is replaced.
  const own = metadata === stored.metadata ? [] : metadataIssues(metadata, ["metadata"], limits);
  issues.push(...own.filter((issue) => issue.path[1] !== "schemaVersion"));
  if (issues.length === 0) return;
  const what = issues[0]?.path[0] === "data" ? "data that is not JSON" : "metadata an append would refuse";
  throw new ValidationError(`The ${kind} of "${type}" v${version} returned ${what}${forEvent(stored)}`, issues);
}

/**
 * A stored event of a known type at a version above the type's current one: written by a newer
 * release, or by a store without the registry. Read as it is, it would reach handlers typed for the
 * current version in a shape they do not know.
 */
function newerThanKnown(stored: EventEnvelope, version: number, current: number): never {
  throw new ValidationError(
    `The stored schemaVersion of "${stored.type}" (v${version}) is newer than the event registry knows${forEvent(stored)}: was it written by a newer release?`,
    [
      {
        path: ["metadata", "schemaVersion"],
        message: `"${stored.type}" is at most at v${current} in the event registry, got v${version}`,
      },
    ],
  );
}

/** What is wrong with one event a splitter returned (the `i`-th): it becomes an envelope read by handlers. */
function partIssues(part: unknown, i: number): Issue[] {
  if (typeof part !== "object" || part === null || Array.isArray(part)) {
    return [{ path: [i], message: `must be { type, data, metadata?, schemaVersion? }, got ${kindOf(part)}` }];
  }
  const { type, data, metadata, schemaVersion } = part as Partial<UpcastEvent>;
  const issues = nameIssues(type, "event type", MAX_TYPE_LENGTH, [i, "type"]);
  if (data === undefined) issues.push({ path: [i, "data"], message: "data is required (use null for none)" });
  if (metadata !== undefined && (typeof metadata !== "object" || metadata === null || Array.isArray(metadata))) {
    issues.push({ path: [i, "metadata"], message: "metadata must be a plain object" });
  }
  if (schemaVersion !== undefined && (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1)) {
    issues.push({
      path: [i, "schemaVersion"],
      message: `schemaVersion must be a positive integer, got ${kindOf(schemaVersion)}`,
    });
  }
  return issues;
}
