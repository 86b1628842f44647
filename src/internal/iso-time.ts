// ISO 8601 as the feed's times are written: a date (taken as UTC midnight, as Date.parse takes it),
// or a date-time with seconds and fraction optional and a zone (Z or ±hh:mm). Text without a zone
// would be read in the machine's time zone, and Date.parse's other forms ("12/01/2026") are the
// runtime's guess at a locale.
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(?:Z|[+-](\d{2}):(\d{2})))?$/;

/**
 * The time of an ISO 8601 date or date-time with a zone, in milliseconds since the epoch; undefined
 * for any other text, a day the calendar lacks (2026-02-30, which Date.parse moves to March 2) or a
 * field out of range.
 */
export function parseIsoTime(value: string): number | undefined {
  const match = ISO_TIME.exec(value);
  if (match === null) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0, zoneHour = 0, zoneMinute = 0] = match
    .slice(1)
    .map((field) => (field === undefined ? undefined : Number(field)));
  // setUTCFullYear, not Date.UTC: that one reads the years 0 to 99 as 1900 to 1999.
  const date = new Date(0);
  date.setUTCFullYear(year ?? 0, (month ?? 1) - 1, day ?? 1);
  const time = Date.parse(value);
  const valid =
    date.getUTCFullYear() === year &&
    date.getUTCMonth() + 1 === month &&
    date.getUTCDate() === day &&
    hour < 24 &&
    minute < 60 &&
    second < 60 &&
    zoneHour < 24 &&
    zoneMinute < 60 &&
    Number.isFinite(time);
  return valid ? time : undefined;
}
