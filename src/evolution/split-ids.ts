import type { EventEnvelope } from "../events/envelope.js";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * The id of the `index`-th event an upcaster split a stored event into: the stored id for the first
 * (index 0), then the stored ULID plus `index` × 2^40 in its random part. Deterministic, so every read
 * and every reader sees the same ids (consumers deduplicate by id); a valid ULID with the stored
 * event's time, sorting after it. Not plus `index` alone: `ulid()` is monotonic, so ids made in the same
 * millisecond (the events of one append) differ by one in their random part, and part 1 of a split
 * event was the id of the event appended right after it. A generator would have to make 2^40 ids in
 * one millisecond to reach a part's id now. (A stored id whose random part is near its largest value
 * carries into the time: the part's id is then a millisecond later, and still sorts after it.)
 */
export function splitEventId(storedId: string, index: number): string {
  if (index === 0) return storedId;
  const chars = storedId.toUpperCase().split("");
  let carry = index;
  // The random part (the last 16 characters) changes, from its 9th character from the end (2^40 =
  // 32^8): the time stays the stored event's. Unless the random part is within index × 2^40 of its
  // largest value: then the carry goes on into the time (one millisecond later), so the id still sorts
  // after the stored one. Dropped there, it wrapped the part's id round to below the stored event's,
  // where it could equal another event's id.
  for (let i = chars.length - 9; i >= 0 && carry > 0; i--) {
    const sum = CROCKFORD.indexOf(chars[i] as string) + carry;
    chars[i] = CROCKFORD[sum % 32] as string;
    carry = Math.floor(sum / 32);
  }
  return chars.join("");
}

/**
 * The parts of split events that are not the last of their stored event, as the registry made them:
 * a live stream must not name such a part's position as its resume point, since the parts after it
 * share that position (a reader resuming after it would never get them). Kept off the envelope (a
 * WeakSet of the objects read), so handlers and JSON see the parts as they are.
 */
const partsFollowing = new WeakSet<EventEnvelope>();

/** Marks every part but the last as followed by another part of the same stored event. */
export function markSplitParts(parts: readonly EventEnvelope[]): void {
  for (let i = 0; i < parts.length - 1; i++) partsFollowing.add(parts[i] as EventEnvelope);
}

/**
 * True for a part of a split event, as read from the store, that another part of the same stored
 * event follows; false for the last part and for every event that was not split (or for a copy of
 * the envelope the store did not hand out).
 */
export function morePartsFollow(event: EventEnvelope): boolean {
  return partsFollowing.has(event);
}
