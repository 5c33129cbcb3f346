/**
 * The order matches come out of a scrape in, for every source (pure): by local date, then local
 * time, then external id. Plain comparisons for dates and times (ISO text sorts as it reads);
 * one collator for ids, so that "9" < "10" (String#localeCompare per call made sorting 50,000
 * matches take seconds).
 */
const ID_ORDER = new Intl.Collator("en", { numeric: true });
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Takes the keys apart (not as objects), so a source can sort indexes into its own columns. */
export function compareKickoff(aDate: string, aTime: string, aId: string, bDate: string, bTime: string, bId: string): number {
  return cmp(aDate, bDate) || cmp(aTime, bTime) || ID_ORDER.compare(aId, bId);
}
