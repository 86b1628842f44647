import { ValidationError } from "../errors.js";
import { parseIsoTime } from "../internal/iso-time.js";
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
 * parseIsoTime, not Date.parse: that one took a day the calendar lacks (2030-02-30, stored as March 2),
 * a date-time without a zone (read in the machine's time zone, so stored differently from one server
 * to the next) and a locale's forms ("06/01/2030").
 * @throws {ValidationError} not an ISO 8601 date or date-time with a zone, or outside 1970 to 9999.
 */
export function normalizeCreatedAt(value: unknown): string {
  const ms = typeof value === "string" ? parseIsoTime(value) : undefined;
  const time = ms === undefined ? undefined : snapshotTime(ms);
  if (time === undefined) {
    throw new ValidationError("Invalid snapshot", [
      {
        path: ["createdAt"],
        message: `expected an ISO 8601 date or date-time with a zone from 1970 to 9999, got ${kindOf(value)}`,
      },
    ]);
  }
  return time;
}
