/** A control message's glob pattern, matched as kombu's fnmatch matches it, in time linear in the pattern whatever it holds. */
import { describe, expect, it } from "vitest";
import { globMatches } from "../../src/celery/glob.js";

/** [pattern, name, what Python 3.11's fnmatch.fnmatchcase answers] (computed with it). */
const FNMATCH: [string, string, boolean][] = [["matchflow.*@pod-?", "matchflow.1@pod-1", true], ["[]]x", "]x", true], ["[!]]x", "ax", true], ["[!]]x", "]x", false], ["a[", "a[", true], ["[a-c]z", "bz", true], ["[a-c]z", "dz", false], ["[z-a]", "m", false], ["[a-]", "-", true], ["*", "", true], ["**a**", "xxaxx", true], ["?", "", false], ["a*b*c", "aXbYc", true], ["a*b*c", "aXbYcZ", false], ["*c", "abcabc", true], ["[!a-z]*", "Abc", true], ["é?", "éx", true], ["a.b", "axb", false], ["x[0-9]", "x⚽", false], ["[⚽]", "⚽", true], ["**********Z", "celery@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false], ["*a*a*a*a*a*a*a*a*a*a*a*a", "aaaaaaaaaaab", false]];

describe("globMatches", () => {
  it.each(FNMATCH)("%j against %j: %s, as fnmatch", (pattern, name, expected) => {
    expect(globMatches(pattern, name)).toBe(expected);
  });

  it("a pattern of many stars that cannot match answers at once (a backtracking regular expression held the event loop for minutes)", () => {
    const name = `celery@${"a".repeat(200)}`;
    expect(globMatches(`${"*".repeat(40)}Z`, name)).toBe(false);
    expect(globMatches("*a".repeat(60) + "Z", name)).toBe(false);
    expect(globMatches("*a".repeat(60), name)).toBe(true);
  });
});
