/** cli/match-input.ts: the one reader of `publish` and `process` input, fed whole and cut at every character. */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { Readable } from "node:stream";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MATCH_FIELDS } from "../../src/contract/index.js";
import { DOCUMENT_KEYS, inputIndex, inputName, openMatchInput, readMatchInput, readMatchItems, TERMINAL_HINT, type ParsedItem } from "../../src/cli/match-input.js";
import { MAX_VALUE_CHARS } from "../../src/sources/limits.js";

/** `text` in pieces of `size` characters, as a stream's chunks (a sync iterable is not what the reader is given). */
function chunksOf(text: string, size: number): AsyncIterable<string> {
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return (async function* () {
    for (const piece of pieces) yield await Promise.resolve(piece);
  })();
}

/** The items of `text` read whole, and the same read one character and seven characters at a time (they must agree). */
async function items(text: string, source = "x"): Promise<ParsedItem[]> {
  const whole = await readMatchItems(chunksOf(text, Math.max(1, text.length)), source);
  for (const size of [1, 7]) expect(await readMatchItems(chunksOf(text, size), source)).toEqual(whole);
  return whole;
}

const bad = (pattern: RegExp) => ({ ok: false, error: expect.stringMatching(pattern) as unknown });

describe("readMatchItems", () => {
  it("reads a JSON array or NDJSON, a bad line becoming an item with its line number in its place", async () => {
    expect(await items(' [{"a":1},{"b":2}] ')).toEqual([{ ok: true, value: { a: 1 } }, { ok: true, value: { b: 2 } }]);
    expect(await items('{"a":1}\n\n{oops\n{"b":2}\r\n[1]')).toEqual([{ ok: true, value: { a: 1 } }, bad(/^line 3 is not valid JSON/), { ok: true, value: { b: 2 } }, { ok: true, value: [1] }]);
    expect(await items("{oops\nnope\n")).toEqual([bad(/^line 1 /), bad(/^line 2 /)]);
    expect(await items("  \n")).toEqual([]);
    expect(await items("")).toEqual([]);
    await expect(items('[{"a":1},{', "input.json")).rejects.toThrow(/^input\.json is not valid JSON after 1 match \(/);
  });

  it("takes the matches of scrape's --save document (a pretty-printed object); refuses another such object as a whole, instead of a bad line each", async () => {
    const document = JSON.stringify({ metadata: {}, matches: [{ a: 1 }, { b: 2 }], problems: [] }, null, 2);
    expect(await items(`\n${document}\n`)).toEqual([{ ok: true, value: { a: 1 } }, { ok: true, value: { b: 2 } }]);
    expect(await items(document.replace(/\n/g, "\r\n"))).toHaveLength(2);
    const oneMatch = JSON.stringify({ a: 1, matches: "not an array" }, null, 2);
    await expect(items(oneMatch, "match.json")).rejects.toThrow(/^match\.json is one JSON object written over several lines without a "matches" array: .*jq -c \. FILE/);
    await expect(items(document.slice(0, -10), "cut.json")).rejects.toThrow(/^cut\.json is not valid JSON after 2 matches /);
    await expect(items("{\n", "lone.json")).rejects.toThrow(/^lone\.json is not valid JSON after 0 matches /);
    // "{" with more on its line is an NDJSON line; a lone "{" at the very end is one too.
    expect((await items('{oops\n{"b":2}\n')).map((i) => i.ok)).toEqual([false, true]);
    expect(await items("  {")).toEqual([bad(/^line 1 /)]);
  });

  it("takes scrape's document whatever its layout: on one line (jq -c), keys sorted (jq -S), key by key (it was one invalid NDJSON match)", async () => {
    const doc = { metadata: { source: "assist" }, matches: [{ a: 1 }, { b: 2 }], problems: [] };
    const taken = [{ ok: true, value: { a: 1 } }, { ok: true, value: { b: 2 } }];
    expect(await items(`${JSON.stringify(doc)}\n`)).toEqual(taken);
    expect(await items(JSON.stringify({ matches: doc.matches, metadata: doc.metadata }))).toEqual(taken);
    expect(await items(`  {"problems": [], "matches": [{"a":1},\n{"b":2}]}`)).toEqual(taken);
    // A key escaped in the text is the same key.
    expect(await items('{"\\u006datches":[{"a":1},{"b":2}]}')).toEqual(taken);
    // One line whose first key is scrape's but without its matches: refused whole, not a bad line.
    await expect(items('{"metadata":{}}\n', "meta.json")).rejects.toThrow(/^meta\.json is one JSON object without a "matches" array: /);
    // Matches one per line still are, whatever their first key; so is an array.
    expect(await items('{"home_team":"H","matches":1}\n{"matchesx":2}\n')).toEqual([{ ok: true, value: { home_team: "H", matches: 1 } }, { ok: true, value: { matchesx: 2 } }]);
    expect(await items('{"external_match_id":"m-1"}\n')).toEqual([{ ok: true, value: { external_match_id: "m-1" } }]);
    expect(await items(`{"${"k".repeat(200)}":1}\n`)).toHaveLength(1);
    expect(await items('[{"a":1}]')).toEqual([{ ok: true, value: { a: 1 } }]);
  });

  it("no key of scrape's document is a match field (a match is never taken for the document)", () => {
    expect(DOCUMENT_KEYS.filter((k) => (MATCH_FIELDS as readonly string[]).includes(k))).toEqual([]);
  });
});

describe("openMatchInput", () => {
  it("drops a file's leading byte order mark (Windows editors write one), and only that one", async () => {
    const dir = await mkdtemp(join(tmpdir(), "match-input-"));
    try {
      const bom = "\uFEFF";
      await writeFile(join(dir, "array.json"), `${bom}[{"a":1}]`);
      await writeFile(join(dir, "lines.ndjson"), `${bom}{"a":1}\n${bom}{"b":2}\n`);
      expect(await readMatchItems(await openMatchInput(join(dir, "array.json")), "array.json")).toEqual([{ ok: true, value: { a: 1 } }]);
      expect(await readMatchItems(await openMatchInput(join(dir, "lines.ndjson")), "lines.ndjson")).toEqual([{ ok: true, value: { a: 1 } }, bad(/^line 2 /)]);
      await expect(openMatchInput(join(dir, "missing.json"))).rejects.toThrow(/^--file .*missing\.json: no such file$/);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it("reads stdin for `--file -` (it was refused: \"--file -: no such file\"), and for no --file", async () => {
    const said: string[] = [];
    const io = (isTTY: boolean) => ({ stdin: Object.assign(Readable.from([Buffer.from('{"a":1}\n')]), { isTTY }), stderr: { write: (text: string) => said.push(text) } });
    expect(await readMatchItems(await openMatchInput("-", io(false)), inputName("-"))).toEqual([{ ok: true, value: { a: 1 } }]);
    expect(await readMatchItems(await openMatchInput(undefined, io(false)), inputName(undefined))).toEqual([{ ok: true, value: { a: 1 } }]);
    expect(inputName("-")).toBe("stdin");
    expect(said).toEqual([]);
  });

  it("says how to end stdin when it is a terminal and no --file was given, instead of waiting in silence", async () => {
    const said: string[] = [];
    const io = (isTTY: boolean) => ({ stdin: Object.assign(Readable.from([Buffer.from('{"a":1}\n')]), { isTTY }), stderr: { write: (text: string) => said.push(text) } });
    await readMatchItems(await openMatchInput(undefined, io(true)), "stdin");
    expect(said).toEqual(["reading matches from stdin (end with Ctrl-D); --file to read a file\n"]);
    expect(TERMINAL_HINT).toBe(said[0]);
    // `--file -` asked for stdin: no hint.
    await readMatchItems(await openMatchInput("-", io(true)), "stdin");
    expect(said).toHaveLength(1);
  });

  it("refuses input that is not UTF-8 (a Latin-1 export) as input_invalid, instead of reading its accents as U+FFFD", async () => {
    const dir = await mkdtemp(join(tmpdir(), "match-input-"));
    try {
      const file = join(dir, "latin1.ndjson");
      await writeFile(file, Buffer.concat([Buffer.from('{"home_team":"Atl'), Buffer.from([0xe9]), Buffer.from('tico FC"}\n')]));
      const read = readMatchItems(await openMatchInput(file), "latin1.ndjson");
      await expect(read).rejects.toMatchObject({ code: "input_invalid", message: expect.stringMatching(/latin1\.ndjson is not UTF-8 text/) as string });
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

describe("limits", () => {
  const long = `{"notes":"${"x".repeat(MAX_VALUE_CHARS)}"}`;

  it("an NDJSON line over MAX_VALUE_CHARS is one bad line, its text dropped as it comes; the lines around it are kept", async () => {
    const text = `{"a":1}\n${long}\r\n{"b":2}\n${long}`;
    for (const size of [64 * 1024, 1_000_003]) {
      expect(await readMatchItems(chunksOf(text, size), "x")).toEqual([
        { ok: true, value: { a: 1 } },
        bad(/^line 2 is over 1 MiB of text: not one match$/),
        { ok: true, value: { b: 2 } },
        bad(/^line 4 is over 1 MiB of text: not one match$/),
      ]);
    }
  });

  it("a match over MAX_VALUE_CHARS in an array or a scrape document refuses the input, saying after how many matches", async () => {
    await expect(readMatchItems(chunksOf(`[{"a":1},${long}]`, 64 * 1024), "big.json")).rejects.toThrow(/^big\.json: element 1 of the array is over 1 MiB of text \(after 1 match\): not one match$/);
    const document = `{\n  "metadata": {},\n  "matches": [{"a":1}, {"b":2}, ${long}]\n}`;
    await expect(readMatchItems(chunksOf(document, 64 * 1024), "save.json")).rejects.toThrow(/^save\.json: element 2 of "matches" is over 1 MiB of text \(after 2 matches\): not one match$/);
  });
});

describe("readMatchInput", () => {
  it("hands every kind of input on as it is read: the first match before the input has ended", async () => {
    const kinds: [string, string, string][] = [
      ["a JSON array", '[{"a":1},', '{"b":2}]'],
      ["NDJSON", '{"a":1}\n', '{"b":2}\n'],
      ["scrape's document", '{\n  "matches": [{"a":1},', ' {"b":2}]\n}'],
    ];
    for (const [kind, first, rest] of kinds) {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      async function* slow(): AsyncGenerator<string> {
        yield first;
        await held;
        yield rest;
      }
      const it = (await readMatchInput(slow(), "stdin")).values[Symbol.asyncIterator]();
      expect(await it.next(), kind).toEqual({ done: false, value: { a: 1 } });
      release();
      expect(await it.next(), kind).toEqual({ done: false, value: { b: 2 } });
      expect((await it.next()).done, kind).toBe(true);
    }
  });
});

describe("inputIndex", () => {
  it("maps the i-th good value to its position among all items, bad lines counted", () => {
    const lines = [{ index: 0, error: "" }, { index: 2, error: "" }];
    expect([0, 1, 2].map((i) => inputIndex(i, lines))).toEqual([1, 3, 4]);
    expect(inputIndex(5, [])).toBe(5);
  });
});
