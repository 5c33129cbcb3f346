/**
 * Instants as the assist feeds write them (pure): ISO 8601, `2026-09-05T13:00:00Z`. Date.parse
 * was too lenient for a kickoff: it read "5 September" as 2001-09-05 and rolled
 * "2026-02-30T13:00:00Z" over to March 2nd, so a wrong start became a real-looking fixture. Here
 * an instant is a calendar date and a time of day (to the minute at least), with a zone or
 * without one (then UTC, see parseFeedInstant), each part checked.
 *
 * Speed: read for every event of a season (50,000), so the shape is checked by one regex test
 * and the fixed-width fields read by position (about Date.parse's cost; a regex's capture groups
 * and a Date object per event cost 5x).
 */

/** Date, `T` or a space, time (seconds and their fraction optional), zone optional. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/** A date-time without a zone (read as UTC here; `Date.parse` would read it in the host's time zone). */
export const ZONELESS = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (year: number) => year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
const daysIn = (year: number, month: number) => (month === 2 && isLeap(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0));

/** The number written by the digits of `text` from `from` to `to` (the regex has checked that each is one). */
function digits(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
}

const isDigit = (c: number) => c >= 48 && c <= 57;

/** The instant in epoch ms, or why `text` is not one (a problem's reason: "start_time <why>"). */
export function readFeedInstant(text: string): number | string {
  if (!ISO_INSTANT.test(text)) return "is not an ISO 8601 instant like 2026-09-05T13:00:00Z";
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 7);
  const day = digits(text, 8, 10);
  const hour = digits(text, 11, 13);
  const minute = digits(text, 14, 16);
  let at = 16;
  let second = 0;
  if (text.charCodeAt(at) === 0x3a /* : */) {
    second = digits(text, at + 1, at + 3);
    at += 3;
  }
  let ms = 0;
  if (text.charCodeAt(at) === 0x2e /* . */) {
    // Milliseconds truncated from the fraction's digits, as Date.parse does.
    const from = at + 1;
    for (at = from; isDigit(text.charCodeAt(at)); at++);
    ms = digits(text, from, Math.min(at, from + 3)) * 10 ** Math.max(0, from + 3 - at);
  }
  // What is left is the zone: nothing, Z, +HH, +HHMM or +HH:MM.
  const zoneChars = text.length - at;
  const offsetHours = zoneChars > 1 ? digits(text, at + 1, at + 3) : 0;
  const offsetMinutes = zoneChars > 3 ? digits(text, text.length - 2, text.length) : 0;
  if (year < 1900) return "is before 1900"; // and Date.UTC would read years 0-99 as 1900-1999
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return "has no such date";
  if (hour > 23 || minute > 59 || second > 59) return "has no such time of day";
  if (offsetHours > 23 || offsetMinutes > 59) return "has no such UTC offset";
  const offset = (text.charCodeAt(at) === 0x2d /* - */ ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms) - offset;
}

/**
 * An instant as the feed writes it (UTC ISO), or NaN. One without a zone is UTC too: read as the
 * host's local time, every kickoff moved by the host's offset (4 hours on a New York laptop, none
 * in the UTC container), and with it the local date and the window it fell in.
 */
export function parseFeedInstant(text: string): number {
  const read = readFeedInstant(text);
  return typeof read === "number" ? read : NaN;
}
