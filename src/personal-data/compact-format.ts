import { PersonalDataError } from "../errors.js";
import { fromBase64, fromBase64Into, toBase64 } from "../internal/base64.js";
import { setOwn } from "../internal/json.js";
import {
  AAD_LABEL_V3,
  additionalData,
  additionalDataInScratch,
  ENCRYPTED_MARKER,
  freshIv,
  KEPT_SCRATCH_BYTES,
  namesFormat,
  namesProto,
  releaseScratch,
  type SealContext,
  sealedTextNow,
  Views,
} from "./field-crypto.js";
import type { WebCryptoKey } from "./subject-key-store.js";
import { hasSyncKey, openSync, TAG_BYTES } from "./sync-aes-gcm.js";

/**
 * Format aes-256-gcm/3: the personal fields of one record (an event's data, a snapshot's state) whose
 * root is a plain object, as ONE marker under the root's `$personal` key: the array
 * `[format, subject, fields, sealed]`, `fields` the dotted paths it holds (in the order of the values),
 * `sealed` IV + ciphertext + tag as one base64 string. The fields themselves are absent from the stored
 * record (an array element is left as `null`). A reader finds it with one property check instead of
 * walking the record, and reads fewer bytes: 322 instead of /2's 514 for the personal-data bench's
 * event (199 in plaintext; JSON.stringify, mean of its 1,000 events), whose /2 rows read raw cost +60% over plain ones on Bun. An array, not an
 * object: on Node 20 JSON.parse of such a row took 1.12 instead of 1.34 µs (Bun: 0.37 / 0.39).
 */
export type CompactMarker = readonly [
  format: typeof FORMAT_V3,
  subject: string,
  fields: readonly string[],
  sealed: string,
];

export const FORMAT_V3 = "aes-256-gcm/3";
const IV_BYTES = 12;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The value under the root's marker key, if the root is a non-array object whose marker names a format
 * of the library (an array whose first element does, or such a string: see {@link namesFormat}). Any
 * other value there is the record's own data, written before `personalData` was on: not a marker.
 */
export function compactMarkerOf(root: unknown): unknown {
  if (typeof root !== "object" || root === null || Array.isArray(root)) return undefined;
  const value = (root as Record<string, unknown>)[ENCRYPTED_MARKER];
  return namesFormat(Array.isArray(value) ? value[0] : value) ? value : undefined;
}

/** Whether a record of this root is stored in format /3 (else in /2's places). */
export function takesCompactForm(root: unknown): root is Record<string, unknown> {
  return typeof root === "object" && root !== null && !Array.isArray(root);
}

/** A well-formed /3 marker, or a `malformed` error (an unknown version too). */
export function checkedMarker(value: unknown): CompactMarker {
  const marker = Array.isArray(value) ? value : undefined;
  const subject = typeof marker?.[1] === "string" ? (marker[1] as string) : undefined;
  const fields: unknown = marker?.[2];
  if (
    subject === undefined ||
    marker?.length !== 4 ||
    marker[0] !== FORMAT_V3 ||
    !Array.isArray(fields) ||
    fields.length === 0 ||
    !allFieldNames(fields) ||
    typeof marker[3] !== "string"
  ) {
    throw new PersonalDataError("malformed", subject, ENCRYPTED_MARKER);
  }
  return marker as unknown as CompactMarker;
}

/** Whether every element is a string that does not name `__proto__` (one pass, no callback per field: this runs per event read). */
function allFieldNames(list: readonly unknown[]): boolean {
  for (let i = 0; i < list.length; i++) {
    const field = list[i];
    if (typeof field !== "string" || namesProto(field)) return false;
  }
  return true;
}

/** One /3 marker of `values` (one per field, in order): synchronously where the key allows it, else Web Crypto. */
export async function sealCompact(
  key: WebCryptoKey,
  subject: string,
  context: SealContext,
  fields: readonly string[],
  values: readonly unknown[],
): Promise<CompactMarker> {
  const now = sealCompactNow(key, subject, context, fields, values);
  if (now !== undefined) return now;
  const iv = freshIv();
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: additionalData(subject, context, fields, AAD_LABEL_V3) },
    key,
    encoder.encode(JSON.stringify(values)),
  );
  return [FORMAT_V3, subject, fields, toBase64(iv) + toBase64(new Uint8Array(sealed))];
}

/** {@link sealCompact} without a promise, or `undefined` when `key` has no synchronous context here. */
export function sealCompactNow(
  key: WebCryptoKey,
  subject: string,
  context: SealContext,
  fields: readonly string[],
  values: readonly unknown[],
): CompactMarker | undefined {
  const sealed = sealedTextNow(key, subject, context, fields, values, AAD_LABEL_V3);
  return sealed === undefined ? undefined : [FORMAT_V3, subject, fields, sealed];
}

/**
 * The values of a checked marker, one per field, through Web Crypto or synchronously.
 * @throws {PersonalDataError} `malformed`, or `tampered` when it does not authenticate under `key` here.
 */
export async function openCompact(key: WebCryptoKey, marker: CompactMarker, context: SealContext): Promise<unknown[]> {
  if (hasSyncKey(key)) return openCompactNow(key, marker, context);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = fromBase64(marker[3]);
  } catch (error) {
    throw new PersonalDataError("malformed", marker[1], ENCRYPTED_MARKER, { cause: error });
  }
  if (bytes.length < IV_BYTES + TAG_BYTES) throw new PersonalDataError("tampered", marker[1], ENCRYPTED_MARKER);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      {
        name: "AES-GCM",
        iv: bytes.subarray(0, IV_BYTES),
        additionalData: additionalData(marker[1], context, marker[2], AAD_LABEL_V3),
      },
      key,
      bytes.subarray(IV_BYTES),
    );
  } catch (error) {
    throw new PersonalDataError("tampered", marker[1], ENCRYPTED_MARKER, { cause: error });
  }
  return parsed(new Uint8Array(plain), marker);
}

// Decoded into this buffer and opened through views kept of it, as field-crypto.ts does for /2 (no
// typed arrays made per event read). Safe to share: nothing between filling and use awaits.
let scratch = new Uint8Array(new ArrayBuffer(1024));
let ivViews = new Views(scratch);
let bodyViews = new Views(scratch.subarray(IV_BYTES));

/** {@link openCompact} without a promise, for a key {@link hasSyncKey} answers true for. */
export function openCompactNow(key: WebCryptoKey, marker: CompactMarker, context: SealContext): unknown[] {
  try {
    const written = decoded(marker);
    const body = written - IV_BYTES - TAG_BYTES;
    const aad = additionalDataInScratch(marker[1], context, marker[2], AAD_LABEL_V3);
    const plain =
      body < 0 ? undefined : openSync(key, ivViews.head(IV_BYTES), aad, bodyViews.head(body), bodyViews.tag(body));
    if (plain === undefined) throw new PersonalDataError("tampered", marker[1], ENCRYPTED_MARKER);
    return parsed(plain, marker);
  } finally {
    // A buffer grown for a huge marker is not kept (see KEPT_SCRATCH_BYTES).
    if (scratch.length > KEPT_SCRATCH_BYTES) useScratch(new Uint8Array(new ArrayBuffer(1024)));
    releaseScratch();
  }
}

function useScratch(bytes: Uint8Array<ArrayBuffer>): void {
  scratch = bytes;
  ivViews = new Views(scratch);
  bodyViews = new Views(scratch.subarray(IV_BYTES));
}

/** `c` decoded into `scratch` (grown if need be): the number of bytes written. */
function decoded(marker: CompactMarker): number {
  const text = marker[3];
  try {
    // Base64 holds 3 bytes in each 4 characters.
    const most = Math.ceil(text.length / 4) * 3;
    if (scratch.length < most) useScratch(new Uint8Array(new ArrayBuffer(most)));
    const written = fromBase64Into(text, scratch);
    if (written < 0) throw new Error("ciphertext length");
    return written;
  } catch (error) {
    throw new PersonalDataError("malformed", marker[1], ENCRYPTED_MARKER, { cause: error });
  }
}

function parsed(plain: Uint8Array, marker: CompactMarker): unknown[] {
  const values: unknown = JSON.parse(decoder.decode(plain));
  if (!Array.isArray(values) || values.length !== marker[2].length) {
    throw new PersonalDataError("tampered", marker[1], ENCRYPTED_MARKER);
  }
  return values;
}

/**
 * `root` without the fields at `paths` (each present, none inside another), with `marker` under its
 * marker key: the objects on the paths are copied, never changed. An array element stays, as `null`.
 */
export function stripped(root: Record<string, unknown>, paths: readonly (readonly string[])[], marker: CompactMarker) {
  const out = without(root, paths, 0) as Record<string, unknown>;
  out[ENCRYPTED_MARKER] = marker;
  return out;
}

function without(node: object, paths: readonly (readonly string[])[], depth: number): object {
  if (Array.isArray(node)) {
    const out: unknown[] = node.slice();
    for (let p = 0; p < paths.length; p++) {
      const segment = (paths[p] as readonly string[])[depth] as string;
      if (seenBefore(paths, p, depth, segment)) continue;
      const cut = through(paths, depth, segment);
      out[Number(segment)] =
        cut === true ? null : without(node[Number(segment)], cut as (readonly string[])[], depth + 1);
    }
    return out;
  }
  const source = node as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(source)) {
    const cut = through(paths, depth, key);
    if (cut === true) continue;
    setOwn(out, key, cut === undefined ? source[key] : without(source[key] as object, cut, depth + 1));
  }
  return out;
}

// Linear scans instead of a Set and a Map per object on the paths: a record has a few marked fields,
// and building those collections was a fifth of an append's CPU on Bun (a CPU profile of encryptEvents).

/** For `key` at `depth`: `true` when a path ends there, else the paths that go on through it, if any. */
function through(
  paths: readonly (readonly string[])[],
  depth: number,
  key: string,
): true | (readonly string[])[] | undefined {
  let deeper: (readonly string[])[] | undefined;
  for (let p = 0; p < paths.length; p++) {
    const path = paths[p] as readonly string[];
    if (path[depth] !== key) continue;
    if (path.length === depth + 1) return true;
    if (deeper === undefined) deeper = [path];
    else deeper.push(path);
  }
  return deeper;
}

/** Whether a path before the `p`th has `segment` at `depth` (so it was handled with it). */
function seenBefore(paths: readonly (readonly string[])[], p: number, depth: number, segment: string): boolean {
  for (let q = 0; q < p; q++) if ((paths[q] as readonly string[])[depth] === segment) return true;
  return false;
}
