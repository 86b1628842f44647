import { PersonalDataError } from "../errors.js";

/**
 * A personal field as stored: self-describing JSON that names the format, the data subject whose key
 * encrypted it, the 96-bit IV and the AES-GCM ciphertext (with its tag), both base64.
 */
export interface EncryptedValue {
  readonly $personal: typeof FORMAT;
  readonly subject: string;
  readonly iv: string;
  readonly data: string;
}

/** The marker property of an encrypted value, and its one format so far. */
export const ENCRYPTED_MARKER = "$personal";
const FORMAT = "aes-256-gcm/1";
const IV_BYTES = 12;
const AAD_LABEL = "eventflows/personal-data/v1\u0000";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A path into the data: object keys and array indexes from its root. */
export type FieldPath = readonly (string | number)[];

export function isEncryptedValue(value: unknown): value is EncryptedValue {
  return typeof value === "object" && value !== null && !Array.isArray(value) && ENCRYPTED_MARKER in value;
}

/** Dotted, for messages and the erased-fields list: `address.street`, `items.0`. */
export function dottedPath(path: FieldPath): string {
  return path.join(".");
}

// The subject and the exact path are authenticated with the ciphertext, so a value copied to another
// field or another subject's record fails to decrypt instead of reading as that field's data.
function additionalData(subject: string, path: FieldPath): Uint8Array<ArrayBuffer> {
  return encoder.encode(AAD_LABEL + JSON.stringify([subject, path]));
}

export async function encryptValue(
  key: CryptoKey,
  subject: string,
  path: FieldPath,
  value: unknown,
): Promise<EncryptedValue> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: additionalData(subject, path) },
    key,
    encoder.encode(JSON.stringify(value)),
  );
  return { $personal: FORMAT, subject, iv: toBase64(iv), data: toBase64(new Uint8Array(sealed)) };
}

/** @throws {PersonalDataError} `malformed`, or `tampered` when it does not authenticate under `key` here. */
export async function decryptValue(key: CryptoKey, value: EncryptedValue, path: FieldPath): Promise<unknown> {
  const { iv, data } = parts(value, path);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: additionalData(value.subject, path) },
      key,
      data,
    );
  } catch (error) {
    throw new PersonalDataError("tampered", value.subject, dottedPath(path), { cause: error });
  }
  return JSON.parse(decoder.decode(plain));
}

/** The subject an encrypted value names, checked to be a well-formed value first. */
export function subjectOf(value: EncryptedValue, path: FieldPath): string {
  parts(value, path);
  return value.subject;
}

function parts(value: EncryptedValue, path: FieldPath): { iv: Uint8Array<ArrayBuffer>; data: Uint8Array<ArrayBuffer> } {
  const subject = typeof value.subject === "string" ? value.subject : undefined;
  if (
    value.$personal !== FORMAT ||
    subject === undefined ||
    typeof value.iv !== "string" ||
    typeof value.data !== "string"
  ) {
    throw new PersonalDataError("malformed", subject, dottedPath(path));
  }
  try {
    const iv = fromBase64(value.iv);
    if (iv.length !== IV_BYTES) throw new Error("IV length");
    return { iv, data: fromBase64(value.data) };
  } catch (error) {
    throw new PersonalDataError("malformed", subject, dottedPath(path), { cause: error });
  }
}

// Below the argument limits of every engine (JavaScriptCore's is 64K).
const CHUNK = 0x8000;

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return btoa(binary);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
