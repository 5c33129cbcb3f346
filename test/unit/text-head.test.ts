/** textHead: the first code points of producer-chosen text, never half a surrogate pair. */
import { describe, expect, it } from "vitest";
import { textHead } from "../../src/text-head.js";

describe("textHead", () => {
  it("keeps the first `chars` code points of plain text, and a shorter text whole", () => {
    expect(textHead("abcdef", 3)).toBe("abc");
    expect(textHead("ab", 3)).toBe("ab");
    expect(textHead("", 3)).toBe("");
  });

  it("counts an astral character (two UTF-16 units) as one, never cutting it in half", () => {
    expect(textHead("😀😀😀😀", 3)).toBe("😀😀😀");
    expect(textHead("a😀b", 2)).toBe("a😀");
    expect(textHead("😀😀", 1)).toBe("😀");
  });

  it("reads only the first 2 x chars units of a huge text", () => {
    expect(textHead("x".repeat(1_000_000), 5)).toBe("xxxxx");
  });
});
