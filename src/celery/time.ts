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

/** Milliseconds since the epoch, or undefined when `text` is not an ISO-8601 date and time. */
export function parseCeleryTime(text: string): number | undefined {
  const trimmed = text.trim();
  const ms = Date.parse(trimmed.includes("T") && !HAS_ZONE.test(trimmed) ? `${trimmed}Z` : trimmed);
  return Number.isNaN(ms) ? undefined : ms;
}
