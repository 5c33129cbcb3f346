/** The season's events in columns: each comes back as it went in, however many there are. */
import { describe, expect, it } from "vitest";
import { EventTable } from "../../src/sources/assist/event-table.js";
import { readEvent, type AssistEvent } from "../../src/sources/assist/parse.js";
import { rawEvent } from "../fixtures/assist-builders.js";

const event = (overrides: Parameters<typeof rawEvent>[0]): AssistEvent => {
  const e = readEvent(rawEvent(overrides));
  if (typeof e === "string") throw new Error(e);
  return e;
};

describe("EventTable", () => {
  const variants = [
    event({}),
    event({ game_key: "2", home_score: 2, away_score: 2, home_penalty_shootout_score: 4, away_penalty_shootout_score: 3, completed: true }),
    event({ game_key: "3", local_timezone: null, competition: null, event_location: null, home_squad_id: null, away_squad_id: null, home_squad_name: null, away_squad_name: null }),
    event({ game_key: "4", home_score: 0, away_score: 0, home_squad_id: 2 ** 40, home_organisation: { name: "Café 日本" } }),
  ];

  it("gives every event back as it was pushed, absent fields absent", () => {
    const table = new EventTable();
    for (const e of variants) table.push(e);
    expect(table.length).toBe(variants.length);
    variants.forEach((e, i) => expect(table.get(i)).toEqual(e));
    expect([...table]).toEqual(variants);
    expect(table.squadIds(2)).toEqual([undefined, undefined]);
    expect([table.hasResult(0), table.hasResult(1), table.hasResult(3)]).toEqual([false, true, true]);
    expect([table.gameKey(3), table.startMs(3), table.timezone(2)]).toEqual(["4", variants[3]!.startMs, undefined]);
  });

  it("grows past its first columns' size, repeated strings stored once", () => {
    const table = new EventTable();
    const many = Array.from({ length: 2500 }, (_, i) => ({ ...variants[i % variants.length]!, gameKey: String(i) }));
    for (const e of many) table.push(e);
    expect(table.length).toBe(2500);
    expect([...table]).toEqual(many);
    expect([...table.trim()]).toEqual(many);
    table.push({ ...many[0]!, gameKey: "after" });
    expect(table.get(2500).gameKey).toBe("after");
    expect(table.get(1).homeClub).toBe(table.get(5).homeClub);
  });
});
