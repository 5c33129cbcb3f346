/**
 * UTC instant -> local calendar date and wall-clock time in an IANA zone (pure, Intl API).
 * A missing or unknown zone falls back to UTC.
 *
 * Speed: a season has ~10,000 fixtures and Intl formatting costs microseconds each, so the
 * zone's UTC offset is looked up once per (zone, UTC day) and reused when the offset is the
 * same at both ends of that day; on a day with a DST change it is looked up per UTC hour
 * (offsets of every real zone only change on whole UTC hours).
 */
export interface LocalDateTime {
  /** YYYY-MM-DD */
  date: string;
  /** HH:MM, 24-hour */
  time: string;
  /** The zone actually used (`UTC` after a fallback). */
  zone: string;
}

export type LocalClock = (startMs: number, zone: string | undefined) => LocalDateTime;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function shifted(ms: number, offsetMs: number, zone: string): LocalDateTime {
  const iso = new Date(ms + offsetMs).toISOString();
  return { date: iso.slice(0, 10), time: iso.slice(11, 16), zone };
}

function makeFormatter(zone: string): Intl.DateTimeFormat | undefined {
  try {
    return new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    });
  } catch {
    return undefined; // RangeError: unknown time zone
  }
}

/** Local wall time minus UTC at instant `ms`, in ms. */
function offsetAt(formatter: Intl.DateTimeFormat, ms: number): number {
  const p: Record<string, string> = {};
  for (const part of formatter.formatToParts(ms)) p[part.type] = part.value;
  const wall = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute), Number(p.second));
  return wall - Math.floor(ms / 1000) * 1000;
}

export function createLocalClock(): LocalClock {
  const formatters = new Map<string, Intl.DateTimeFormat | undefined>();
  const offsets = new Map<string, number>();
  const cachedOffset = (formatter: Intl.DateTimeFormat, key: string, ms: number) => {
    let v = offsets.get(key);
    if (v === undefined) {
      v = offsetAt(formatter, ms);
      offsets.set(key, v);
    }
    return v;
  };
  return (startMs, zone) => {
    if (zone === undefined || zone === "UTC" || zone === "Etc/UTC") return shifted(startMs, 0, "UTC");
    let formatter = formatters.get(zone);
    if (!formatters.has(zone)) {
      formatter = makeFormatter(zone);
      formatters.set(zone, formatter);
    }
    if (formatter === undefined) return shifted(startMs, 0, "UTC");
    const dayStart = Math.floor(startMs / DAY) * DAY;
    const atStart = cachedOffset(formatter, `${zone}|h${dayStart}`, dayStart);
    const atEnd = cachedOffset(formatter, `${zone}|h${dayStart + DAY - HOUR}`, dayStart + DAY - HOUR);
    if (atStart === atEnd) return shifted(startMs, atStart, zone);
    const hour = Math.floor(startMs / HOUR) * HOUR;
    return shifted(startMs, cachedOffset(formatter, `${zone}|h${hour}`, hour), zone);
  };
}
