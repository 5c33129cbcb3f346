/**
 * The incremental JSON reader (src/sources/json-stream.ts): whatever the chunking, the same
 * values come out as from the whole text, and a document JSON.parse refuses is refused.
 */
import { describe, expect, it } from "vitest";
import { generateSeasonFeed } from "../../bench/feeds/generate.js";
import { readEvent, readSchedule } from "../../src/sources/assist/parse.js";
import { decodeUtf8 } from "../../src/sources/http.js";
import { NotJsonError, splitTopLevel, TopLevelSplitter, type TopLevel, type TopLevelHandler } from "../../src/sources/json-stream.js";
import { TooLargeError } from "../../src/sources/limits.js";
import { rawEvent, scheduleDoc } from "../fixtures/assist-builders.js";

type Call = ["member", string, unknown] | ["arrayStart", string] | ["element", string, number, unknown];

/** Runs chunks through a splitter, recording every handler call (or the error). */
function run(chunks: string[]): { calls: Call[]; top?: TopLevel; error?: unknown } {
  const calls: Call[] = [];
  const handler: TopLevelHandler = {
    member: (key, value) => void calls.push(["member", key, value]),
    arrayStart: (key) => void calls.push(["arrayStart", key]),
    element: (key, index, value) => void calls.push(["element", key, index, value]),
  };
  const splitter = new TopLevelSplitter(handler);
  try {
    for (const c of chunks) splitter.push(c);
    return { calls, top: splitter.end() };
  } catch (error) {
    return { calls, error };
  }
}

const splitsOf = (text: string) => Array.from({ length: text.length + 1 }, (_, i) => [text.slice(0, i), text.slice(i)]);

// Strings with escapes (quotes, backslashes before a closing quote, unicode escapes), brackets
// and braces inside strings, multi-byte characters (2, 3 and 4 bytes in UTF-8), nested values,
// every scalar, whitespace everywhere JSON allows it.
const DOC = String.raw` { "synced_at" : "2026-08-24T11:50:08Z",
  "linked" : [ {"name":"League 26/27","key":"k"} , [] , {} ],
  "note": "a \"quoted\" word, a back\\slash\\\\, \u00e9\u65e5\ud83d\ude00 and ] } [ { inside",
  "events":[
    {"id":1,"game_key":"g\"1","home_organisation":{"name":"Café Zürich 日本 😀"},"tags":["x","y\\"],"n":-12.5e-3,"ok":true,"no":false,"nil":null},
    {"id":"2","game_key":"\\","deep":[[[{"a":[{}]}]]],"s":"\/\b\f\n\r\t"} ,
    [],{},"",0,
    {"last":"\\\\"}
  ],
  "count" : 4 ,
  "empty": [] }
`;

describe("TopLevelSplitter", () => {
  const whole = run([DOC]);
  const parsed = JSON.parse(DOC) as Record<string, unknown>;

  it("hands out the top-level members and each array element, parsed as JSON.parse parses them", () => {
    expect(whole.error).toBeUndefined();
    expect(whole.top).toBe("object");
    const events = parsed.events as unknown[];
    expect(whole.calls).toEqual([
      ["member", "synced_at", parsed.synced_at],
      ["arrayStart", "linked"],
      ...(parsed.linked as unknown[]).map((v, i): Call => ["element", "linked", i, v]),
      ["member", "note", parsed.note],
      ["arrayStart", "events"],
      ...events.map((v, i): Call => ["element", "events", i, v]),
      ["member", "count", 4],
      ["arrayStart", "empty"],
    ]);
  });

  it("gives the same calls however the text is split in two", () => {
    for (const chunks of splitsOf(DOC)) expect(run(chunks)).toEqual(whole);
  });

  it("gives the same calls one character at a time, and split in three anywhere", () => {
    expect(run([...DOC])).toEqual(whole);
    const short = String.raw`{"a":"x\\\"y","events":[{"k":"\u00e9]"},[1,"}"]],"z":null}`;
    const ref = run([short]);
    for (let i = 0; i <= short.length; i++) {
      for (let j = i; j <= short.length; j++) expect(run([short.slice(0, i), short.slice(i, j), short.slice(j)])).toEqual(ref);
    }
  });

  it("says what the top level was for valid documents that are not objects, handing out nothing", () => {
    for (const [text, top] of [["[]", "array"], [' [1, {"a": [2]}, "]"] ', "array"], ['"x"', "scalar"], ["5", "scalar"], [" -1.5e3 ", "scalar"], ["null", "scalar"], ["true", "scalar"]] as const) {
      for (const chunks of splitsOf(text)) expect(run(chunks)).toEqual({ calls: [], top });
    }
  });

  // Each is refused by JSON.parse (checked below), so the splitter must refuse it too.
  const malformed = [
    "",
    "   ",
    "<!doctype html><html></html>",
    '{"events":[{"a":1},]}',
    '{"events":[{"a":1}',
    '{"events":[{"a":1}]',
    '{"events":[{"a":1}]} x',
    '{"events":[{"a":1}]]',
    '{"events":[{"a":1}]}}',
    '{"a" 1}',
    '{"a":1,}',
    "{,}",
    '{"a":}',
    '{"events":[1 2]}',
    '{"events":[,1]}',
    '{"events":[{"a":tru}]}',
    "{'a':1}",
    '{a:1}',
    '{"a":"unterminated}',
    String.raw`{"a":"x\"}`,
    '{"a":"tab\there"}',
    '{"a":01}',
    '{"a":[1,]}',
    "[1,]",
    "[1 2]",
    '"unterminated',
    "tru",
    "\ufeff{}",
    '{"a":1}{"b":2}',
  ];

  it("refuses every document JSON.parse refuses, at every split", () => {
    for (const text of malformed) {
      expect(() => JSON.parse(text) as unknown, text).toThrow();
      for (const chunks of splitsOf(text)) expect(run(chunks).error, `${JSON.stringify(text)} split at ${chunks[0]!.length}`).toBeInstanceOf(NotJsonError);
    }
  });

  it("stops at the first error, having handed out only what came before it", () => {
    const { calls, error } = run(['{"events":[{"a":1},{"b":2},{"c":]}']);
    expect(error).toBeInstanceOf(NotJsonError);
    expect(calls).toEqual([["arrayStart", "events"], ["element", "events", 0, { a: 1 }], ["element", "events", 1, { b: 2 }]]);
  });

  it("splitTopLevel reads sync and async chunk sources alike", async () => {
    async function* slowly() {
      for (const c of [DOC.slice(0, 100), DOC.slice(100)]) yield await Promise.resolve(c);
    }
    const calls: unknown[] = [];
    const handler: TopLevelHandler = { member: (k) => void calls.push(k), arrayStart: (k) => void calls.push(k), element: () => undefined };
    expect(await splitTopLevel(slowly(), handler)).toBe("object");
    expect(await splitTopLevel([DOC], handler)).toBe("object");
    expect(calls).toEqual(["synced_at", "linked", "note", "events", "count", "empty", "synced_at", "linked", "note", "events", "count", "empty"]);
    await expect(splitTopLevel(["{"], handler)).rejects.toBeInstanceOf(NotJsonError);
  });
});

describe("TopLevelSplitter limits and top-level arrays", () => {
  /** The error of pushing `chunks` through a splitter that holds at most `max` characters of one value. */
  function limited(chunks: string[], max: number, handler: Partial<TopLevelHandler> = {}): unknown {
    const splitter = new TopLevelSplitter({ member: () => undefined, arrayStart: () => undefined, element: () => undefined, ...handler }, max);
    try {
      for (const c of chunks) splitter.push(c);
      splitter.end();
    } catch (error) {
      return error;
    }
    return undefined;
  }
  const pieces = (text: string, size: number) => Array.from({ length: Math.ceil(text.length / size) }, (_, i) => text.slice(i * size, (i + 1) * size));

  it("refuses a value longer than the limit as soon as its text passes it, naming where it is, however it is cut", () => {
    const long = `"${"x".repeat(200)}"`;
    const cases: [string, string][] = [
      [`{"events":[{"a":1},${long}]}`, 'element 1 of "events" is over'],
      [`{"synced_at":${long}}`, 'the value of "synced_at" is over'],
      [`{${long}:1}`, "a key is over"],
      [`[1,2,${long}]`, "element 2 of the array is over"],
      [`{"events":[{"deep":[${"[".repeat(60)}${"]".repeat(60)}]}]}`, 'element 0 of "events" is over'],
    ];
    for (const [text, message] of cases) {
      for (const size of [1, 7, 64]) {
        const error = limited(pieces(text, size), 100);
        expect(error, `${text.slice(0, 30)} in pieces of ${size}`).toBeInstanceOf(TooLargeError);
        expect((error as Error).message).toContain(message);
      }
    }
    // Held at most one chunk past the limit: an endless string is refused long before it ends.
    let pushed = 0;
    const splitter = new TopLevelSplitter({ member: () => undefined, arrayStart: () => undefined, element: () => undefined }, 1000);
    expect(() => {
      splitter.push('{"events":["');
      for (; pushed < 1_000_000; pushed++) splitter.push("y".repeat(64));
    }).toThrow(TooLargeError);
    expect(pushed).toBe(Math.floor(1000 / 64));
  });

  it("takes values up to the limit, and refuses a longer one however it is cut, in one chunk too", () => {
    const atLimit = `"${"x".repeat(98)}"`; // 100 characters
    const elements: unknown[] = [];
    expect(limited(pieces(`{"events":[${atLimit},${atLimit}]}`, 7), 100, { element: (_k, _i, v) => void elements.push(v) })).toBeUndefined();
    expect(elements).toEqual(["x".repeat(98), "x".repeat(98)]);
    expect(limited([`{"events":[${atLimit.replace("x", "xx")}]}`], 100)).toBeInstanceOf(TooLargeError);
    expect(limited([`{"events":[1,2,${atLimit.replace("x", "xx")}]}`], 100, { element: (_k, _i, v) => void elements.push(v) })).toBeInstanceOf(TooLargeError);
    expect(elements.slice(2)).toEqual([1, 2]);
  });

  it("hands the elements of a top-level array to rootElement, in order, and checks them as before without it", () => {
    const got: [number, unknown][] = [];
    for (const size of [1, 5, 1000]) {
      got.length = 0;
      expect(limited(pieces(' [ {"a":1}, [2], "3", 4, null ] ', size), 100, { rootElement: (i, v) => void got.push([i, v]) })).toBeUndefined();
      expect(got).toEqual([[0, { a: 1 }], [1, [2]], [2, "3"], [3, 4], [4, null]]);
    }
    expect(run(['[{"a":1},2]']).calls).toEqual([]);
    expect(limited(["[1,2,]"], 100, { rootElement: () => undefined })).toBeInstanceOf(NotJsonError);
  });
});

describe("a schedule read from bytes split anywhere", () => {
  // Multi-byte UTF-8 in club names and venues, escapes, a malformed event in the middle.
  const text = JSON.stringify(
    scheduleDoc([
      rawEvent({ game_key: "1", home_organisation: { name: "Café Zürich" }, event_location: { name: "Field \"A\" \\ 日本 😀" } }),
      rawEvent({ game_key: "2", away_organisation: {} }),
      rawEvent({ game_key: "3", away_organisation: { name: "Ñandú FC 🦤" } }),
    ]),
  );
  const bytes = Buffer.from(text);
  const read = async (chunks: Uint8Array[]) => {
    const doc = await readSchedule(decodeUtf8(chunks, { keepBom: false }), "k");
    return { ...doc, events: [...doc.events] };
  };

  it("reads the same events and problems at every byte offset (inside strings, escapes and characters)", async () => {
    expect(bytes.length).toBeGreaterThan(text.length); // multi-byte characters are there
    const whole = await read([bytes]);
    expect([...whole.events].map((e) => [e.gameKey, e.homeClub, e.awayClub, e.location])).toEqual([
      ["1", "Café Zürich", "Athletum FC Academy", "Field \"A\" \\ 日本 😀"],
      ["3", "South Florida Football Academy", "Ñandú FC 🦤", "Loggers Run Park - Field # 1"],
    ]);
    expect(whole.problems).toHaveLength(1);
    for (let k = 0; k <= bytes.length; k++) expect(await read([bytes.subarray(0, k), bytes.subarray(k)])).toEqual(whole);
  });

  it("matches the whole-document read on a generated season with malformed events", async () => {
    const feed = generateSeasonFeed({ events: 400, malformedEvery: 50, seed: 5 });
    const doc = JSON.stringify(feed.schedule);
    const reference = feed.schedule.events.map((raw) => readEvent(JSON.parse(JSON.stringify(raw))));
    for (const size of [1, 7, 4096, doc.length]) {
      const chunks = Array.from({ length: Math.ceil(doc.length / size) }, (_, i) => doc.slice(i * size, (i + 1) * size));
      const result = await readSchedule(chunks, feed.key);
      expect([...result.events]).toEqual(reference.filter((e) => typeof e !== "string"));
      expect(result.problems.map((p) => p.reason)).toEqual(reference.filter((e): e is string => typeof e === "string").map((r) => `skipped: ${r}`));
      expect(result.syncedAt).toBe(feed.schedule.synced_at);
    }
  });

  it("keeps JSON.parse's verdicts: a later duplicate key wins, a non-object has no events list", async () => {
    const event = JSON.stringify(rawEvent({ game_key: "9" }));
    expect((await readSchedule([`{"events":{},"events":[${event}],"synced_at":"x","synced_at":"2026-01-01T00:00:00Z"}`], "k")).events.gameKey(0)).toBe("9");
    expect((await readSchedule([`{"synced_at":"2026-01-01T00:00:00Z","synced_at":[],"events":[]}`], "k")).syncedAt).toBeUndefined();
    for (const text of [`{"events":[${event}],"events":{}}`, `[${event}]`, '"events"', "{}"]) {
      await expect(readSchedule([text], "schedule mls-next-league-26-27")).rejects.toThrow(/^schedule mls-next-league-26-27 has no "events" list/);
    }
    await expect(readSchedule([`{"events":[${event}`], "k")).rejects.toBeInstanceOf(NotJsonError);
  });
});
