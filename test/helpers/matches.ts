/** Realistic, valid MatchData for tests: deterministic from an index. */
const CLUBS = ["IFA", "NEFC", "FC Greater Boston Bolts", "Bayside FC", "Oakwood SC", "Athletum FC Academy", "South Florida FA", "Chicago Fire FC"];

export function makeMatch(prefix: string, i: number, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const home = CLUBS[i % CLUBS.length] as string;
  const away = CLUBS[(i + 1 + (i % 3)) % CLUBS.length] as string;
  const day = 1 + (i % 28);
  return {
    external_match_id: `${prefix}-${i}`,
    home_team: home,
    away_team: away === home ? "Other FC" : away,
    match_date: `2026-10-${String(day).padStart(2, "0")}`,
    scheduled_kickoff: `2026-10-${String(day).padStart(2, "0")}T14:00:00Z`,
    age_group: ["U13", "U14", "U15"][i % 3],
    match_type: "League",
    league: "Homegrown",
    division: ["Northeast", "Florida"][i % 2],
    home_score: i % 5,
    away_score: (i * 7) % 4,
    match_status: "completed",
    source: "test",
    scraped_at: "2026-10-30T06:00:00Z",
    ...overrides,
  };
}
