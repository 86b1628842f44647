// ISO 8601 as the feed's times are written: a date (taken as UTC midnight, as Date.parse takes it),
// or a date-time with seconds and fraction optional and a zone: Z, or an offset in any of ISO 8601's
// forms, ±hh:mm, ±hhmm or ±hh (a timestamp copied from a log or another system uses each). Text without
// a zone would be read in the machine's time zone, and Date.parse's other forms ("12/01/2026") are the
// runtime's guess at a locale.
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|([+-])(\d{2})(?::?(\d{2}))?))?$/;

/**
 * Whether `value` has the form {@link parseIsoTime} reads, without its calendar check (2026-02-30
 * passes): a few tens of nanoseconds, for a store's read to refuse a stored time that is no time at
 * all ("yesterday") on every event it decodes, where parseIsoTime's microsecond would show.
 */
export function isIsoTime(value: string): boolean {
  return ISO_TIME.test(value);
}

/**
 * The time of an ISO 8601 date or date-time with a zone, in milliseconds since the epoch; undefined
 * for any other text, a day the calendar lacks (2026-02-30, which Date.parse moves to March 2) or a
 * field out of range.
 */
export function parseIsoTime(value: string): number | undefined {
  const match = ISO_TIME.exec(value);
  if (match === null) return undefined;
  // Positional groups (names would stay in every bundle): year, month, day, hour, minute, second,
  // zone, then the offset's sign, hours and minutes.
  const [
    ,
    year,
    month,
    day,
    hour = "0",
    minute = "0",
    second = "0",
    zone = "",
    sign,
    zoneHour = "0",
    zoneMinute = "00",
  ] = match;
  // setUTCFullYear, not Date.UTC: that one reads the years 0 to 99 as 1900 to 1999.
  const date = new Date(0);
  date.setUTCFullYear(Number(year), Number(month) - 1, Number(day));
  // The offset in its extended form (±hh:mm), the only one ECMAScript's date format defines: what
  // Date.parse makes of ±hhmm is the runtime's choice, and ±hh it refuses.
  const time = Date.parse(
    sign === undefined ? value : `${value.slice(0, -zone.length)}${sign}${zoneHour}:${zoneMinute}`,
  );
  const valid =
    date.getUTCFullYear() === Number(year) &&
    date.getUTCMonth() + 1 === Number(month) &&
    date.getUTCDate() === Number(day) &&
    Number(hour) < 24 &&
    Number(minute) < 60 &&
    Number(second) < 60 &&
    Number(zoneHour) < 24 &&
    Number(zoneMinute) < 60 &&
    Number.isFinite(time);
  return valid ? time : undefined;
}
