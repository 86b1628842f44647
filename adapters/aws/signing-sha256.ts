// biome-ignore-all lint/style/noNonNullAssertion: typed-array reads below are in bounds by construction (fixed 64-word schedule, 8-word states, blocks the loops measured); checks would cost in the hottest loop.
/**
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), synchronous and in plain JavaScript, for SigV4:
 * Web Crypto is async only, and one signature through it costs ~0.8 ms on Node 20 (promises and key
 * imports at every step); these few dozen compressions take microseconds on every runtime, with no
 * Node built-in. Strings are hashed as UTF-8 (a lone surrogate as U+FFFD, as `TextEncoder` does).
 */

/**
 * The round constants `K` (the first 32 bits of the fractional parts of the cube roots of the first
 * 64 primes) and the initial hash value (of the square roots of the first 8 primes), computed as
 * FIPS 180-4 defines them on first use instead of written out: 72 literal words are about 0.6 KB of a
 * Worker's gzipped bundle, and these roots are exact to the 32 bits taken (float64 carries 52). A
 * wrong word would change every digest: the tests' FIPS 180-4 examples and Web Crypto comparisons catch it.
 */
let K: Int32Array | undefined;
let IV: Int32Array | undefined;

function constants(): Int32Array {
  const k = new Int32Array(64);
  const iv = new Int32Array(8);
  const frac = (root: number) => ((root - Math.floor(root)) * 0x100000000) | 0;
  for (let n = 2, found = 0; found < 64; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) if (n % d === 0) prime = false;
    if (!prime) continue;
    if (found < 8) iv[found] = frac(Math.sqrt(n));
    k[found++] = frac(Math.cbrt(n));
  }
  IV = iv;
  K = k;
  return k;
}

/** The initial hash value (see {@link constants}). */
function initial(): Int32Array {
  if (IV === undefined) constants();
  return IV as Int32Array;
}

/** The message schedule, reused: hashing is synchronous, so no two compressions share it. */
const W = new Int32Array(64);

/** Folds the 64-byte block at `offset` into `state`. */
function compress(state: Int32Array, block: Uint8Array, offset: number): void {
  const k = K ?? constants();
  for (let i = 0; i < 16; i++, offset += 4) {
    W[i] = (block[offset]! << 24) | (block[offset + 1]! << 16) | (block[offset + 2]! << 8) | block[offset + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!;
    const y = W[i - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (s1 + W[i - 7]! + s0 + W[i - 16]!) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + k[i]! + W[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/** The last one or two blocks: the message's tail, 0x80, zeros, and its length in bits. */
const tail = new Uint8Array(128);

/**
 * The digest of `data[0, length)`, continuing from `from` after `before` bytes were already folded
 * into it (an HMAC's key block), into a new state.
 */
function digest(from: Int32Array, before: number, data: Uint8Array, length: number): Int32Array {
  const state = from.slice();
  const whole = length - (length % 64);
  for (let offset = 0; offset < whole; offset += 64) compress(state, data, offset);
  const rest = length - whole;
  tail.fill(0);
  tail.set(data.subarray(whole, length));
  tail[rest] = 0x80;
  const end = rest < 56 ? 64 : 128;
  // Bit lengths up to 2^53 - 1: far beyond any request.
  const bits = (before + length) * 8;
  const high = Math.floor(bits / 0x100000000);
  tail[end - 8] = high >>> 24;
  tail[end - 7] = high >>> 16;
  tail[end - 6] = high >>> 8;
  tail[end - 5] = high;
  tail[end - 4] = bits >>> 24;
  tail[end - 3] = bits >>> 16;
  tail[end - 2] = bits >>> 8;
  tail[end - 1] = bits;
  compress(state, tail, 0);
  if (end === 128) compress(state, tail, 64);
  return state;
}

/** Where strings are encoded before hashing; grows to the longest string seen. */
let scratch = new Uint8Array(1024);

const encoder = new TextEncoder();

/**
 * Writes `text` as UTF-8 into `scratch` (a lone surrogate as U+FFFD, as a Request body is written),
 * returning its length in bytes. `encodeInto` is native on every runtime: several times faster than
 * a JavaScript loop over the characters.
 */
function utf8(text: string): number {
  // Three bytes per UTF-16 unit at most: the whole text always fits.
  if (scratch.length < text.length * 3) scratch = new Uint8Array(text.length * 3);
  return encoder.encodeInto(text, scratch).written;
}

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** A digest state as lowercase hex. */
function hex(state: Int32Array): string {
  let out = "";
  for (let i = 0; i < 8; i++) {
    const w = state[i]!;
    out += HEX[w >>> 24]! + HEX[(w >>> 16) & 0xff]! + HEX[(w >>> 8) & 0xff]! + HEX[w & 0xff]!;
  }
  return out;
}

/** A digest state as its 32 bytes. */
function bytes(state: Int32Array): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const w = state[i]!;
    out[i * 4] = w >>> 24;
    out[i * 4 + 1] = w >>> 16;
    out[i * 4 + 2] = w >>> 8;
    out[i * 4 + 3] = w;
  }
  return out;
}

/** The SHA-256 of `text` (as UTF-8), in lowercase hex. */
export function sha256Hex(text: string): string {
  const length = utf8(text); // first: it may replace `scratch`
  return hex(digest(initial(), 0, scratch, length));
}

/** The SHA-256 of `data`, as bytes. */
export function sha256(data: Uint8Array): Uint8Array {
  return bytes(digest(initial(), 0, data, data.length));
}

/**
 * An HMAC-SHA256 key, prepared once: the states after the inner and outer padded key blocks, so
 * each MAC with it hashes only the message and one 32-byte block.
 */
export interface HmacKey {
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

/** Prepares `key` (bytes, or a string taken as UTF-8) for {@link hmac}. */
export function hmacKey(key: Uint8Array | string): HmacKey {
  let raw = key;
  if (typeof raw === "string") {
    const length = utf8(raw); // first: it may replace `scratch`
    raw = scratch.slice(0, length);
  }
  if (raw.length > 64) raw = sha256(raw);
  const block = new Uint8Array(64);
  for (let i = 0; i < 64; i++) block[i] = (raw[i] ?? 0) ^ 0x36;
  const inner = initial().slice();
  compress(inner, block, 0);
  for (let i = 0; i < 64; i++) block[i] = (raw[i] ?? 0) ^ 0x5c;
  const outer = initial().slice();
  compress(outer, block, 0);
  return { inner, outer };
}

function mac(key: HmacKey, message: string): Int32Array {
  const length = utf8(message); // first: it may replace `scratch`
  const inner = bytes(digest(key.inner, 64, scratch, length));
  return digest(key.outer, 64, inner, 32);
}

/** HMAC-SHA256 of `message` (as UTF-8) under `key`, as bytes. */
export function hmac(key: HmacKey, message: string): Uint8Array {
  return bytes(mac(key, message));
}

/** HMAC-SHA256 of `message` (as UTF-8) under `key`, in lowercase hex. */
export function hmacHex(key: HmacKey, message: string): string {
  return hex(mac(key, message));
}
