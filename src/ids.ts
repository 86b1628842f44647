import { decodeTime } from "ulidx";
import { ValidationError } from "./errors.js";
import { createUlidGenerator } from "./internal/ulid-generator.js";

/**
 * ULID identities: 26 Crockford base-32 characters, sortable by creation time. `Id<"Order">` is a
 * string at run time and a distinct type at compile time, so an order id cannot be passed where a
 * customer id is expected.
 */
export type Id<Brand extends string = string> = string & { readonly __idBrand: Brand };

let nextUlid: ((now?: number) => string) | undefined;

/** A new ULID string. Monotonic: ids made within one millisecond still sort in creation order. */
export function ulid(): string {
  nextUlid ??= createUlidGenerator();
  return nextUlid();
}

/**
 * {@link ulid} for a clock reading the caller already took (`Date.now()`), in the same monotonic
 * sequence: for code that stamps the same instant elsewhere (an append's timestamp) and need not
 * read the clock twice. Not exported from the package.
 */
export function ulidAt(now: number): string {
  nextUlid ??= createUlidGenerator();
  return nextUlid(now);
}

/**
 * Whether a value is a ULID: 26 Crockford base-32 characters, in either case, whose first is 0 to 7
 * (the spec's largest time is `7ZZZZZZZZZ`; a larger one has no 48-bit timestamp to decode).
 */
export function isUlid(value: unknown): value is string {
  // ASCII only, on the text as given: upper-casing it first (as ulidx's isValid does) made `ß` "SS" and
  // `ﬀ` "FF", so a 26-character id holding one passed, and was stored as given, 27 characters once
  // upper-cased. A pattern, not ulidx: every store's bundle then carries no module of it.
  return typeof value === "string" && ULID_PATTERN.test(value);
}

/** 26 Crockford base-32 digits (no I, L, O or U), in either case, the first 0 to 7. */
const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$/;

/**
 * The creation time encoded in a ULID.
 * @throws {ValidationError} `id` is not a ULID.
 */
export function ulidTimestamp(id: string): Date {
  if (!isUlid(id)) throw notAUlid("Invalid ULID", id);
  return new Date(decodeTime(id));
}

/** Compares two ULIDs by creation order (for `Array.prototype.sort`), whatever their case. */
export function compareUlids(a: string, b: string): number {
  if (typeof a !== "string" || typeof b !== "string") {
    throw new ValidationError("Invalid ULIDs to compare", [
      {
        path: [typeof a === "string" ? 1 : 0],
        message: `expected a string, got ${describe(typeof a === "string" ? b : a)}`,
      },
    ]);
  }
  // Upper case first: "01a…" is earlier than "01B…", though 'a' sorts after 'B' as a character.
  const x = a.toUpperCase();
  const y = b.toUpperCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

export interface IdType<Brand extends string> {
  readonly brand: Brand;
  /** A fresh id. */
  create(): Id<Brand>;
  /** Validates untrusted input; throws {@link ValidationError} when it is not a ULID. */
  parse(value: unknown): Id<Brand>;
  is(value: unknown): value is Id<Brand>;
  /** The id's creation time; throws {@link ValidationError} when it is not a ULID. */
  timestamp(id: Id<Brand>): Date;
}

/**
 * Declares a branded id type.
 * @example
 * const OrderId = defineId("Order");
 * type OrderId = ReturnType<typeof OrderId.create>;
 */
export function defineId<Brand extends string>(brand: Brand): IdType<Brand> {
  // The brand names the id type in every error message: a name, not whatever was passed.
  if (typeof brand !== "string" || brand.trim() === "") {
    throw new ValidationError("Invalid id type", [
      { path: ["brand"], message: `must be a non-empty name, got ${describe(brand)}` },
    ]);
  }
  return {
    brand,
    create: () => ulid() as Id<Brand>,
    parse(value) {
      if (isUlid(value)) return value.toUpperCase() as Id<Brand>;
      throw notAUlid(`Invalid ${brand} id`, value);
    },
    is: (value): value is Id<Brand> => isUlid(value),
    timestamp(id) {
      if (!isUlid(id)) throw notAUlid(`Invalid ${brand} id`, id);
      return new Date(decodeTime(id));
    },
  };
}

function notAUlid(message: string, value: unknown): ValidationError {
  return new ValidationError(message, [
    { path: [], message: `expected a ULID (26 Crockford base-32 characters), got ${describe(value)}` },
  ]);
}

function describe(value: unknown): string {
  if (typeof value === "string")
    return value.length > 40 ? `a ${value.length}-character string` : JSON.stringify(value);
  return value === null ? "null" : typeof value;
}
