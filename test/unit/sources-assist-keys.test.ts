import { describe, expect, it } from "vitest";
import { feedKey, scheduleUrl, seasonSuffix, standingsUrl } from "../../src/sources/assist/keys.js";

describe("assist feed keys", () => {
  it("derives each league's key from the season's first year", () => {
    expect(feedKey("Homegrown", 2026)).toBe("mls-next-league-26-27");
    expect(feedKey("Academy", 2026)).toBe("mls-next-2-academy-division-26-27");
    expect(feedKey("Flex", 2026)).toBe("mls-next-flex-26-27");
    expect(feedKey("Homegrown", 2027)).toBe("mls-next-league-27-28");
  });

  it("wraps the century: 2099 -> 99-00, 2009 -> 09-10", () => {
    expect(seasonSuffix(2099)).toBe("99-00");
    expect(seasonSuffix(2009)).toBe("09-10");
    expect(feedKey("Flex", 2099)).toBe("mls-next-flex-99-00");
  });

  it("builds schedule and standings URLs under the base, with or without a trailing slash", () => {
    expect(scheduleUrl("https://mls-assist.theintelligenceplatform.com", "mls-next-league-26-27")).toBe(
      "https://mls-assist.theintelligenceplatform.com/data/schedule/mls-next-league-26-27.json",
    );
    expect(standingsUrl("http://127.0.0.1:8080/mirror/", "k")).toBe("http://127.0.0.1:8080/mirror/data/standings/k.json");
    expect(scheduleUrl("file:///srv/feeds", "k")).toBe("file:///srv/feeds/data/schedule/k.json");
  });
});
