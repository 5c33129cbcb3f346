/**
 * Target filters shared by every source (pure). Age groups, division and club compare without
 * regard to case; the date window is inclusive and in local dates. Postponed fixtures pass the
 * window whatever their (placeholder) date: they are reported so their new date can be learnt.
 */
import type { MatchDataInput } from "../contract/index.js";
import type { FeedProblem } from "./types.js";

export interface MatchFilters {
  /** e.g. ["U14", "U15"]; empty or undefined = all. */
  ageGroups?: string[] | undefined;
  /** A conference/division name; matches any bracket the fixture's squads sit in. */
  division?: string | undefined;
  /** A substring of either club (organisation) name. */
  club?: string | undefined;
  /** Inclusive local dates, YYYY-MM-DD. */
  from?: string | undefined;
  to?: string | undefined;
}

/** A normalised fixture with what the filters need beyond the contract fields. */
export interface Candidate {
  match: MatchDataInput;
  /** Every division name the fixture is known under (a squad may sit in two brackets). */
  divisions: string[];
}

/** A candidate as a source hands it on: sources yield them in kickoff order, one of each id (sources/duplicates.ts). */
export interface PlacedCandidate extends Candidate {
  /** Its position in the feed, so that problems found later are still reported in feed order. */
  position: number;
}

const fold = (s: string) => s.trim().toLowerCase().replace(/\s+/g, " ");

export function inWindow(date: string, from: string | undefined, to: string | undefined): boolean {
  return (from === undefined || date >= from) && (to === undefined || date <= to);
}

/** Compiles the filters once; the returned predicate runs per fixture. */
export function compileFilters(filters: MatchFilters): (c: Candidate) => boolean {
  const ages = filters.ageGroups && filters.ageGroups.length > 0 ? new Set(filters.ageGroups.map(fold)) : undefined;
  const division = filters.division ? fold(filters.division) : undefined;
  const club = filters.club ? fold(filters.club) : undefined;
  return (c) => {
    const m = c.match;
    if (ages && !ages.has(fold(m.age_group))) return false;
    if (division !== undefined && !c.divisions.some((d) => fold(d) === division)) return false;
    if (club !== undefined && !fold(m.home_team).includes(club) && !fold(m.away_team).includes(club)) return false;
    if (m.match_status !== "postponed" && !inWindow(m.match_date, filters.from, filters.to)) return false;
    return true;
  };
}

/** Whether the division and club filters match anything in a whole feed (see createFilterReach). */
export interface FilterReach {
  /** Every fixture of the feed, before any filter. */
  see(c: Candidate): void;
  /** One problem per filter that matched no fixture of the feed. */
  problems(): FeedProblem[];
}

/**
 * A division or club that no fixture of the feed has, whatever the other filters: most likely a
 * typo (`--division Northest`), which gave "0 found" in silence where an unknown age group is
 * said. Not an error, as for age groups: a club may simply have no fixture yet.
 */
export function createFilterReach(filters: Pick<MatchFilters, "division" | "club">): FilterReach {
  const division = filters.division ? fold(filters.division) : undefined;
  const club = filters.club ? fold(filters.club) : undefined;
  let divisionFound = division === undefined;
  let clubFound = club === undefined;
  /** The feed's division names, kept only until the asked one is found (then no list is said). */
  const divisions = new Set<string>();
  return {
    see(c) {
      if (!divisionFound) {
        for (const d of c.divisions) {
          divisions.add(d);
          if (fold(d) === division) divisionFound = true;
        }
      }
      if (!clubFound && club !== undefined && (fold(c.match.home_team).includes(club) || fold(c.match.away_team).includes(club))) clubFound = true;
    },
    problems() {
      const out: FeedProblem[] = [];
      if (!divisionFound) {
        const list = [...divisions].sort((a, b) => a.localeCompare(b, "en")).join(", ") || "none";
        out.push({ where: `--division ${filters.division ?? ""}`, reason: `no fixture of the feed is in this division or conference (it has: ${list})` });
      }
      if (!clubFound) out.push({ where: `--club ${filters.club ?? ""}`, reason: "no team of the feed has this in its name" });
      return out;
    },
  };
}
