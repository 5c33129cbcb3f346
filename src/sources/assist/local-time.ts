/**
 * UTC instant -> local calendar date and wall-clock time in an IANA zone (pure, Intl API).
 * A missing or unknown zone falls back to UTC. Formatters are made once per zone and results
 * memoised per (zone, instant): a season has thousands of fixtures but few distinct kickoffs.
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

function utc(ms: number): LocalDateTime {
  const iso = new Date(ms).toISOString();
  return { date: iso.slice(0, 10), time: iso.slice(11, 16), zone: "UTC" };
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
      hourCycle: "h23",
    });
  } catch {
    return undefined; // RangeError: unknown time zone
  }
}

export function createLocalClock(): LocalClock {
  const formatters = new Map<string, Intl.DateTimeFormat | undefined>();
  const memo = new Map<string, LocalDateTime>();
  return (startMs, zone) => {
    if (zone === undefined || zone === "UTC" || zone === "Etc/UTC") return utc(startMs);
    const key = `${zone}|${startMs}`;
    const hit = memo.get(key);
    if (hit) return hit;
    let formatter = formatters.get(zone);
    if (!formatters.has(zone)) {
      formatter = makeFormatter(zone);
      formatters.set(zone, formatter);
    }
    let result: LocalDateTime;
    if (formatter === undefined) result = utc(startMs);
    else {
      const parts: Record<string, string> = {};
      for (const p of formatter.formatToParts(startMs)) parts[p.type] = p.value;
      result = { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}`, zone };
    }
    memo.set(key, result);
    return result;
  };
}
