import { type Issue, PersonalDataError, ValidationError } from "../errors.js";
import type { DomainEvent, EventEnvelope, EventMetadata, PendingEvent } from "../events/envelope.js";
import { categoryOf } from "../events/stream.js";
import { kindOf } from "../internal/validate.js";
import {
  checked,
  dottedPath,
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
import { assertSubjectId, cachedSubjectKey, SubjectKeyStore } from "./subject-key-store.js";
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
}

/**
 * The metadata field that lists, as dotted paths, the personal fields of an event that read as `null`
 * because their subject was erased. Absent when nothing was erased.
 */
export const ERASED_FIELDS_METADATA = "personalDataErased";

/** Events a decrypting reader reads and decrypts ahead of its consumer. */
const READ_AHEAD = 16;

interface Rule<Input> {
  readonly paths: readonly (readonly string[])[];
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

  constructor(options: PersonalDataOptions) {
    const issues: Issue[] = [];
    if (!(options?.keys instanceof SubjectKeyStore)) {
      issues.push({ path: ["keys"], message: `keys must be a SubjectKeyStore, got ${kindOf(options?.keys)}` });
    }
    this.keys = options?.keys;
    this.#events = rules(options?.events ?? {}, "events", issues) as ReadonlyMap<string, Rule<PersonalEventInput>>;
    this.#snapshots = rules(options?.snapshots ?? {}, "snapshots", issues);
    if (issues.length > 0) throw new ValidationError("Invalid personalData options", issues);
  }

  /**
   * The events with their personal fields encrypted; nothing is written when a key cannot be had. The
   * events are encrypted concurrently: Web Crypto calls in flight together share their per-call cost.
   */
  async encryptEvents(streamId: string, events: readonly PendingEvent[]): Promise<readonly PendingEvent[]> {
    const rules = this.#events;
    const sealed = await Promise.all(
      events.map((event) => {
        const rule = rules.get(event.type);
        if (rule === undefined) return event.data;
        const input = { type: event.type, data: event.data, metadata: event.metadata, streamId };
        return this.#encrypt(rule, input, event.data, eventContext(event));
      }),
    );
    let out: PendingEvent[] | undefined;
    for (let i = 0; i < events.length; i++) {
      const event = events[i] as PendingEvent;
      if (sealed[i] === event.data) continue;
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
    const found: Found[] = [];
    collect(event.data, [], found);
    if (found.length === 0) return event;
    const done = ({ value, erased }: Decrypted): E =>
      erased.length === 0
        ? { ...event, data: value }
        : { ...event, data: value, metadata: { ...event.metadata, [ERASED_FIELDS_METADATA]: erased } };
    const decrypted = this.#decrypt(event.data, found, eventContext(event));
    return decrypted instanceof Promise ? decrypted.then(done) : done(decrypted);
  }

  /**
   * `decryptEvent` over a store's reader, in order. While every event decrypts without a promise
   * (its keys cached, synchronous AES-GCM here), each is read and decrypted in turn. From the first
   * that needs one (a key to fetch, Web Crypto), it reads up to {@link READ_AHEAD} events ahead and
   * decrypts them at once: each Web Crypto call is an asynchronous hop that costs far more than the
   * AES itself, and calls in flight together share that cost (one at a time, reads took 2-4x as
   * long). The store's reader is still asked for one event at a time.
   */
  decrypting(events: AsyncGenerator<EventEnvelope, void, undefined>): AsyncGenerator<EventEnvelope, void, undefined> {
    type Result = IteratorResult<EventEnvelope, void>;
    const done: Result = { value: undefined, done: true };
    const queue: Promise<Result>[] = [];
    let reads: Promise<unknown> = Promise.resolve();
    let ended = false;
    let failed = false;
    let ahead = false;
    const read = (): Promise<Result> => {
      const next = reads.then((): Promise<Result> | Result => (ended ? done : events.next()));
      reads = next.then(
        (result) => {
          if (result.done === true) ended = true;
        },
        () => {
          ended = true;
        },
      );
      return next;
    };
    const pull = () => {
      const decrypted = read().then((result): Promise<Result> | Result =>
        result.done === true ? result : settled(this.#decryptEvent(result.value)),
      );
      // Read ahead, so possibly never asked for: its failure is reported when (if) it is.
      decrypted.catch(() => undefined);
      queue.push(decrypted);
    };
    const stop = (): Promise<Result> => {
      ended = true;
      queue.length = 0;
      return reads.then(() => events.return(undefined));
    };
    const fail = (error: unknown): Promise<Result> => {
      // A failed decryption ends the read: release the store's cursor, then report it.
      failed = true;
      const rethrow = () => Promise.reject(error);
      return stop().then(rethrow, rethrow);
    };
    const inTurn = (result: Result): Promise<Result> | Result => {
      if (result.done === true) return result;
      const event = this.#decryptEvent(result.value);
      if (!(event instanceof Promise)) return { value: event, done: false };
      ahead = true;
      return settled(event);
    };
    const reader = {
      next: (): Promise<Result> => {
        if (failed) return Promise.resolve(done);
        if (!ahead) return read().then(inTurn).catch(fail);
        while (queue.length < READ_AHEAD && !ended) pull();
        const head = queue.shift();
        if (head === undefined) return Promise.resolve(done);
        return head.catch(fail);
      },
      return: stop,
      throw: (error?: unknown) => stop().then(() => Promise.reject(error)),
      [Symbol.asyncIterator]: () => reader,
    };
    return reader as unknown as AsyncGenerator<EventEnvelope, void, undefined>;
  }

  /** A snapshot's state with the personal fields of its stream category encrypted. */
  async encryptSnapshot(streamId: string, state: unknown): Promise<unknown> {
    const rule = this.#snapshots.get(categoryOf(streamId));
    return rule === undefined ? state : this.#encrypt(rule, { streamId, state }, state, snapshotContext(streamId));
  }

  /** A snapshot's state (of the stream `streamId`) decrypted; fields of an erased subject read as `null`. */
  async decryptSnapshot(streamId: string, state: unknown): Promise<unknown> {
    const found: Found[] = [];
    collect(state, [], found);
    return found.length === 0 ? state : (await this.#decrypt(state, found, snapshotContext(streamId))).value;
  }

  /**
   * `root` with the rule's fields sealed: without a promise when the subject's key is cached and usable
   * synchronously (a fast path only: the result is the same), else after the key store and Web Crypto.
   */
  #encrypt<Input>(rule: Rule<Input>, input: Input, root: unknown, context: SealContext): unknown {
    // null carries nothing personal, and is what an erased field reads as: an aggregate or snapshot of an
    // erased subject must still be writable, so null (like absent) needs no key.
    const present = rule.paths.filter((path) => {
      const value = valueAt(root, path);
      return value !== undefined && value !== null;
    });
    if (present.length === 0) return root;
    const subject = rule.subject(input);
    assertSubjectId(subject);
    const fields = present.map((path) => path.join("."));
    const values = present.map((path) => valueAt(root, path));
    const cached = cachedSubjectKey(this.keys, subject);
    const now = cached?.status === "active" ? sealFieldsNow(cached.key, subject, context, fields, values) : undefined;
    if (now !== undefined) return placed(root, present, now);
    return this.keys
      .createOrGet(subject)
      .then((key) => sealFields(key, subject, context, fields, values))
      .then((sealed) => placed(root, present, sealed));
  }

  /**
   * One key lookup and one AES-GCM call per ciphertext (per record and subject), however many fields
   * it holds. Without a promise when every key is cached and usable synchronously; otherwise the
   * ciphertexts are opened concurrently. Every reference must be answered by the ciphertext it names,
   * holding its field for the same subject: anything else was moved or altered.
   */
  #decrypt(root: unknown, found: readonly Found[], context: SealContext): Decrypted | Promise<Decrypted> {
    const sealed: { path: FieldPath; value: SealedFields }[] = [];
    const references: { path: FieldPath; value: EncryptedValue }[] = [];
    for (const { path, value } of found) {
      const valid = checked(value, path);
      if (isReference(valid)) references.push({ path, value: valid });
      else if (valid.fields[0] !== dottedPath(path)) {
        throw new PersonalDataError("tampered", valid.subject, dottedPath(path));
      } else sealed.push({ path, value: valid as SealedFields });
    }
    const now = this.#openNow(sealed, context);
    if (now !== undefined) return assembled(root, sealed, now, references);
    return Promise.all(
      sealed.map(async ({ path, value }) => {
        const lookup = await this.keys.get(value.subject);
        if (lookup.status === "active") return openFields(lookup.key, value, context, path);
        if (lookup.status === "erased") return null;
        throw new PersonalDataError("unknown-key", value.subject, dottedPath(path));
      }),
    ).then((opened) => assembled(root, sealed, opened, references));
  }

  /** Every ciphertext's values (`null` for an erased subject), or `undefined` if one needs a promise. */
  #openNow(sealed: readonly { path: FieldPath; value: SealedFields }[], context: SealContext) {
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

interface Decrypted {
  readonly value: unknown;
  readonly erased: string[];
}

/**
 * `root` with every ciphertext's values put back (`null` where its subject was erased), once each
 * reference is checked against the ciphertext that answers its field.
 */
function assembled(
  root: unknown,
  sealed: readonly { path: FieldPath; value: SealedFields }[],
  opened: readonly (unknown[] | null)[],
  references: readonly { path: FieldPath; value: EncryptedValue }[],
): Decrypted {
  const erased: string[] = [];
  // Which ciphertext (by its first field) answers each field, for the references to be checked against.
  const holders = new Map<string, SealedFields>();
  let out = root;
  for (let s = 0; s < sealed.length; s++) {
    const { value } = sealed[s] as { value: SealedFields };
    const values = opened[s];
    if (values === null || values === undefined) erased.push(...value.fields);
    for (let i = 0; i < value.fields.length; i++) {
      const field = value.fields[i] as string;
      holders.set(field, value);
      out = withValueAt(out, field.split("."), values == null ? null : values[i]);
    }
  }
  for (const { path, value } of references) {
    const holder = holders.get(dottedPath(path));
    if (holder === undefined || holder.subject !== value.subject || holder.fields[0] !== (value as { in: string }).in) {
      throw new PersonalDataError("tampered", value.subject, dottedPath(path));
    }
  }
  return { value: out, erased: erased.sort() };
}

/** `root` with `sealed` at its first field and a reference to it at each other. */
function placed(root: unknown, present: readonly (readonly string[])[], sealed: SealedFields): unknown {
  const reference = referenceTo(sealed);
  let out = withValueAt(root, present[0] as readonly string[], sealed);
  for (let i = 1; i < present.length; i++) out = withValueAt(out, present[i] as readonly string[], reference);
  return out;
}

/** A decrypted event as a reader's result, whether it came with or without a promise. */
function settled(
  event: EventEnvelope | Promise<EventEnvelope>,
): IteratorResult<EventEnvelope, void> | Promise<IteratorResult<EventEnvelope, void>> {
  return event instanceof Promise ? event.then((value) => ({ value, done: false })) : { value: event, done: false };
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

function valueAt(root: unknown, path: FieldPath): unknown {
  let at = root;
  for (const segment of path) {
    if (typeof at !== "object" || at === null) return undefined;
    at = (at as Record<string | number, unknown>)[segment];
  }
  return at;
}

/** `root` with `value` at `path`, copying only the objects on the path (the caller's data is never changed). */
function withValueAt(root: unknown, path: FieldPath, value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path as [string | number, ...(string | number)[]];
  const container = root as Record<string | number, unknown>;
  const copy: Record<string | number, unknown> = Array.isArray(root)
    ? (root.slice() as unknown as Record<number, unknown>)
    : { ...container };
  copy[head] = withValueAt(container[head], rest, value);
  return copy;
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
      } else paths.push(segments);
    });
    const dotted = paths.map((p) => `${p.join(".")}.`);
    if (dotted.some((a, i) => dotted.some((b, j) => i !== j && b.startsWith(a)))) {
      issues.push({ path: [where, name, "fields"], message: "a field must not lie inside another listed field" });
    }
    if (typeof rule.subject !== "function") {
      issues.push({ path: [where, name, "subject"], message: "subject must be a function of the event" });
      continue;
    }
    out.set(name, { paths, subject: rule.subject });
  }
  return out;
}
