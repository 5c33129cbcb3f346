/**
 * UTC instant -> local calendar date and wall-clock time in an IANA zone (pure, Intl API).
 * A missing or unknown zone falls back to UTC (the caller says so: `zone` is then not the one asked for).
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
  /** The zone actually used: the one asked for, or `UTC` after a fallback. */
  zone: string;
}

export type LocalClock = (startMs: number, zone: string | undefined) => LocalDateTime;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

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

interface ZoneState {
  formatter: Intl.DateTimeFormat;
  /** UTC day start -> offset for the whole day, or `undefined` on a DST-change day (see `hours`). */
  days: Map<number, number | undefined>;
  hours: Map<number, number>;
}

export function createLocalClock(): LocalClock {
  const zones = new Map<string, ZoneState | undefined>();
  // Local wall-clock instant -> its date/time strings: many fixtures share a kickoff.
  const walls = new Map<number, { date: string; time: string }>();
  const at = (ms: number, offsetMs: number, zone: string): LocalDateTime => {
    const wall = ms + offsetMs;
    let hit = walls.get(wall);
    if (hit === undefined) {
      const iso = new Date(wall).toISOString();
      hit = { date: iso.slice(0, 10), time: iso.slice(11, 16) };
      walls.set(wall, hit);
    }
    return { date: hit.date, time: hit.time, zone };
  };
  const stateOf = (zone: string): ZoneState | undefined => {
    if (zones.has(zone)) return zones.get(zone);
    const formatter = makeFormatter(zone);
    const state = formatter && { formatter, days: new Map<number, number | undefined>(), hours: new Map<number, number>() };
    zones.set(zone, state);
    return state;
  };
  return (startMs, zone) => {
    if (zone === undefined) return at(startMs, 0, "UTC");
    if (zone === "UTC" || zone === "Etc/UTC") return at(startMs, 0, zone);
    const state = stateOf(zone);
    if (state === undefined) return at(startMs, 0, "UTC");
    const dayStart = Math.floor(startMs / DAY) * DAY;
    let dayOffset = state.days.get(dayStart);
    if (dayOffset === undefined && !state.days.has(dayStart)) {
      const first = offsetAt(state.formatter, dayStart);
      dayOffset = first === offsetAt(state.formatter, dayStart + DAY - 1000) ? first : undefined;
      state.days.set(dayStart, dayOffset);
    }
    if (dayOffset !== undefined) return at(startMs, dayOffset, zone);
    const hour = Math.floor(startMs / HOUR) * HOUR;
    let hourOffset = state.hours.get(hour);
    if (hourOffset === undefined) {
      hourOffset = offsetAt(state.formatter, hour);
      state.hours.set(hour, hourOffset);
    }
    return at(startMs, hourOffset, zone);
  };
}
