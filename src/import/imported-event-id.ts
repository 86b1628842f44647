import { ValidationError } from "../errors.js";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const MAX_ULID_TIME = 2 ** 48 - 1;

/**
 * The ULID an imported event gets: its time part is the event's own time (so ids still sort by when
 * events happened), its other 80 bits the start of SHA-256(`source` NUL `key`). The same source event
 * gets the same id on every run, which is what lets a re-run recognise what it stored already.
 * `key` is what identifies the event at the source: Emmett's message id, Castore's aggregate id and
 * version.
 */
export async function importedEventId(source: string, key: string, timestamp: string): Promise<string> {
  const time = Date.parse(timestamp);
  if (!Number.isFinite(time) || time < 0 || time > MAX_ULID_TIME) {
    throw new ValidationError("Invalid event time", [
      { path: ["timestamp"], message: "an imported event's time must be an ISO-8601 date after 1970" },
    ]);
  }
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${source}\u0000${key}`)),
  );
  let id = "";
  let rest = time;
  for (let i = 0; i < 10; i++) {
    id = CROCKFORD[rest % 32] + id;
    rest = Math.floor(rest / 32);
  }
  // 80 bits as 16 characters of 5 bits, read from the digest's first 10 bytes.
  let bits = 0;
  let value = 0;
  for (let byte = 0; byte < 10; byte++) {
    value = (value << 8) | (digest[byte] ?? 0);
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      id += CROCKFORD[(value >> bits) & 31];
    }
    value &= (1 << bits) - 1;
  }
  return id;
}
