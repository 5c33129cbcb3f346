import { describe, expect, it } from "vitest";
import { buildSquadIndex, joinBrackets } from "../../src/sources/assist/brackets.js";
import type { Bracket } from "../../src/sources/assist/parse.js";

const b = (id: string, name: string, squadIds: number[], ageGroup = "U16"): Bracket => ({ id, name, ageGroup, squadIds });

describe("joining events to brackets", () => {
  const ppp = b("65", "Central (Pro Player Pathway)", [7266, 7300, 8000]);
  const central = b("90", "Central", [7266, 7300, 7400]);
  const frontier = b("91", "Frontier", [8000, 8100]);
  const index = buildSquadIndex([ppp, central, frontier]);

  it("a squad in two brackets: the regional bracket wins, and both names are kept for filters", () => {
    const j = joinBrackets(index, 7266, 7300);
    expect(j.bracket).toBe(central);
    expect(j.divisions.sort()).toEqual(["Central", "Central (Pro Player Pathway)"]);
  });

  it("a bracket holding both squads beats one holding only one", () => {
    // 7266 (Central + PPP) against 8000 (Frontier + PPP): only the PPP bracket holds both.
    const j = joinBrackets(index, 7266, 8000);
    expect(j.bracket).toBe(ppp);
    expect(j.divisions.sort()).toEqual(["Central", "Central (Pro Player Pathway)", "Frontier"]);
  });

  it("without a shared bracket, the home squad's bracket, then the away squad's", () => {
    expect(joinBrackets(index, 7400, 8100).bracket).toBe(central);
    expect(joinBrackets(index, 1, 8100).bracket).toBe(frontier);
  });

  it("squads in no bracket: no division", () => {
    expect(joinBrackets(index, 1, 2)).toEqual({ bracket: undefined, divisions: [] });
    expect(joinBrackets(index, undefined, undefined)).toEqual({ bracket: undefined, divisions: [] });
  });

  it("the answer does not depend on document order (lowest id among equals)", () => {
    const x = b("12", "East", [1, 2]);
    const y = b("11", "East B", [1, 2]);
    expect(joinBrackets(buildSquadIndex([x, y]), 1, 2).bracket).toBe(y);
    expect(joinBrackets(buildSquadIndex([y, x]), 1, 2).bracket).toBe(y);
  });
});
