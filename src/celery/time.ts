/**
 * Celery's `eta` and `expires`: ISO-8601 text (Python's `isoformat()`), read the way Celery's
 * worker reads them (`maybe_iso8601`, then `maybe_make_aware`): a naive date and time (no zone:
 * `apply_async(eta=datetime.utcnow())`, or any naive datetime a producer passed) is UTC. Never
 * JavaScript's reading of a naive date-time, which is the process's local time: a worker with
 * TZ=Asia/Tokyo would otherwise expire a task sent with a naive `expires` ten minutes ahead
 * nine hours early, and one with TZ=America/New_York run a task that expired five hours ago. Pure.
 */

/** Python's `isoformat()` of an aware datetime ends in `+HH:MM`; `Z` and `+HHMM` are ISO too. */
const HAS_ZONE = /(?:[zZ]|[+-]\d{2}:?\d{2})$/;

/**
 * A date, one separator character, a time: Celery's parser takes any separator (`str(datetime)`
 * writes a space), where JavaScript reads `2026-12-02 13:40:00` as local time.
 */
const DATE_SEPARATOR_TIME = /^(\d{4}-\d{2}-\d{2}).(\d{2}:\d{2}.*)$/s;

/** Milliseconds since the epoch, or undefined when `text` is not an ISO-8601 date and time. */
export function parseCeleryTime(text: string): number | undefined {
  const trimmed = text.trim();
  const dateTime = DATE_SEPARATOR_TIME.exec(trimmed);
  const iso = dateTime ? `${dateTime[1]}T${dateTime[2]}` : trimmed;
  const ms = Date.parse(dateTime && !HAS_ZONE.test(iso) ? `${iso}Z` : iso);
  return Number.isNaN(ms) ? undefined : ms;
}
