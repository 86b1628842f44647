/**
 * A monotonic ULID generator. ulidx's factory draws one `crypto.getRandomValues` value per
 * character and re-encodes the time on every call (about 0.5 µs an id here); every appended event
 * and every dispatched message gets an id, so this one draws random bytes in blocks, encodes the
 * time once per millisecond, and re-encodes only the random digits an increment changed. Within one
 * millisecond (or when the clock steps back, or stands still as it does inside a Workers request)
 * the 80-bit random part is incremented, so ids still sort in creation order.
 */
/** Crockford base-32, the digits of a ULID. */
export const ENCODING = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RANDOM_DIGITS = 16;
const POOL_SIZE = 4096;

let pool: Uint8Array | undefined;
let poolOffset = POOL_SIZE;

/** Fresh random bytes from a shared block, refilled lazily (Workers forbid random values at import time). */
function randomBytes(count: number): Uint8Array {
  if (poolOffset + count > POOL_SIZE) {
    pool ??= new Uint8Array(POOL_SIZE);
    crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const bytes = (pool as Uint8Array).subarray(poolOffset, poolOffset + count);
  poolOffset += count;
  return bytes;
}

/** A generator with its own monotonic state. `now` is injectable for tests. */
export function createUlidGenerator(): (now?: number) => string {
  let lastTime = -1;
  let timePart = "";
  let randomPart = "";
  const digits = new Uint8Array(RANDOM_DIGITS);

  return (now = Date.now()) => {
    if (now > lastTime) {
      lastTime = now;
      timePart = encodeTime(now);
      const bytes = randomBytes(RANDOM_DIGITS);
      // 256 is a multiple of 32, so the low five bits of a uniform byte are a uniform digit.
      for (let i = 0; i < RANDOM_DIGITS; i++) digits[i] = (bytes[i] as number) & 31;
      randomPart = encodeDigits(digits, 0);
      return timePart + randomPart;
    }
    let i = RANDOM_DIGITS - 1;
    while (i >= 0 && digits[i] === 31) digits[i--] = 0;
    if (i < 0) throw new Error("ULID random part overflowed within one millisecond");
    digits[i] = (digits[i] as number) + 1;
    randomPart = randomPart.slice(0, i) + encodeDigits(digits, i);
    return timePart + randomPart;
  };
}

function encodeDigits(digits: Uint8Array, from: number): string {
  let text = "";
  for (let i = from; i < RANDOM_DIGITS; i++) text += ENCODING[digits[i] as number];
  return text;
}

function encodeTime(time: number): string {
  let text = "";
  for (let i = 0; i < 10; i++) {
    text = ENCODING[time % 32] + text;
    time = Math.floor(time / 32);
  }
  return text;
}
