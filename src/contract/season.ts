/** Seasons run August to July and are written `2026-27`. Never hard-coded: derived from dates. */

const SEASON_RE = /^(\d{4})-(\d{2})$/;

/** `2026-10-03` -> `2026-27`; `2027-03-01` -> `2026-27`; `2026-08-01` -> `2026-27`. */
export function seasonForDate(isoDate: string): string {
  const year = Number(isoDate.slice(0, 4));
  const month = Number(isoDate.slice(5, 7));
  const first = month >= 8 ? year : year - 1;
  return seasonName(first);
}

/** 2026 -> `2026-27`; 2099 -> `2099-00`. */
export function seasonName(firstYear: number): string {
  return `${firstYear}-${String((firstYear + 1) % 100).padStart(2, "0")}`;
}

/** The season's first year, or undefined when `name` is not a well-formed season. */
export function seasonFirstYear(name: string): number | undefined {
  const m = SEASON_RE.exec(name);
  if (!m) return undefined;
  const first = Number(m[1]);
  return (first + 1) % 100 === Number(m[2]) ? first : undefined;
}

/** Inclusive calendar bounds: `2026-27` -> 2026-08-01 .. 2027-07-31. */
export function seasonBounds(name: string): { startDate: string; endDate: string } | undefined {
  const first = seasonFirstYear(name);
  if (first === undefined) return undefined;
  return { startDate: `${first}-08-01`, endDate: `${first + 1}-07-31` };
}
