/**
 * Postponed fixtures are parked on a placeholder date near the season's end (2027-06-08 in
 * 2026-27): a weekday holding an unusually large number of unplayed fixtures. This finds such
 * dates from the whole feed (before any filter: one division alone may hold only a few of them).
 */

export interface PlaceholderOptions {
  /** A placeholder date holds at least this many unplayed fixtures. @default 25 */
  minFixtures: number;
  /**
   * ...and at least `ratio` times the median number of unplayed fixtures on the other weekdays
   * that hold any (midweek games exist, but not in the hundreds). @default 5
   */
  ratio: number;
  /** Only dates from this month-day of the season's second year on ("near the season's end"). @default "04-01" */
  fromMonthDay: string;
  /** Monday to Friday only: Saturdays legitimately hold hundreds of fixtures. @default true */
  weekdaysOnly: boolean;
}

export const DEFAULT_PLACEHOLDER: PlaceholderOptions = { minFixtures: 25, ratio: 5, fromMonthDay: "04-01", weekdaysOnly: true };

export interface DatedFixture {
  /** Local date YYYY-MM-DD. */
  date: string;
  /** No result yet. */
  unplayed: boolean;
}

function isWeekday(date: string): boolean {
  const day = new Date(`${date}T00:00:00Z`).getUTCDay();
  return day >= 1 && day <= 5;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The placeholder dates of a season's feed (usually none or one). */
export function detectPlaceholderDates(fixtures: Iterable<DatedFixture>, seasonFirstYear: number, options: PlaceholderOptions = DEFAULT_PLACEHOLDER): Set<string> {
  const unplayedByDate = new Map<string, number>();
  for (const f of fixtures) {
    if (f.unplayed) unplayedByDate.set(f.date, (unplayedByDate.get(f.date) ?? 0) + 1);
  }
  const from = `${seasonFirstYear + 1}-${options.fromMonthDay}`;
  const candidates = [...unplayedByDate].filter(([date, n]) => date >= from && n >= options.minFixtures && (!options.weekdaysOnly || isWeekday(date)));
  const found = new Set<string>();
  for (const [date, n] of candidates) {
    const others = [...unplayedByDate].filter(([d]) => d !== date && (!options.weekdaysOnly || isWeekday(d))).map(([, c]) => c);
    if (n >= options.ratio * median(others)) found.add(date);
  }
  return found;
}
