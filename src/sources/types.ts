/** What every source reports besides matches: a problem names the item and the reason. */
export interface FeedProblem {
  /** Which document or item: `event 5737160 (game 26030)`, `bracket 69`, a URL. */
  where: string;
  /** Plain words: what was wrong and what was done about it. */
  reason: string;
}
