import { ValidationError } from "../errors.js";
import { kindOf } from "../internal/validate.js";

/** 9999-12-31T23:59:59.999Z: past it `toISOString()` writes a six-digit year that SQL columns refuse. */
const LATEST = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * A clock reading (ms since the epoch) as a snapshot's `createdAt`, or `undefined` when it is no
 * time a store can keep (NaN, before 1970, after 9999): the store then stamps its own wall clock.
 */
export function snapshotTime(ms: number): string | undefined {
  return Number.isFinite(ms) && ms >= 0 && ms <= LATEST ? new Date(ms).toISOString() : undefined;
}

/**
 * The `createdAt` given to `save`, normalized to the ISO form every store writes and loads back.
 * @throws {ValidationError} not a date string, or outside 1970 to 9999.
 */
export function normalizeCreatedAt(value: unknown): string {
  const time = typeof value === "string" ? snapshotTime(Date.parse(value)) : undefined;
  if (time === undefined) {
    throw new ValidationError("Invalid snapshot", [
      { path: ["createdAt"], message: `expected an ISO 8601 time from 1970 to 9999, got ${kindOf(value)}` },
    ]);
  }
  return time;
}
