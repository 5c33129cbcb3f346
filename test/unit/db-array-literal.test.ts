import { describe, expect, it } from "vitest";
import { intArrayLiteral, textArrayLiteral } from "../../src/db/array-literal.js";

const self = <T>(v: T): T => v;

describe("textArrayLiteral", () => {
  it("quotes every element and escapes only the quote and the backslash", () => {
    expect(textArrayLiteral(["a", 'say "hi"', "back\\slash", "{x},y", "NULL", "", " sp "], self)).toBe(
      String.raw`{"a","say \"hi\"","back\\slash","{x},y","NULL",""," sp "}`,
    );
  });

  it("writes null as the bare NULL, unlike the text 'NULL'", () => {
    expect(textArrayLiteral([null, "NULL"], self)).toBe('{NULL,"NULL"}');
  });

  it("is the empty array for no items, and reads each item through the getter", () => {
    expect(textArrayLiteral([], self)).toBe("{}");
    expect(textArrayLiteral([{ n: "x" }, { n: null }], (r) => r.n)).toBe('{"x",NULL}');
  });
});

describe("intArrayLiteral", () => {
  it("writes numbers bare and null as NULL", () => {
    expect(intArrayLiteral([1, null, -7, 0], self)).toBe("{1,NULL,-7,0}");
  });

  it("passes non-integers through for PostgreSQL to reject, never changing the literal's shape", () => {
    expect(intArrayLiteral([1.5, Number.NaN, 1e21], self)).toBe("{1.5,NaN,1e+21}");
    // A value the types should have kept out is quoted like text: it cannot add elements.
    expect(intArrayLiteral(["1},{2" as unknown as number], self)).toBe('{"1},{2"}');
  });
});
