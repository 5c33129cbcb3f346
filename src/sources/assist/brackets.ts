/**
 * Division and age group of a fixture are known only by joining the event's squad ids against
 * the standings brackets (pure).
 *
 * A squad may sit in two brackets, e.g. "Central (Pro Player Pathway)" and a regional one.
 * Which division wins, in order:
 *  1. a bracket holding both squads beats one holding only one of them (the fixture belongs to
 *     the bracket both teams play in); failing that, the home squad's brackets, then the away's;
 *  2. a regional bracket beats an overlay one (name containing "Pro Player Pathway"): divisions
 *     are conferences, and an overlay bracket cuts across them;
 *  3. the lowest bracket id, so the answer never depends on document order.
 * Every bracket name of either squad is kept in `divisions`, so a `--division` filter matches
 * the fixture under either name.
 */
import type { Bracket } from "./parse.js";

export type SquadIndex = Map<number, Bracket[]>;

const OVERLAY_RE = /pro player pathway/i;

export function buildSquadIndex(brackets: Bracket[]): SquadIndex {
  const index: SquadIndex = new Map();
  for (const bracket of brackets) {
    for (const squad of bracket.squadIds) {
      const list = index.get(squad);
      if (list === undefined) index.set(squad, [bracket]);
      else if (!list.includes(bracket)) list.push(bracket);
    }
  }
  return index;
}

export interface BracketJoin {
  /** The winning bracket, or undefined when neither squad is in any bracket. */
  bracket: Bracket | undefined;
  /** Every distinct bracket name of either squad (for filters). */
  divisions: string[];
}

function compareBrackets(a: Bracket, b: Bracket): number {
  const overlay = Number(OVERLAY_RE.test(a.name)) - Number(OVERLAY_RE.test(b.name));
  if (overlay !== 0) return overlay;
  const na = Number(a.id);
  const nb = Number(b.id);
  if (Number.isFinite(na) && Number.isFinite(nb) && na !== nb) return na - nb;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function best(brackets: Bracket[]): Bracket | undefined {
  if (brackets.length <= 1) return brackets[0];
  return [...brackets].sort(compareBrackets)[0];
}

const NONE: Bracket[] = [];

export function joinBrackets(index: SquadIndex, homeSquadId: number | undefined, awaySquadId: number | undefined): BracketJoin {
  const home = homeSquadId === undefined ? NONE : (index.get(homeSquadId) ?? NONE);
  const away = awaySquadId === undefined ? NONE : (index.get(awaySquadId) ?? NONE);
  // Fast path: the common case is one bracket holding both squads.
  if (home.length === 1 && away.length === 1 && home[0] === away[0]) return { bracket: home[0], divisions: [home[0]!.name] };
  const shared = home.filter((b) => away.includes(b));
  const bracket = best(shared) ?? best(home) ?? best(away);
  const divisions = [...new Set([...home, ...away].map((b) => b.name))];
  return { bracket, divisions };
}
