/** JSON text made storable in jsonb: only the escapes PostgreSQL refuses change, and parsing gives the text back. */
import { describe, expect, it } from "vitest";
import { jsonbText } from "../../src/db/jsonb-text.js";

describe("jsonbText", () => {
  it("leaves JSON without a NUL or lone surrogate escape as it is", () => {
    for (const value of [{ a: "plain" }, { a: "tab\tquote\"é😀" }, { a: "\\u0000 written by hand" }, { "\\ud800": 1 }]) {
      const json = JSON.stringify(value);
      expect(jsonbText(json)).toBe(json);
    }
  });

  it("keeps a NUL or a lone surrogate, in a value or a key, as the six characters of its escape", () => {
    const json = jsonbText(JSON.stringify({ extra: "a\u0000b", "k\ud800": "\udfff", pair: "😀" }));
    expect(json).not.toMatch(/(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f])/i);
    expect(JSON.parse(json)).toEqual({ extra: "a\\u0000b", "k\\ud800": "\\udfff", pair: "😀" });
  });

  it("counts the backslashes before an escape: a literal backslash followed by a NUL escape", () => {
    const json = JSON.stringify({ a: "\\\u0000", b: "\\\\\ud800" });
    expect(JSON.parse(jsonbText(json))).toEqual({ a: "\\\\u0000", b: "\\\\\\ud800" });
  });
});
