const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * The id of the `index`-th event an upcaster split a stored event into: the stored id for the first
 * (index 0), then the stored ULID plus `index` in its random part. Deterministic, so every read and
 * every reader sees the same ids (consumers deduplicate by id); a valid ULID with the stored event's
 * time, sorting right after it. The random part is 80 bits, so it collides with another event's id
 * no more often than two generated ULIDs do.
 */
export function splitEventId(storedId: string, index: number): string {
  if (index === 0) return storedId;
  const chars = storedId.toUpperCase().split("");
  let carry = index;
  // Only the random part (the last 16 characters) changes: the time stays the stored event's.
  for (let i = chars.length - 1; i >= chars.length - 16 && carry > 0; i--) {
    const sum = CROCKFORD.indexOf(chars[i] as string) + carry;
    chars[i] = CROCKFORD[sum % 32] as string;
    carry = Math.floor(sum / 32);
  }
  return chars.join("");
}
