/**
 * One copy per match id when a source lists a match more than once (pure). A feed was seen with a
 * stale copy of a game (unplayed) before the current one (with its final score): keeping the first
 * copy lost the result. The copy kept is, in order:
 *  1. one with a result (both scores);
 *  2. one marked completed;
 *  3. the one kicking off latest (a rescheduled copy);
 *  4. the first in feed order.
 * Copies whose content differs are a problem said, naming the id; identical ones (a page read
 * twice) are only counted.
 */
import type { FeedProblem } from "./types.js";

/** What decides between two copies. */
export interface CopyRank {
  result: boolean;
  completed: boolean;
  /** The kickoff, comparable between copies of one source (epoch ms, or a local wall clock read as UTC). */
  start: number;
}

export interface CopyRules<T> {
  /** The match id; undefined: never merged with another item. */
  key(item: T): string | undefined;
  rank(item: T): CopyRank;
  /** Whether two copies say the same (only asked of items with the same key). */
  same(a: T, b: T): boolean;
  /** Names a repeated id in a problem: `game 26030`, `modular11 match 99963`. */
  where(key: string): string;
  /** Names the feed, for the problem counting those not listed. */
  feed: string;
}

export interface KeptCopies<T> {
  /** One item per key (and every keyless one), in the order each key first appeared. */
  kept: T[];
  /** Items dropped as another copy of a kept one. */
  duplicates: number;
  problems: FeedProblem[];
}

/** Problems listed: a feed of nothing but repeats must not fill the heap with reports of them. */
const MAX_LISTED = 1000;

/** Whether copy `b` is to be kept rather than `a` (an earlier one): strictly better, so ties keep the first. */
export function betterCopy(a: CopyRank, b: CopyRank): boolean {
  if (a.result !== b.result) return b.result;
  if (a.completed !== b.completed) return b.completed;
  return b.start > a.start;
}

function keptBecause(rank: CopyRank): string {
  if (rank.result) return "the one with a result";
  if (rank.completed) return "the one marked completed";
  return "the one kicking off latest";
}

export function keepBestCopies<T>(items: Iterable<T>, rules: CopyRules<T>): KeptCopies<T> {
  const kept: T[] = [];
  /** Key -> its slot in `kept`. */
  const slots = new Map<string, number>();
  /** Only for keys seen more than once (few): how many copies, and whether any differs. */
  const repeated = new Map<string, { copies: number; differ: boolean }>();
  let duplicates = 0;
  for (const item of items) {
    const key = rules.key(item);
    const slot = key === undefined ? undefined : slots.get(key);
    if (key === undefined || slot === undefined) {
      if (key !== undefined) slots.set(key, kept.length);
      kept.push(item);
      continue;
    }
    duplicates += 1;
    const held = kept[slot] as T;
    const seen = repeated.get(key) ?? { copies: 1, differ: false };
    seen.copies += 1;
    if (!seen.differ && !rules.same(held, item)) seen.differ = true;
    repeated.set(key, seen);
    if (betterCopy(rules.rank(held), rules.rank(item))) kept[slot] = item;
  }
  const problems: FeedProblem[] = [];
  let differing = 0;
  for (const [key, seen] of repeated) {
    if (!seen.differ || ++differing > MAX_LISTED) continue;
    const held = kept[slots.get(key) as number] as T;
    problems.push({ where: rules.where(key), reason: `${seen.copies} copies in the feed that differ: kept ${keptBecause(rules.rank(held))}` });
  }
  if (differing > MAX_LISTED) problems.push({ where: rules.feed, reason: `${differing - MAX_LISTED} more repeated match id(s) with differing copies, not listed (the first ${MAX_LISTED} are)` });
  return { kept, duplicates, problems };
}
