/** The flags that choose what to scrape, shared by `scrape`, `run` and `schedule`. */
import type { Command } from "commander";

export function addScrapeSelectionOptions(cmd: Command): Command {
  return cmd
    .option("--league <league>", "Homegrown, Academy or Flex (default: LEAGUE)")
    .option("--age-group <groups>", "one age group or a comma list, e.g. U14,U15 (default: AGE_GROUP, else all)")
    .option("--division <name>", "conference/division, case-insensitive (default: DIVISION, else all)")
    .option("--conference <name>", "same as --division")
    .option("--club <text>", "only matches where either club name contains this text (case-insensitive)")
    .option("--from <date>", "first local date, YYYY-MM-DD (inclusive)")
    .option("--to <date>", "last local date, YYYY-MM-DD (inclusive)")
    .option("--start <days>", "first date as days from today, e.g. -7")
    .option("--end <days>", "last date as days from today, e.g. 0")
    .option("--season <year>", "read this season alone: its first year, e.g. 2026 for 2026-27 (default: every season the window reaches, up to the one it ends in, today's without --to; seasons run August-July)")
    .option("--source <source>", "assist (2026-27 on) or modular11 (up to 2025-26) (default: SCRAPE_SOURCE)")
    .option("--source-dir <dir>", "read recorded assist feeds from DIR/data/{schedule,standings}/{key}.json (offline)")
    .option("--limit <n>", "at most n matches (earliest first)");
}

/** Today's date where the process runs, YYYY-MM-DD (date windows are local dates). */
export function localToday(now: Date): string {
  return new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}
