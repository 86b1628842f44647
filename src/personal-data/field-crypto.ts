import { PersonalDataError } from "../errors.js";
import { fromBase64, fromBase64Into, toBase64 } from "../internal/base64.js";
import type { WebCryptoKey } from "./subject-key-store.js";
import { hasSyncKey, openSync, sealSyncInto, TAG_BYTES } from "./sync-aes-gcm.js";

/**
 * Format /2: the personal fields of one record (an event or a snapshot) and one data subject, as stored: ONE
 * AES-GCM ciphertext of all their values, self-describing JSON that names the format, the subject whose
 * key encrypted it, the dotted paths it holds (in the order of the values), the 96-bit IV and the
 * ciphertext with its tag (both base64). It sits at the first of its fields; each other field holds a
 * {@link SealedReference} to it.
 */
export interface SealedFields {
  readonly $personal: typeof FORMAT;
  readonly subject: string;
  readonly fields: readonly string[];
  readonly iv: string;
  readonly data: string;
}

/** A personal field whose value is sealed in the {@link SealedFields} at the dotted path `in`. */
export interface SealedReference {
  readonly $personal: typeof FORMAT;
  readonly subject: string;
  readonly in: string;
}

export type EncryptedValue = SealedFields | SealedReference;

/** The marker property of a /2 encrypted value (and a /3 record's root key: compact-format.ts), and /2's name. */
export const ENCRYPTED_MARKER = "$personal";
export const FORMAT = "aes-256-gcm/2";
/** What every format's name starts with: how a marker written by the library is told from data. */
const FORMAT_FAMILY = "aes-256-gcm/";
const IV_BYTES = 12;
/** What each format's additional data starts with: a ciphertext of one format never opens as the other's. */
export const AAD_LABEL = "eventflows/personal-data/v2\u0000";
export const AAD_LABEL_V3 = "eventflows/personal-data/v3\u0000";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** IVs drawn from the CSPRNG at a time: on Node 20 one getRandomValues call costs 3.5 µs of CPU, this 0.05 µs an IV. */
const IVS_PER_DRAW = 256;
let ivPool = new Uint8Array(0);
let ivAt = 0;

/**
 * A fresh random 96-bit IV. Each is handed out once: a pool is never refilled in place (a new one is
 * drawn), so an IV given out, and still used by a Web Crypto call in flight, never changes.
 */
export function freshIv(): Uint8Array<ArrayBuffer> {
  const at = nextIvAt();
  return ivPool.subarray(at, at + IV_BYTES);
}

/** {@link freshIv} copied into `target` (for the synchronous seal: no view made per record). */
function freshIvInto(target: Uint8Array): Uint8Array {
  const at = nextIvAt();
  const pool = ivPool;
  for (let i = 0; i < IV_BYTES; i++) target[i] = pool[at + i] as number;
  return target;
}

/** Where the next unused IV starts in `ivPool` (a new pool drawn when it is used up). */
function nextIvAt(): number {
  if (ivAt + IV_BYTES > ivPool.length) {
    ivPool = crypto.getRandomValues(new Uint8Array(IV_BYTES * IVS_PER_DRAW));
    ivAt = 0;
  }
  const at = ivAt;
  ivAt += IV_BYTES;
  return at;
}

/** A path into the data: object keys and array indexes from its root. */
export type FieldPath = readonly (string | number)[];

/**
 * What a ciphertext is bound to besides its subject and fields: `["event", id, type]` or
 * `["snapshot", streamId]`, so that it cannot be moved to another event or snapshot either.
 */
export type SealContext = readonly string[];

/**
 * Whether a value under the marker key names a format of the library (`aes-256-gcm/<version>`): only
 * then is it read as encrypted personal data (malformed if it is not well formed, or of a version this
 * release does not know). Any other value under the key is the record's own data, as written before
 * `personalData` was turned on, and reads as stored.
 */
export function namesFormat(value: unknown): boolean {
  return typeof value === "string" && value.startsWith(FORMAT_FAMILY);
}

/** A /2 encrypted value (or one that claims to be): an object whose marker key names a format. */
export function isEncryptedValue(value: unknown): value is EncryptedValue {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    namesFormat((value as Record<string, unknown>)[ENCRYPTED_MARKER])
  );
}

/** Dotted, for messages, the stored field lists and the erased-fields list: `address.street`, `items.0`. */
export function dottedPath(path: FieldPath): string {
  return path.join(".");
}

// Subject, record and field list are authenticated with the ciphertext: a ciphertext copied to another
// event, snapshot, subject or set of fields fails to decrypt instead of reading as that record's data.
// The text is exactly `JSON.stringify([subject, context, fields])`, built without it: it runs for every
// event read and written, and JSON.stringify of nested arrays was its largest cost on Bun.
export function additionalData(
  subject: string,
  context: SealContext,
  fields: readonly string[],
  label = AAD_LABEL,
): Uint8Array<ArrayBuffer> {
  return encoder.encode(additionalText(subject, context, fields, label));
}

function additionalText(subject: string, context: SealContext, fields: readonly string[], label: string): string {
  return `${label}[${quoted(subject)},${quotedList(context)},${quotedList(fields)}]`;
}

// The synchronous open decodes into these instead of new arrays (and the synchronous seal writes its
// additional data into scratchAad): on Bun the small typed arrays made per event read (IV, ciphertext,
// additional data) and the views cut from them cost more than the AES-GCM open. Safe to share: nothing
// between filling them and the call's end awaits, and node:crypto copies or consumes its inputs within
// each call.
const scratchIv = new Uint8Array(IV_BYTES);
let scratchData = new Uint8Array(new ArrayBuffer(1024));

/** Views are kept for the first KiB of a scratch buffer (at most 1,025 of each kind); beyond, made per call. */
const KEPT_VIEWS = 1024;

/**
 * Views of a scratch buffer (ciphertext, tag, additional data), each made once and kept: making them
 * per event read cost about 5% of a decryption's CPU on Bun and on Node. Dropped with their buffer when it grows.
 */
export class Views {
  readonly #bytes: Uint8Array;
  /** By length, the views from the start; by start, the views that end 16 bytes later (tags). */
  readonly #heads: Uint8Array[] = [];
  readonly #tags: Uint8Array[] = [];
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  head(length: number): Uint8Array {
    if (length > KEPT_VIEWS) return this.#bytes.subarray(0, length);
    let view = this.#heads[length];
    if (view === undefined) this.#heads[length] = view = this.#bytes.subarray(0, length);
    return view;
  }
  tag(start: number): Uint8Array {
    if (start > KEPT_VIEWS) return this.#bytes.subarray(start, start + TAG_BYTES);
    let view = this.#tags[start];
    if (view === undefined) this.#tags[start] = view = this.#bytes.subarray(start, start + TAG_BYTES);
    return view;
  }
}
let dataViews = new Views(scratchData);
/** `scratchData` after an IV's bytes: where format /3's seal writes its ciphertext, the IV before it. */
let dataAfterIv = scratchData.subarray(IV_BYTES);
function growScratchData(length: number): void {
  scratchData = new Uint8Array(new ArrayBuffer(length));
  dataViews = new Views(scratchData);
  dataAfterIv = scratchData.subarray(IV_BYTES);
}
/** The synchronous seal's plaintext, zeroed after each use. */
let scratchPlain = new Uint8Array(new ArrayBuffer(1024));
let plainViews = new Views(scratchPlain);
/** Always starts with the bytes of `scratchLabel`: every way of filling it writes them, or leaves them. */
let scratchAad = new Uint8Array(new ArrayBuffer(1024));
let aadViews = new Views(scratchAad);
let scratchLabel = AAD_LABEL;
// Both labels are ASCII of one length, so switching rewrites only their bytes.
const LABEL_BYTES = encoder.encodeInto(AAD_LABEL, scratchAad).written;

/**
 * The most bytes a scratch buffer keeps between calls. Each grows to fit the record in hand; one grown
 * past this (a huge record sealed or opened) is given back after that call, so that one huge event does
 * not hold its size for the life of the process. Common records stay far below it, and reuse the buffers.
 */
export const KEPT_SCRATCH_BYTES = 64 * 1024;

/** Gives back every scratch buffer grown past {@link KEPT_SCRATCH_BYTES}: called once a seal or open is done with them. */
export function releaseScratch(): void {
  if (scratchData.length > KEPT_SCRATCH_BYTES) growScratchData(1024);
  if (scratchPlain.length > KEPT_SCRATCH_BYTES) {
    scratchPlain = new Uint8Array(new ArrayBuffer(1024));
    plainViews = new Views(scratchPlain);
  }
  if (scratchAad.length > KEPT_SCRATCH_BYTES) {
    forgetTail();
    scratchAad = new Uint8Array(new ArrayBuffer(1024));
    aadViews = new Views(scratchAad);
    encoder.encodeInto(scratchLabel, scratchAad);
  }
}

/** {@link additionalData} in `scratchAad` (grown if need be): a view of its start. */
export function additionalDataInScratch(
  subject: string,
  context: SealContext,
  fields: readonly string[],
  label = AAD_LABEL,
): Uint8Array {
  if (label !== scratchLabel) {
    encoder.encodeInto(label, scratchAad);
    scratchLabel = label;
  }
  const ascii = asciiAdditionalData(subject, context, fields);
  if (ascii > 0) return aadViews.head(ascii);
  const text = additionalText(subject, context, fields, label);
  // UTF-8 takes at most 3 bytes per UTF-16 code unit.
  if (scratchAad.length < text.length * 3) {
    scratchAad = new Uint8Array(new ArrayBuffer(text.length * 3));
    aadViews = new Views(scratchAad);
  }
  return aadViews.head(encoder.encodeInto(text, scratchAad).written);
}

// The usual additional data is ASCII that JSON.stringify leaves as it is: written byte by byte after the
// label, in the one pass that checks it, instead of a string built, scanned and encoded per event read.

/** The length of the additional data written to `scratchAad`, or -1 if it is not such ASCII or does not fit. */
function asciiAdditionalData(subject: string, context: SealContext, fields: readonly string[]): number {
  const out = scratchAad;
  let at = LABEL_BYTES;
  out[at++] = 0x5b; // [
  at = asciiQuoted(subject, out, at);
  if (at < 0 || at >= out.length) return forgetTail();
  out[at++] = 0x2c; // ,
  out[at++] = 0x5b;
  const last = context.length - 1;
  for (let i = 0; i < last; i++) {
    at = asciiQuoted(context[i] as string, out, at);
    if (at < 0 || at >= out.length) return forgetTail();
    out[at++] = 0x2c;
  }
  if (last < 0) {
    // No context (no caller of the library's passes none): written in full over where a tail may be.
    forgetTail();
    out[at++] = 0x5d;
    out[at++] = 0x2c;
    at = asciiList(fields, out, at);
    if (at < 0 || at >= out.length) return forgetTail();
    out[at++] = 0x5d;
    return at;
  }
  const lastOfContext = context[last] as string;
  if (at === tailFrom && lastOfContext === tailContext && sameList(fields, tailFields)) return tailTo;
  const end = asciiTail(lastOfContext, fields, out, at);
  if (end < 0) return forgetTail();
  tailFrom = at;
  tailTo = end;
  tailContext = lastOfContext;
  // A copy: a caller's list (a sealed marker's, which leaves the library) may change after this call.
  tailFields = fields.slice();
  return end;
}

// The end of the additional data (the context's last element, the field list) is the same from one event
// of a type to the next: where it would land where the last one written still is, it is not written again
// (on Bun a third of the time spent building the additional data of a read's event). Only an ASCII write
// that ends in the tail sets these; anything else that writes to `scratchAad` or replaces it forgets them.
let tailFrom = -1;
let tailTo = -1;
let tailContext = "";
let tailFields: readonly string[] = [];

function forgetTail(): -1 {
  tailFrom = -1;
  return -1;
}

/** `"lastOfContext"],[fields]]` at `at`: the position after it, or -1 as {@link asciiQuoted}. */
function asciiTail(lastOfContext: string, fields: readonly string[], out: Uint8Array, start: number): number {
  let at = asciiQuoted(lastOfContext, out, start);
  if (at < 0 || at >= out.length) return -1;
  out[at++] = 0x5d;
  out[at++] = 0x2c;
  at = asciiList(fields, out, at);
  if (at < 0 || at >= out.length) return -1;
  out[at++] = 0x5d;
  return at;
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// The brackets and commas are written unchecked: a typed array ignores a write past its end, and every
// caller checks the position it gets back against the buffer's length before using it.
function asciiList(list: readonly string[], out: Uint8Array, start: number): number {
  let at = start;
  out[at++] = 0x5b;
  for (let i = 0; i < list.length; i++) {
    if (i > 0) out[at++] = 0x2c;
    at = asciiQuoted(list[i] as string, out, at);
    if (at < 0 || at >= out.length) return -1;
  }
  out[at++] = 0x5d;
  return at;
}

/** `text` quoted at `at` in `out`: the position after it, or -1 (not plain ASCII, or no room). */
function asciiQuoted(text: string, out: Uint8Array, start: number): number {
  if (start + text.length + 2 > out.length) return -1;
  let at = start;
  out[at++] = 0x22;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7f) return -1;
    out[at++] = c;
  }
  out[at++] = 0x22;
  return at;
}

/** Whether `JSON.stringify` would escape a character of `text` (or it holds a surrogate: escaped when lone). */
function needsEscape(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

/** `JSON.stringify(text)`. */
function quoted(text: string): string {
  return needsEscape(text) ? JSON.stringify(text) : `"${text}"`;
}

/** `JSON.stringify(list)` for a list of strings. */
function quotedList(list: readonly string[]): string {
  let out = "[";
  for (let i = 0; i < list.length; i++) out += i === 0 ? quoted(list[i] as string) : `,${quoted(list[i] as string)}`;
  return `${out}]`;
}

/**
 * One ciphertext of `values` (one per field, in order): one AES-GCM call however many fields. Synchronous
 * where the key has a synchronous context ({@link sealFieldsNow}), otherwise one Web Crypto call.
 */
export async function sealFields(
  key: WebCryptoKey,
  subject: string,
  context: SealContext,
  fields: readonly string[],
  values: readonly unknown[],
): Promise<SealedFields> {
  const now = sealFieldsNow(key, subject, context, fields, values);
  if (now !== undefined) return now;
  const iv = freshIv();
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: additionalData(subject, context, fields) },
    key,
    encoder.encode(JSON.stringify(values)),
  );
  return { $personal: FORMAT, subject, fields, iv: toBase64(iv), data: toBase64(new Uint8Array(sealed)) };
}

/** {@link sealFields} without a promise, or `undefined` when `key` has no synchronous context here. */
export function sealFieldsNow(
  key: WebCryptoKey,
  subject: string,
  context: SealContext,
  fields: readonly string[],
  values: readonly unknown[],
): SealedFields | undefined {
  try {
    const written = sealInScratch(key, subject, context, fields, values, AAD_LABEL);
    if (written === undefined) return undefined;
    return { $personal: FORMAT, subject, fields, iv: toBase64(scratchIv), data: toBase64(dataViews.head(written)) };
  } finally {
    releaseScratch();
  }
}

/**
 * Format /3's sealed text (base64 of IV + ciphertext + tag) under `label`, sealed without a promise, or
 * `undefined` when `key` has no synchronous context here.
 */
export function sealedTextNow(
  key: WebCryptoKey,
  subject: string,
  context: SealContext,
  fields: readonly string[],
  values: readonly unknown[],
  label: string,
): string | undefined {
  try {
    const written = sealInScratch(key, subject, context, fields, values, label, true);
    if (written === undefined) return undefined;
    // One encoding of IV + ciphertext + tag, not the IV's and the ciphertext's joined: V8 keeps a joined
    // string as a rope, and where a store keeps the string as it is (in memory), each read's base64 decoding
    // went through the rope (on Node 20, 7.4% of an in-memory read's CPU profile, 4.8% over JSON-parsed rows).
    return toBase64(dataViews.head(written));
  } finally {
    releaseScratch();
  }
}

/**
 * `values` sealed synchronously into the scratch buffers: the IV in `scratchIv`, ciphertext + tag at the
 * start of `scratchData`; their length, or `undefined` when `key` has no synchronous context here. With
 * `ivFirst` (format /3), the IV at the start of `scratchData` and ciphertext + tag after it, and the length
 * of all three. The caller encodes them before anything else seals.
 */
function sealInScratch(
  key: WebCryptoKey,
  subject: string,
  context: SealContext,
  fields: readonly string[],
  values: readonly unknown[],
  label: string,
  ivFirst = false,
): number | undefined {
  if (!hasSyncKey(key)) return undefined;
  // The values first: JSON.stringify may run the caller's toJSON, which must not find the scratch buffers
  // between their filling and their use.
  const text = JSON.stringify(values);
  // Plaintext, IV and ciphertext go through reused buffers (node:crypto copies what it is given): the
  // arrays and views made per record sealed cost 0.5-1.7 µs of CPU on Node 20 (making and collecting
  // them), 0.15-0.3 µs on Bun. Grown like the other scratch buffers; UTF-8 takes at most 3 bytes per
  // UTF-16 code unit.
  if (scratchPlain.length < text.length * 3) {
    scratchPlain = new Uint8Array(new ArrayBuffer(text.length * 3));
    plainViews = new Views(scratchPlain);
  }
  const length = encoder.encodeInto(text, scratchPlain).written;
  const plain = plainViews.head(length);
  const start = ivFirst ? IV_BYTES : 0;
  if (scratchData.length < start + length + TAG_BYTES) growScratchData(start + length + TAG_BYTES);
  let written: number;
  try {
    written = sealSyncInto(
      key,
      freshIvInto(ivFirst ? dataViews.head(IV_BYTES) : scratchIv),
      additionalDataInScratch(subject, context, fields, label),
      plain,
      ivFirst ? dataAfterIv : scratchData,
    );
  } finally {
    // The personal values are not left in a buffer that lives on.
    scratchPlain.fill(0, 0, length);
  }
  return start + written;
}

export function referenceTo(sealed: SealedFields): SealedReference {
  return { $personal: FORMAT, subject: sealed.subject, in: sealed.fields[0] as string };
}

/**
 * The values of `sealed`, one per field: synchronously where `key` has a synchronous context
 * ({@link openFieldsNow}), otherwise through Web Crypto.
 * @throws {PersonalDataError} `malformed`, or `tampered` when it does not authenticate under `key` here.
 */
export async function openFields(
  key: WebCryptoKey,
  sealed: SealedFields,
  context: SealContext,
  path: FieldPath,
): Promise<unknown[]> {
  if (hasSyncKey(key)) return openFieldsNow(key, sealed, context, path);
  const { iv, data } = parts(sealed, path);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: additionalData(sealed.subject, context, sealed.fields) },
      key,
      data,
    );
  } catch (error) {
    throw new PersonalDataError("tampered", sealed.subject, dottedPath(path), { cause: error });
  }
  return parsed(new Uint8Array(plain), sealed, path);
}

/**
 * {@link openFields} without a promise, for a key {@link hasSyncKey} answers true for.
 * @throws {PersonalDataError} as {@link openFields}.
 */
export function openFieldsNow(
  key: WebCryptoKey,
  sealed: SealedFields,
  context: SealContext,
  path: FieldPath,
): unknown[] {
  try {
    const written = partsInScratch(sealed, path);
    const aad = additionalDataInScratch(sealed.subject, context, sealed.fields);
    const plain =
      written < TAG_BYTES
        ? undefined
        : openSync(key, scratchIv, aad, dataViews.head(written - TAG_BYTES), dataViews.tag(written - TAG_BYTES));
    if (plain === undefined) throw new PersonalDataError("tampered", sealed.subject, dottedPath(path));
    return parsed(plain, sealed, path);
  } finally {
    releaseScratch();
  }
}

function parsed(plain: Uint8Array, sealed: SealedFields, path: FieldPath): unknown[] {
  const values: unknown = JSON.parse(decoder.decode(plain));
  if (!Array.isArray(values) || values.length !== sealed.fields.length) {
    throw new PersonalDataError("tampered", sealed.subject, dottedPath(path));
  }
  return values;
}

/** A well-formed sealed value or reference, or a `malformed` error. */
export function checked(value: EncryptedValue, path: FieldPath): EncryptedValue {
  const subject = typeof value.subject === "string" ? value.subject : undefined;
  if (value.$personal !== FORMAT || subject === undefined) {
    throw new PersonalDataError("malformed", subject, dottedPath(path));
  }
  if (isReference(value)) return value;
  const { fields, iv, data } = value;
  if (
    !Array.isArray(fields) ||
    fields.length === 0 ||
    !allStrings(fields) ||
    fields.some(namesProto) ||
    typeof iv !== "string" ||
    typeof data !== "string"
  ) {
    throw new PersonalDataError("malformed", subject, dottedPath(path));
  }
  return value;
}

/**
 * A field with a `__proto__` segment, which no declaration may name (see personalData's checks):
 * put back, it would set the record's prototype instead of a field. Refused in either format.
 */
export function namesProto(field: string): boolean {
  return field.includes("__proto__") && field.split(".").includes("__proto__");
}

function allStrings(list: readonly unknown[]): boolean {
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== "string") return false;
  return true;
}

export function isReference(value: EncryptedValue): value is SealedReference {
  return "in" in value && typeof value.in === "string" && !("data" in value);
}

/** {@link parts} decoded into `scratchIv` and `scratchData`: the bytes of ciphertext and tag written there. */
function partsInScratch(value: SealedFields, path: FieldPath): number {
  try {
    if (fromBase64Into(value.iv, scratchIv) !== IV_BYTES) throw new Error("IV length");
    // Base64 holds 3 bytes in each 4 characters.
    const most = Math.ceil(value.data.length / 4) * 3;
    if (scratchData.length < most) growScratchData(most);
    const written = fromBase64Into(value.data, scratchData);
    if (written < 0) throw new Error("ciphertext length");
    return written;
  } catch (error) {
    throw new PersonalDataError("malformed", value.subject, dottedPath(path), { cause: error });
  }
}

function parts(value: SealedFields, path: FieldPath): { iv: Uint8Array<ArrayBuffer>; data: Uint8Array<ArrayBuffer> } {
  try {
    const iv = fromBase64(value.iv);
    if (iv.length !== IV_BYTES) throw new Error("IV length");
    return { iv, data: fromBase64(value.data) };
  } catch (error) {
    throw new PersonalDataError("malformed", value.subject, dottedPath(path), { cause: error });
  }
}
