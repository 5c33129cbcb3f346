/** Text shown in terminal tables: escaped controls, widths in terminal cells. */
import { describe, expect, it } from "vitest";
import { displayWidth, padEndToWidth, padStartToWidth, printable, truncateToWidth } from "../../src/terminal-text.js";

describe("printable", () => {
  it("escapes control characters, bidirectional overrides and lone surrogates, and leaves the rest", () => {
    expect(printable("Oakwood SC")).toBe("Oakwood SC");
    expect(printable("ev\u001b[2Jil\u0007")).toBe("ev\\x1b[2Jil\\x07");
    expect(printable("a\tb\nc\rd\u007f\u009b")).toBe("a\\x09b\\x0ac\\x0dd\\x7f\\x9b");
    expect(printable("\u202egnp.exe")).toBe("\\u202egnp.exe");
    expect(printable("x\ud800y")).toBe("x\\ud800y");
    expect(printable("Atlético ⚽ 日本 👨‍👩‍👧")).toBe("Atlético ⚽ 日本 👨‍👩‍👧");
  });
});

describe("displayWidth", () => {
  it("counts terminal cells: wide characters and emoji two, combining marks and zero-width none", () => {
    expect(displayWidth("abc")).toBe(3);
    expect(displayWidth("⚽ goal")).toBe(7);
    expect(displayWidth("✅")).toBe(2);
    expect(displayWidth("©")).toBe(1);
    expect(displayWidth("日本語")).toBe(6);
    expect(displayWidth("한국")).toBe(4);
    expect(displayWidth("Ｆｕｌｌ")).toBe(8);
    expect(displayWidth("e\u0301")).toBe(1);
    expect(displayWidth("a\u200bb")).toBe(2);
    expect(displayWidth("👨‍👩‍👧")).toBe(2);
    expect(displayWidth("🇺🇸")).toBe(2);
    expect(displayWidth("1️⃣")).toBe(2);
  });
});

describe("fitting to a width", () => {
  it("cuts at a character boundary within the width and pads by cells", () => {
    expect(truncateToWidth("abcdef", 4)).toBe("abc…");
    expect(truncateToWidth("abcd", 4)).toBe("abcd");
    // A wide character that would straddle the limit is left out, never split.
    expect(truncateToWidth("日本語のチーム", 6)).toBe("日本…");
    expect(displayWidth(truncateToWidth("👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧", 4))).toBeLessThanOrEqual(4);
    expect(truncateToWidth("\ud83d\ude00\ud83d\ude00x", 3, "~")).toBe("\ud83d\ude00~");
    expect(padEndToWidth("⚽", 4)).toBe("⚽  ");
    expect(padStartToWidth("日", 3)).toBe(" 日");
    expect(padEndToWidth("toolong", 3)).toBe("toolong");
  });
});
