import { type Issue, PersonalDataError, ValidationError } from "../errors.js";
import type { EventPages, EventReader } from "../event-store/read-pages.js";
import type { DomainEvent, EventEnvelope, EventMetadata, PendingEvent } from "../events/envelope.js";
import { categoryOf, categorySeparatorIssue } from "../events/stream.js";
import { jsonIssues, setOwn } from "../internal/json.js";
import { isName, kindOf, unknownKeyIssues } from "../internal/validate.js";
import {
  type CompactMarker,
  checkedMarker,
  compactMarkerOf,
  openCompact,
  openCompactNow,
  sealCompact,
  sealCompactNow,
  stripped,
  takesCompactForm,
} from "./compact-format.js";
import { decryptingEvents, decryptingPages } from "./decrypting-reader.js";
import {
  checked,
  dottedPath,
  ENCRYPTED_MARKER,
  type EncryptedValue,
  type FieldPath,
  isEncryptedValue,
  isReference,
  openFields,
  openFieldsNow,
  referenceTo,
  type SealContext,
  type SealedFields,
  sealFields,
  sealFieldsNow,
} from "./field-crypto.js";
import { markSealedRecord } from "./sealed-records.js";
import {
  assertSubjectId,
  cachedSubjectKey,
  MAX_SUBJECT_ID_LENGTH,
  type SubjectKeyLookup,
  SubjectKeyStore,
} from "./subject-key-store.js";
import { hasSyncKey } from "./sync-aes-gcm.js";

/** Which fields of a record are personal, and whose: declared once per event type or snapshot category. */
export interface PersonalFields<Input> {
  /**
   * Dotted paths from the root of the event's `data` (or the snapshot's state): `"email"`,
   * `"address.street"`. The value there, whatever JSON it is (an object or array whole), is encrypted;
   * an absent or `null` field is left as it is.
   */
  readonly fields: readonly string[];
  /** The data subject the fields belong to, e.g. `(event) => event.data.customerId`. */
  readonly subject: (input: Input) => string;
}

/** What an event's `subject` function is given. */
export interface PersonalEventInput<E extends DomainEvent = DomainEvent> {
  readonly type: E["type"];
  readonly data: E["data"];
  readonly metadata: EventMetadata;
  readonly streamId: string;
}

/** What a snapshot's `subject` function is given. */
export interface PersonalSnapshotInput {
  readonly streamId: string;
  readonly state: unknown;
}

export interface PersonalDataOptions<E extends DomainEvent = DomainEvent> {
  /** Where the subjects' keys live: delete one there to erase the subject. */
  readonly keys: SubjectKeyStore;
  /** Personal fields per event type (the type as stored, at the schema version it is appended at). */
  readonly events?: string extends E["type"]
    ? { readonly [type: string]: PersonalFields<PersonalEventInput> }
    : { readonly [T in E["type"]]?: PersonalFields<PersonalEventInput<Extract<E, { type: T }>>> };
  /** Personal fields of snapshots, per stream category (`"Customer"` for `Customer-42`). */
  readonly snapshots?: { readonly [category: string]: PersonalFields<PersonalSnapshotInput> };
  /**
   * The stored format written: 3 (the default, `aes-256-gcm/3`) or 2 (`aes-256-gcm/2`), for a rolling
   * upgrade while processes of a release before /3 still read the same store. Both are always read.
   */
  readonly format?: 2 | 3;
}

/**
 * The metadata field that lists, as dotted paths, the personal fields of an event that read as `null`
 * because their subject was erased. Absent when nothing was erased.
 */
export const ERASED_FIELDS_METADATA = "personalDataErased";

interface Rule<Input> {
  readonly paths: readonly (readonly string[])[];
  /** The paths dotted (as a ciphertext lists them), made once instead of per record sealed. */
  readonly fields: readonly string[];
  readonly subject: (input: Input) => string;
}

/**
 * Crypto-shredding of personal fields, given to stores as their `personalData` option (every event
 * store and snapshot store takes it): marked fields are encrypted per data subject on the way in
 * (AES-GCM, one ciphertext per record and subject holding all its marked values, a fresh IV each, subject,
 * record and field paths authenticated) and decrypted on the way out;
 * fields of an erased subject read as `null`.
 */
export class PersonalData {
  readonly keys: SubjectKeyStore;
  readonly #events: ReadonlyMap<string, Rule<PersonalEventInput>>;
  readonly #snapshots: ReadonlyMap<string, Rule<PersonalSnapshotInput>>;
  readonly #compact: boolean;

  constructor(options: PersonalDataOptions) {
    // A misspelt snapshots would leave the category's snapshots in plaintext without a word.
    const issues: Issue[] = unknownKeyIssues(options, OPTION_KEYS);
    if (!(options?.keys instanceof SubjectKeyStore)) {
      issues.push({ path: ["keys"], message: `keys must be a SubjectKeyStore, got ${kindOf(options?.keys)}` });
    }
    this.keys = options?.keys;
    this.#events = rules(options?.events ?? {}, "events", issues) as ReadonlyMap<string, Rule<PersonalEventInput>>;
    this.#snapshots = rules(options?.snapshots ?? {}, "snapshots", issues);
    const format = options?.format ?? 3;
    if (format !== 2 && format !== 3) {
      issues.push({ path: ["format"], message: `format must be 2 or 3, got ${kindOf(format)}` });
    }
    this.#compact = format === 3;
    if (issues.length > 0) throw new ValidationError("Invalid personalData options", issues);
  }

  /**
   * Refuses the metadata of a stream change (`deleteStream`, `restoreStream`, `truncateStream`) that holds the
   * erased-fields list: its `$stream-*` event is appended as any event is.
   * @throws {ValidationError} at `["metadata", "personalDataErased"]`.
   */
  checkChangeMetadata(metadata: unknown): void {
    assertNoErasedList(metadata, ["metadata"]);
  }

  /**
   * The events with their personal fields encrypted; nothing is written when a key cannot be had. The
   * events are encrypted concurrently: Web Crypto calls in flight together share their per-call cost.
   */
  async encryptEvents(streamId: string, events: readonly PendingEvent[]): Promise<readonly PendingEvent[]> {
    const rules = this.#events;
    for (let i = 0; i < events.length; i++) {
      assertNoMarker((events[i] as PendingEvent).data, i, "data");
      assertNoErasedList((events[i] as PendingEvent).metadata, [i, "metadata"]);
    }
    // Every event is started before any is awaited; a promise is waited for only where a key needs one
    // (a cached synchronous key seals at once, and no promise is made for its event).
    const sealed: unknown[] = new Array(events.length);
    let waiting: Promise<unknown>[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as PendingEvent;
      const rule = rules.get(event.type);
      if (rule === undefined) {
        sealed[i] = event.data;
        continue;
      }
      const input = { type: event.type, data: event.data, metadata: event.metadata, streamId };
      const data = this.#encrypt(rule, input, event.data, eventContext(event), [i, "data"]);
      if (data instanceof Promise) {
        waiting ??= [];
        waiting.push(data.then((done) => (sealed[i] = done)));
      } else sealed[i] = data;
    }
    if (waiting !== undefined) await Promise.all(waiting);
    let out: PendingEvent[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as PendingEvent;
      if (compactMarkerOf(sealed[i]) === undefined) assertNoNestedMarker(event.data, i, "data");
      if (sealed[i] === event.data) continue;
      markSealedRecord(sealed[i]);
      out ??= events.slice();
      out[i] = { ...event, data: sealed[i] };
    }
    return out ?? events;
  }

  /** The event with its personal fields decrypted, erased ones as `null` and listed in its metadata. */
  async decryptEvent<E extends EventEnvelope>(event: E): Promise<E> {
    return this.#decryptEvent(event);
  }

  /** {@link decryptEvent}, without a promise when every key it needs is cached and usable synchronously. */
  #decryptEvent<E extends EventEnvelope>(event: E): E | Promise<E> {
    return this.#decryptEventIf(event, true) as E | Promise<E>;
  }

  /** {@link decryptEvent} if it needs no promise, else `undefined` (nothing started). */
  #decryptEventNow<E extends EventEnvelope>(event: E): E | undefined {
    return this.#decryptEventIf(event, false) as E | undefined;
  }

  #decryptEventIf<E extends EventEnvelope>(event: E, wait: boolean): E | Promise<E> | undefined {
    // Format /3: one property check; only records without its marker are walked for /2's.
    const marker = compactMarkerOf(event.data);
    if (marker !== undefined) {
      const opened = this.#openCompact(event.data as Record<string, unknown>, marker, eventContext(event), wait);
      if (opened === undefined) return undefined;
      return opened instanceof Promise
        ? opened.then((later) => decryptedEvent(event, later))
        : decryptedEvent(event, opened);
    }
    const found: Found[] = [];
    collect(event.data, [], found);
    if (found.length === 0) return event;
    const { sealed, references } = sorted(found);
    const context = eventContext(event);
    const now = this.#openNow(sealed, context);
    if (now !== undefined) return decryptedEvent(event, assembled(event.data, sealed, now, references));
    if (!wait) return undefined;
    return this.#openLater(sealed, context).then((opened) =>
      decryptedEvent(event, assembled(event.data, sealed, opened, references)),
    );
  }

  /**
   * `decryptEvent` over a store's reader, in order: in turn while every key is cached and synchronous,
   * then reading ahead (see {@link decryptingEvents}).
   */
  decrypting(events: EventReader): EventReader {
    return decryptingEvents(events, (event) => this.#decryptEvent(event));
  }

  /**
   * A store's pages with `decryptEvent` applied: a page at a time, without a promise per event, while
   * every key is cached and synchronous (see {@link decryptingPages}).
   */
  decryptingPages(pages: EventPages): EventPages {
    return decryptingPages(
      pages,
      (event) => this.#decryptEventNow(event),
      (event) => this.#decryptEvent(event),
    );
  }

  /** A snapshot's state with the personal fields of its stream category encrypted. */
  async encryptSnapshot(streamId: string, state: unknown): Promise<unknown> {
    assertNoMarker(state, undefined, "state");
    const rule = this.#snapshots.get(categoryOf(streamId));
    if (rule !== undefined) assertSealableFields(rule.paths, state);
    const sealed =
      rule === undefined
        ? state
        : await this.#encrypt(rule, { streamId, state }, state, snapshotContext(streamId), ["state"]);
    if (compactMarkerOf(sealed) === undefined) assertNoNestedMarker(state, undefined, "state");
    return sealed;
  }

  /** A snapshot's state (of the stream `streamId`) decrypted; fields of an erased subject read as `null`. */
  async decryptSnapshot(streamId: string, state: unknown): Promise<unknown> {
    const marker = compactMarkerOf(state);
    if (marker !== undefined) {
      return (await this.#openCompact(state as Record<string, unknown>, marker, snapshotContext(streamId), true))
        ?.value;
    }
    const found: Found[] = [];
    collect(state, [], found);
    return found.length === 0 ? state : (await this.#decrypt(state, found, snapshotContext(streamId))).value;
  }

  /**
   * `root` with the rule's fields sealed: without a promise when the subject's key is cached and usable
   * synchronously (a fast path only: the result is the same), else after the key store and Web Crypto.
   */
  #encrypt<Input>(
    rule: Rule<Input>,
    input: Input,
    root: unknown,
    context: SealContext,
    at: readonly (string | number)[],
  ): unknown {
    // null carries nothing personal, and is what an erased field reads as: an aggregate or snapshot of an
    // erased subject must still be writable, so null (like absent) needs no key.
    const { paths } = rule;
    const values: unknown[] = [];
    let present: (readonly string[])[] | undefined;
    let fields: string[] | undefined;
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i] as readonly string[];
      const value = valueAt(root, path);
      if (value === undefined || value === null) {
        // The first absent field: the present ones so far, listed apart from here on.
        present ??= paths.slice(0, i);
        fields ??= rule.fields.slice(0, i);
        continue;
      }
      values.push(value);
      present?.push(path);
      fields?.push(rule.fields[i] as string);
    }
    if (values.length === 0) return root;
    present ??= paths as (readonly string[])[];
    // A list of its own per ciphertext: the sealed value leaves the library (stores, encryptEvents' result).
    fields ??= rule.fields.slice();
    const subject = subjectOf(rule, input, at);
    assertSubjectId(subject, [...at]);
    const cached = cachedSubjectKey(this.keys, subject);
    if (this.#compact && takesCompactForm(root)) {
      const marker =
        cached?.status === "active" ? sealCompactNow(cached.key, subject, context, fields, values) : undefined;
      if (marker !== undefined) return stripped(root, present, marker);
      return this.keys
        .createOrGet(subject)
        .then((key) => sealCompact(key, subject, context, fields, values))
        .then((sealed) => stripped(root, present, sealed));
    }
    const now = cached?.status === "active" ? sealFieldsNow(cached.key, subject, context, fields, values) : undefined;
    if (now !== undefined) return placed(root, present, now);
    return this.#encryptLater(subject, context, fields, values, root, present);
  }

  /** {@link #encrypt}'s way through the key store and Web Crypto: an async function, so always a native promise. */
  async #encryptLater(
    subject: string,
    context: SealContext,
    fields: readonly string[],
    values: readonly unknown[],
    root: unknown,
    present: readonly (readonly string[])[],
  ): Promise<unknown> {
    const key = await this.keys.createOrGet(subject);
    return placed(root, present, await sealFields(key, subject, context, fields, values));
  }

  /**
   * One key lookup and one AES-GCM call per ciphertext (per record and subject), however many fields
   * it holds. Without a promise when every key is cached and usable synchronously; otherwise the
   * ciphertexts are opened concurrently.
   */
  #decrypt(root: unknown, found: readonly Found[], context: SealContext): Decrypted | Promise<Decrypted> {
    const { sealed, references } = sorted(found);
    const now = this.#openNow(sealed, context);
    if (now !== undefined) return assembled(root, sealed, now, references);
    return this.#openLater(sealed, context).then((opened) => assembled(root, sealed, opened, references));
  }

  /**
   * A /3 record decrypted (see compact-format.ts): without a promise when its key is cached and usable
   * synchronously or its subject erased; otherwise `undefined` unless `wait`.
   */
  #openCompact(
    root: Record<string, unknown>,
    found: unknown,
    context: SealContext,
    wait: boolean,
  ): Decrypted | Promise<Decrypted> | undefined {
    const marker = checkedMarker(found);
    const lookup = cachedSubjectKey(this.keys, marker[1]);
    if (lookup?.status === "erased") return restored(root, marker, null);
    if (lookup?.status === "active" && hasSyncKey(lookup.key)) {
      return restored(root, marker, openCompactNow(lookup.key, marker, context));
    }
    if (!wait) return undefined;
    return this.#lookup(marker[1], ENCRYPTED_MARKER).then(async (later) => {
      if (later.status === "active") return restored(root, marker, await openCompact(later.key, marker, context));
      if (later.status === "erased") return restored(root, marker, null);
      throw new PersonalDataError("unknown-key", marker[1], ENCRYPTED_MARKER);
    });
  }

  /**
   * The key store's answer for a stored subject that is not cached. A subject no key store takes (empty,
   * too long, control characters) was not written by the library: `malformed`, not the key store's
   * `ValidationError`, which would blame the reader's input for the stored record. (A cached subject
   * passed these checks when it was cached.)
   */
  #lookup(subject: string, path: string): Promise<SubjectKeyLookup> {
    if (!isName(subject, MAX_SUBJECT_ID_LENGTH)) {
      return Promise.reject(new PersonalDataError("malformed", undefined, path));
    }
    return this.keys.get(subject);
  }

  /** Every ciphertext's values (`null` for an erased subject), through the key store and Web Crypto if need be. */
  #openLater(sealed: readonly Sealed[], context: SealContext): Promise<(unknown[] | null)[]> {
    return Promise.all(
      sealed.map(async ({ path, value }) => {
        const lookup = await this.#lookup(value.subject, dottedPath(path));
        if (lookup.status === "active") return openFields(lookup.key, value, context, path);
        if (lookup.status === "erased") return null;
        throw new PersonalDataError("unknown-key", value.subject, dottedPath(path));
      }),
    );
  }

  /** Every ciphertext's values (`null` for an erased subject), or `undefined` if one needs a promise. */
  #openNow(sealed: readonly Sealed[], context: SealContext): (unknown[] | null)[] | undefined {
    const opened: (unknown[] | null)[] = [];
    for (const { path, value } of sealed) {
      const lookup = cachedSubjectKey(this.keys, value.subject);
      if (lookup?.status === "erased") opened.push(null);
      else if (lookup?.status === "active" && hasSyncKey(lookup.key)) {
        opened.push(openFieldsNow(lookup.key, value, context, path));
      } else return undefined;
    }
    return opened;
  }
}

interface Sealed {
  readonly path: FieldPath;
  readonly value: SealedFields;
}

/**
 * The ciphertexts and the references of a record, checked: each ciphertext must sit at its first
 * field; every reference must later be answered by the ciphertext it names (see {@link assembled}).
 */
function sorted(found: readonly Found[]): { sealed: Sealed[]; references: Found[] } {
  const sealed: Sealed[] = [];
  const references: Found[] = [];
  for (let i = 0; i < found.length; i++) {
    const one = found[i] as Found;
    const valid = checked(one.value, one.path);
    if (isReference(valid)) references.push(one);
    else if (!isAt(valid.fields[0] as string, one.path)) {
      throw new PersonalDataError("tampered", valid.subject, dottedPath(one.path));
    } else sealed.push(one as Sealed);
  }
  return { sealed, references };
}

/** Whether the dotted `field` names `path` (without joining the path: this runs for every ciphertext read). */
function isAt(field: string, path: FieldPath): boolean {
  let at = 0;
  for (let i = 0; i < path.length; i++) {
    const segment = String(path[i]);
    if (i > 0) {
      if (field.charCodeAt(at) !== 46) return false;
      at++;
    }
    if (!field.startsWith(segment, at)) return false;
    at += segment.length;
  }
  return at === field.length;
}

interface Decrypted {
  readonly value: unknown;
  readonly erased: string[];
}

/**
 * `event` with its decrypted data, and its erased fields listed in its metadata if any. A function of
 * its own, not a closure made per event read (a closure and its allocation per event of a 1,000-event read).
 */
function decryptedEvent<E extends EventEnvelope>(event: E, { value, erased }: Decrypted): E {
  return erased.length === 0
    ? { ...event, data: value }
    : { ...event, data: value, metadata: { ...event.metadata, [ERASED_FIELDS_METADATA]: erased } };
}

/**
 * `root` with every ciphertext's values put back (`null` where its subject was erased), once each
 * reference is checked against the ciphertext that answers its field (the last one listing it).
 * The objects on the fields' paths are copied once each (the stored event is never changed).
 */
function assembled(
  root: unknown,
  sealed: readonly Sealed[],
  opened: readonly (unknown[] | null)[],
  references: readonly Found[],
): Decrypted {
  const erased: string[] = [];
  const out = copyOf(root);
  for (let s = 0; s < sealed.length; s++) {
    const { value } = sealed[s] as Sealed;
    const values = opened[s];
    if (values === null || values === undefined) erased.push(...value.fields);
    for (let i = 0; i < value.fields.length; i++) {
      const field = value.fields[i] as string;
      // The first field holds the ciphertext (checked by `sorted`), every other one a reference to it:
      // a list naming a field that holds anything else (altered, where an erased subject's list has
      // nothing left to vouch for it) would null out or overwrite the record's own data.
      if (
        (i > 0 && !refersTo(root, segmentsOf(field), value)) ||
        !put(out, root, segmentsOf(field), values == null ? null : values[i])
      ) {
        throw new PersonalDataError("tampered", value.subject, field);
      }
    }
  }
  for (const { path, value } of references) {
    const holder = holderOf(sealed, path);
    if (holder === undefined || holder.subject !== value.subject || holder.fields[0] !== (value as { in: string }).in) {
      throw new PersonalDataError("tampered", value.subject, dottedPath(path));
    }
  }
  return { value: out, erased: erased.length > 1 ? erased.sort() : erased };
}

/**
 * A /3 record's plaintext: `root` without its marker, each listed field put back (`null` when `values`
 * is, the subject erased). Objects on the fields' paths are copied once each, as {@link assembled} does.
 */
function restored(root: Record<string, unknown>, marker: CompactMarker, values: readonly unknown[] | null): Decrypted {
  const out: Record<string, unknown> = {};
  for (const key in root) if (key !== ENCRYPTED_MARKER) setOwn(out, key, root[key]);
  const fields = marker[2];
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] as string;
    const value = values === null ? null : values[i];
    // Vacant places only: the library stores a listed field absent (an array element as null). A field of
    // the root (no dot) is set here as `put` would, without looking up its segments ("__proto__" names
    // no listed field: checkedMarker refuses it).
    const top = field.indexOf(".") < 0;
    if (top ? Object.hasOwn(out, field) : !put(out, root, segmentsOf(field), value, true)) {
      throw new PersonalDataError("tampered", marker[1], ENCRYPTED_MARKER);
    }
    if (top) out[field] = value;
  }
  return { value: out, erased: values === null ? fields.slice().sort() : NOTHING_ERASED };
}
const NOTHING_ERASED: string[] = [];

/**
 * A record whose root holds the marker key of its own could not be told from a /3 record (nor, nested,
 * from a /2 value): refused on the way in, whatever its event type or snapshot category.
 */
function assertNoMarker(root: unknown, index: number | undefined, where: "data" | "state"): void {
  if (takesCompactForm(root) && Object.hasOwn(root, ENCRYPTED_MARKER)) {
    const path = index === undefined ? [where, ENCRYPTED_MARKER] : [index, where, ENCRYPTED_MARKER];
    throw new ValidationError(`The key "${ENCRYPTED_MARKER}" is reserved by personal data`, [
      {
        path,
        message: `"${ENCRYPTED_MARKER}" at the root of ${where === "data" ? "an event's data" : "a snapshot's state"} is reserved for encrypted personal fields`,
      },
    ]);
  }
}

/**
 * The declaration's `subject` function (the application's code) on a record: what it throws (a record
 * without the id it reads, say) is the record's fault as far as the caller can tell, a ValidationError
 * that keeps it as `cause` and does not repeat its message; nothing is written.
 */
function subjectOf<Input>(rule: Rule<Input>, input: Input, at: readonly (string | number)[]): string {
  try {
    return rule.subject(input);
  } catch (error) {
    throw new ValidationError(
      "The data subject of personal fields could not be determined",
      [{ path: [...at], message: "the personalData declaration's subject function threw for this record: see cause" }],
      { cause: error },
    );
  }
}

/**
 * The erased-fields list is the reader's word that fields were erased: appended by the caller, it would
 * read as an erasure that never happened (and say so of fields that read in full). Refused on the way in.
 */
function assertNoErasedList(metadata: unknown, at: readonly (string | number)[]): void {
  if (typeof metadata === "object" && metadata !== null && Object.hasOwn(metadata, ERASED_FIELDS_METADATA)) {
    throw new ValidationError(`The metadata key "${ERASED_FIELDS_METADATA}" is reserved by personal data`, [
      {
        path: [...at, ERASED_FIELDS_METADATA],
        message: `"${ERASED_FIELDS_METADATA}" is set by reads, for the fields of an erased subject`,
      },
    ]);
  }
}

/**
 * A record stored without a /3 marker is walked on every read for /2 values: an object of its own with
 * the marker key, anywhere in it, would be taken for one and fail every read of the record (and every
 * projection reading past it) as `malformed`. Refused on the way in instead; under a /3 marker it is data.
 */
function assertNoNestedMarker(root: unknown, index: number | undefined, where: "data" | "state"): void {
  const found: Found[] = [];
  collect(root, [], found);
  if (found.length === 0) return;
  const at = [where, ...(found[0] as Found).path, ENCRYPTED_MARKER];
  throw new ValidationError(`The key "${ENCRYPTED_MARKER}" is reserved by personal data`, [
    {
      path: index === undefined ? at : [index, ...at],
      message: `an object with a "${ENCRYPTED_MARKER}" key would be read as encrypted personal data`,
    },
  ]);
}

/** The last ciphertext that lists the field at `path`. */
function holderOf(sealed: readonly Sealed[], path: FieldPath): SealedFields | undefined {
  for (let s = sealed.length - 1; s >= 0; s--) {
    const { fields } = (sealed[s] as Sealed).value;
    for (let i = 0; i < fields.length; i++) if (isAt(fields[i] as string, path)) return (sealed[s] as Sealed).value;
  }
  return undefined;
}

/** A shallow copy of an object or array (a new object for anything else). */
function copyOf(value: unknown): Record<string | number, unknown> {
  if (Array.isArray(value)) return value.slice() as unknown as Record<number, unknown>;
  return typeof value === "object" && value !== null ? ownCopy(value as Record<string, unknown>) : {};
}

/**
 * `{ ...source }` for a record's JSON (own string keys; JSON has no symbols), key by key. A /3 read adds
 * each nested field back to such a copy (`address.street` to its copy of `address`): on Node 20, a field
 * added to a spread's copy cost about 390 ns (copy and add, of a JSON-parsed object), against 50-60 ns
 * this way; Bun took 24-27 ns either way.
 */
function ownCopy(source: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const keys = Object.keys(source);
  for (let i = 0; i < keys.length; i++) setOwn(out, keys[i] as string, source[keys[i] as string]);
  return out;
}

/**
 * Sets `value` at `path` in `out`, a copy of `root`, copying each object on the way once: an object
 * still the one `root` holds there is copied, any other object was made here (a copy, or a value
 * put earlier) and is written to as it is. No set of copies to keep per record.
 *
 * `false` (and nothing set) where the record has no such place: a path through a value that is not an
 * object or array, or to an array element the record does not hold (a sealed record keeps each
 * listed element, as `null` or its ciphertext). Only a field list altered in the store gets there:
 * under an active key it fails to authenticate first; an erased subject's has nothing to vouch for it.
 * An array's `length` (listed by releases that read it as a field) is left as it is. With `vacantOnly`
 * (a /3 record, whose listed fields are stored absent, an array element as `null`), also `false` where
 * the record holds a value: an erased subject's altered list cannot null out the record's own fields.
 */
function put(
  out: Record<string | number, unknown>,
  root: unknown,
  path: FieldPath,
  value: unknown,
  vacantOnly = false,
): boolean {
  let at = out;
  let original = root;
  const last = path.length - 1;
  for (let i = 0; i < last; i++) {
    const segment = path[i] as string | number;
    if (Array.isArray(at) && !isElementOf(at, segment)) return false;
    const child = at[segment];
    if (child !== undefined && (typeof child !== "object" || child === null)) return false;
    original =
      typeof original === "object" && original !== null
        ? (original as Record<string | number, unknown>)[segment]
        : undefined;
    if (typeof child === "object" && child !== original) {
      at = child as Record<string | number, unknown>;
    } else {
      const copy = copyOf(child);
      at[segment] = copy;
      at = copy;
    }
  }
  const segment = path[last] as string | number;
  if (Array.isArray(at)) {
    if (!isElementOf(at, segment)) return segment === "length";
    if (vacantOnly && at[segment as number] !== null) return false;
  } else if (vacantOnly && Object.hasOwn(at, segment)) return false;
  at[segment] = value;
  return true;
}

/**
 * Whether the place `path` in the stored `root` holds a /2 reference to `sealed` (its subject, its first
 * field). An array's `length` (listed by releases that read it as a field) is passed, as {@link put} does.
 */
function refersTo(root: unknown, path: readonly string[], sealed: SealedFields): boolean {
  let at = root;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i] as string;
    if (typeof at !== "object" || at === null) return false;
    if (Array.isArray(at) && segment === "length" && i === path.length - 1) return true;
    if (!Object.hasOwn(at, segment)) return false;
    at = (at as Record<string, unknown>)[segment];
  }
  return (
    isEncryptedValue(at) && isReference(at) && at.subject === sealed.subject && at.in === (sealed.fields[0] as string)
  );
}

/** Whether `segment` names an element `array` holds: a canonical index below its length. */
function isElementOf(array: readonly unknown[], segment: string | number): boolean {
  const index = Number(segment);
  return Number.isInteger(index) && index >= 0 && index < array.length && String(index) === String(segment);
}

/** A dotted field's segments, remembered: the same few fields are read on every event. */
const segmentCache = new Map<string, readonly string[]>();
function segmentsOf(field: string): readonly string[] {
  let segments = segmentCache.get(field);
  if (segments === undefined) {
    segments = field.split(".");
    // Bounded: field lists come from stored data.
    if (segmentCache.size >= 1024) segmentCache.clear();
    segmentCache.set(field, segments);
  }
  return segments;
}

/** `root` with `sealed` at its first field and a reference to it at each other. */
function placed(root: unknown, present: readonly (readonly string[])[], sealed: SealedFields): unknown {
  const reference = referenceTo(sealed);
  const out = copyOf(root);
  put(out, root, present[0] as readonly string[], sealed);
  for (let i = 1; i < present.length; i++) put(out, root, present[i] as readonly string[], reference);
  return out;
}

/** A ciphertext of an event is bound to that event: its id and its type as stored. */
function eventContext(event: { readonly id: string; readonly type: string }): SealContext {
  return ["event", event.id, event.type];
}

/** A ciphertext of a snapshot is bound to its stream. */
function snapshotContext(streamId: string): SealContext {
  return ["snapshot", streamId];
}

/** Declares which fields are personal; pass the result to every store as `personalData`. */
export function personalData<E extends DomainEvent = DomainEvent>(options: PersonalDataOptions<E>): PersonalData {
  return new PersonalData(options as unknown as PersonalDataOptions);
}

interface Found {
  readonly path: FieldPath;
  readonly value: EncryptedValue;
}

/**
 * Every encrypted value in `value`, wherever it sits: decryption needs no declaration, so old events
 * read after the declaration changes. `path` is one array pushed and popped on the way down, copied
 * only where a value is found: most reads find few or none.
 */
function collect(value: unknown, path: (string | number)[], out: Found[]): void {
  if (typeof value !== "object" || value === null) return;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (typeof item !== "object" || item === null) continue;
      path.push(i);
      collect(item, path, out);
      path.pop();
    }
    return;
  }
  if (isEncryptedValue(value)) {
    out.push({ path: path.slice(), value });
    return;
  }
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    if (typeof item !== "object" || item === null) continue;
    path.push(key);
    collect(item, path, out);
    path.pop();
  }
}

/**
 * A snapshot's declared fields hold JSON data: they are sealed as JSON, apart from the serializer, so a
 * Date came back a string, a Map or Set `{}`, a NaN `null`, and a BigInt threw a raw TypeError.
 * @throws {ValidationError} naming each field that holds something else; nothing is saved.
 */
function assertSealableFields(paths: readonly FieldPath[], state: unknown): void {
  const issues: Issue[] = [];
  for (const path of paths) {
    const value = valueAt(state, path);
    if (value !== undefined && value !== null) issues.push(...jsonIssues(value, ["state", ...path]));
  }
  if (issues.length > 0) {
    throw new ValidationError("Invalid snapshot: a personal field is sealed as JSON and holds something else", issues);
  }
}

function valueAt(root: unknown, path: FieldPath): unknown {
  let at = root;
  for (const segment of path) {
    // Own properties only: a field the record lacks is absent, even where its prototype has that name.
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, segment)) return undefined;
    // An array's own keys are its elements and `length`, which is no field of the record.
    if (segment === "length" && Array.isArray(at)) return undefined;
    at = (at as Record<string | number, unknown>)[segment];
  }
  return at;
}

const OPTION_KEYS = ["keys", "events", "snapshots", "format"];
const RULE_KEYS = ["fields", "subject"];

/**
 * Why `fields[i]` cannot be listed, if it cannot: it repeats a field before it, or lies inside another
 * listed one. Given at its own index, with the field it lies in, so that a long list says which entry to fix.
 */
function nestingIssue(fields: readonly unknown[], i: number): string | undefined {
  const inner = fields[i] as string;
  if (fields.indexOf(inner) < i) return `"${inner}" is listed twice`;
  const outer = fields.find((other) => typeof other === "string" && inner.startsWith(`${other}.`));
  return outer === undefined ? undefined : `"${inner}" lies inside "${outer}", another listed field`;
}

function rules<Input>(
  declared: { readonly [name: string]: PersonalFields<Input> | undefined },
  where: string,
  issues: Issue[],
): ReadonlyMap<string, Rule<Input>> {
  const out = new Map<string, Rule<Input>>();
  if (typeof declared !== "object" || declared === null) {
    issues.push({ path: [where], message: `${where} must be an object, got ${kindOf(declared)}` });
    return out;
  }
  for (const [name, rule] of Object.entries(declared)) {
    if (rule === undefined) continue;
    // A snapshot's category ends at its stream id's first "-": a name holding one would match no snapshot.
    const separator = where === "snapshots" ? categorySeparatorIssue(name, "it would match no snapshot") : undefined;
    if (separator !== undefined) issues.push({ path: [where, name], message: separator });
    issues.push(...unknownKeyIssues(rule, RULE_KEYS, [where, name]));
    const fields = rule?.fields;
    if (!Array.isArray(fields) || fields.length === 0) {
      issues.push({ path: [where, name, "fields"], message: "fields must be a non-empty array of dotted paths" });
      continue;
    }
    const paths: string[][] = [];
    fields.forEach((field: unknown, i: number) => {
      const segments = typeof field === "string" ? field.split(".") : [];
      if (segments.length === 0 || segments.some((s) => s.length === 0)) {
        issues.push({ path: [where, name, "fields", i], message: `expected a dotted path like "address.street"` });
      } else if (segments.includes("__proto__")) {
        // Put back on a read, such a field would set an object's prototype instead of a key.
        issues.push({ path: [where, name, "fields", i], message: `"__proto__" cannot name a personal field` });
      } else {
        paths.push(segments);
        const nested = nestingIssue(fields, i);
        if (nested !== undefined) issues.push({ path: [where, name, "fields", i], message: nested });
      }
    });
    if (typeof rule.subject !== "function") {
      issues.push({ path: [where, name, "subject"], message: "subject must be a function of the event" });
      continue;
    }
    out.set(name, { paths, fields: paths.map((path) => path.join(".")), subject: rule.subject });
  }
  return out;
}
