/**
 * The matches `publish` and `process` read (from --file or stdin): a JSON array, NDJSON (one match
 * a line), or the document `scrape --save` / `--format json` writes (`{metadata, matches,
 * problems}`). One reader for both commands, so they take every input the same way. Every kind
 * is handed on as it is read, one match at a time (publish submits each as read, the confirm
 * window pacing the reading, so memory does not grow with the input), and no single match is held
 * past MAX_VALUE_CHARS (sources/limits.ts).
 */
import { PermanentError } from "../errors.js";
import { decodeUtf8 } from "../sources/http.js";
import { NotJsonError, TopLevelSplitter } from "../sources/json-stream.js";
import { MAX_VALUE_CHARS, mib, TooLargeError } from "../sources/limits.js";
import { openInputFile } from "./files.js";

/** A line that is not JSON becomes an invalid item (reported with its line number), not a crash. */
export type ParsedItem = { ok: true; value: unknown } | { ok: false; error: string };

/** An unparseable NDJSON line: its position among the input's matches, and why. */
export interface BadLine {
  index: number;
  error: string;
}

export interface MatchInput {
  /** The parsed matches, in input order, without the bad lines. */
  values: AsyncIterable<unknown>;
  /** Filled while `values` is read: NDJSON lines that are not JSON. */
  bad: BadLine[];
}

/** The member of scrape's document that holds the matches. */
const DOCUMENT_MATCHES = "matches";

/**
 * The members of scrape's document (`scrapeDocument`), none of them a match field
 * (contract/match-data.ts MATCH_FIELDS): an object that starts with one of them is that document,
 * however it is laid out (pretty-printed, or on one line: `jq -c . saved.json`), not a match.
 */
export const DOCUMENT_KEYS: readonly string[] = ["metadata", DOCUMENT_MATCHES, "problems"];

/** No document key is this long: a first key read this far is a match's (or nothing's). */
const LONGEST_DOCUMENT_KEY = 64;

/**
 * Input whose first non-blank line is a lone "{" is one pretty-printed JSON object, not a match
 * per line; so is input whose first key is a document key. Scrape's document's matches are taken;
 * another such object (a match from `jq .`) is refused whole, saying what to pass (every one of
 * its lines was once reported as "not valid JSON").
 */
function spreadObjectError(source: string, kind: "spread" | "document"): PermanentError {
  const what = kind === "spread" ? "one JSON object written over several lines" : "one JSON object";
  return new PermanentError(
    "input_invalid",
    `${source} is ${what} without a "${DOCUMENT_MATCHES}" array: not NDJSON (one match per line), ` +
      "a JSON array of matches or scrape's --save document; for one match, write it on one line (jq -c . FILE)",
  );
}

/** `--file -` is stdin, as for other Unix tools (it was refused: "--file -: no such file"). */
export function readsStdin(file: string | undefined): file is undefined | "-" {
  return file === undefined || file === "-";
}

/** The input's name in messages: the --file path, or "stdin". */
export function inputName(file: string | undefined): string {
  return readsStdin(file) ? "stdin" : file;
}

/** Said when stdin is a terminal and no --file was given, instead of waiting in silence for input. */
export const TERMINAL_HINT = "reading matches from stdin (end with Ctrl-D); --file to read a file\n";

/** Where `openMatchInput` reads stdin and says the hint: the process's own, or a test's. */
export interface StdinIo {
  stdin: AsyncIterable<Uint8Array> & { isTTY?: boolean };
  stderr: { write(text: string): unknown };
}

/**
 * The text of --file, or of stdin (no --file, or `--file -`); a missing file fails here. A
 * leading byte order mark (Windows editors write one) is dropped: kept, it made the first match
 * "not valid JSON" for an invisible reason, and an array file was refused whole.
 */
export async function openMatchInput(file: string | undefined, io: StdinIo = { stdin: process.stdin, stderr: process.stderr }): Promise<AsyncIterable<string>> {
  if (!readsStdin(file)) return strictUtf8(await openInputFile("--file", file), file);
  if (file === undefined && io.stdin.isTTY === true) io.stderr.write(TERMINAL_HINT);
  return strictUtf8(io.stdin, "stdin");
}

/**
 * Input that is not UTF-8 (a Latin-1 export, a spreadsheet's "CSV UTF-16") is refused, not read
 * with U+FFFD for what it cannot decode: "Atl\xe9tico FC" was published as "Atl�tico FC", a team
 * of its own, and the command exited 0.
 */
async function* strictUtf8(bytes: AsyncIterable<Uint8Array>, source: string): AsyncGenerator<string> {
  try {
    yield* decodeUtf8(bytes, { keepBom: false, fatal: true });
  } catch (err) {
    if ((err as { code?: unknown }).code !== "ERR_ENCODING_INVALID_ENCODED_DATA") throw err;
    throw new PermanentError("input_invalid", `${source} is not UTF-8 text (JSON is UTF-8): convert it first, e.g. iconv -f latin1 -t utf-8`);
  }
}

type InputKind = "array" | "ndjson" | "spread" | "document" | "empty";

/**
 * Reads just enough to tell the input's kind: "[" first is a JSON array; "{" alone on the first
 * non-blank line is a pretty-printed object (no NDJSON line is a lone "{"), taken as scrape's
 * document; "{" whose first key is a document key (DOCUMENT_KEYS) is that document whatever its
 * layout; anything else is NDJSON. Returns the text read so far, which the reader of that kind
 * starts with.
 */
async function readInputKind(chunks: AsyncIterator<string>): Promise<{ kind: InputKind; head: string }> {
  let head = "";
  let at = 0;
  /** Where the first value's "{" is, then where its first key's opening quote is (-1: not yet). */
  let opened = -1;
  let keyAt = -1;
  for (;;) {
    for (; at < head.length; at++) {
      const c = head[at] as string;
      const blank = c === " " || c === "\t" || c === "\r" || c === "\n";
      if (opened < 0) {
        if (blank) continue;
        if (c !== "{") return { kind: c === "[" ? "array" : "ndjson", head };
        opened = at;
      } else if (keyAt < 0) {
        if (c === "\n") return { kind: "spread", head };
        if (blank) continue;
        if (c !== '"') return { kind: "ndjson", head };
        keyAt = at;
      } else if (c === "\\") {
        at++; // the escaped character cannot end the key
      } else if (c === '"') {
        const key = parsedKey(head.slice(keyAt, at + 1));
        return { kind: key !== undefined && DOCUMENT_KEYS.includes(key) ? "document" : "ndjson", head };
      } else if (at - keyAt > LONGEST_DOCUMENT_KEY) {
        return { kind: "ndjson", head };
      }
    }
    const next = await chunks.next();
    if (next.done) return { kind: opened >= 0 ? "ndjson" : "empty", head };
    head += next.value;
  }
}

function parsedKey(quoted: string): string | undefined {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return undefined;
  }
}

/**
 * The matches of a JSON array, or of scrape's document's "matches" array, each handed on as the
 * splitter finds it in the text (sources/json-stream.ts). Text that is not JSON, a match over
 * MAX_VALUE_CHARS, or a document without a "matches" array: input_invalid (a publish has
 * submitted the matches read before; submitting them again is harmless, the worker's writes are
 * idempotent).
 */
async function* splitValues(chunks: AsyncIterable<string>, source: string, kind: "array" | "spread" | "document"): AsyncGenerator<unknown> {
  const found: unknown[] = [];
  let hasMatches = kind === "array";
  let given = 0;
  const splitter = new TopLevelSplitter({
    rootElement: (_index, value) => void found.push(value),
    member: () => undefined,
    arrayStart: (key) => (hasMatches ||= key === DOCUMENT_MATCHES),
    element: (key, _index, value) => void (key === DOCUMENT_MATCHES && found.push(value)),
  });
  const after = () => `after ${given} match${given === 1 ? "" : "es"}`;
  try {
    for await (const chunk of chunks) {
      splitter.push(chunk);
      for (const match of found.splice(0)) {
        given++;
        yield match;
      }
    }
    splitter.end();
  } catch (err) {
    if (err instanceof TooLargeError) throw new PermanentError("input_invalid", `${source}: ${err.message} (${after()}): not one match`);
    if (!(err instanceof NotJsonError)) throw err;
    throw new PermanentError("input_invalid", `${source} is not valid JSON ${after()} (${err.message})`);
  }
  for (const match of found.splice(0)) yield match;
  if (!hasMatches) throw spreadObjectError(source, kind === "spread" ? "spread" : "document");
}

/**
 * NDJSON lines (split on "\n", one "\r" before it dropped), each parsed as it comes; a line that
 * is not JSON, or longer than MAX_VALUE_CHARS (its text is dropped as it comes, never held), is
 * recorded in `bad` with its line number and skipped; blank lines are no match.
 */
async function* ndjsonValues(chunks: AsyncIterable<string>, bad: BadLine[]): AsyncGenerator<unknown> {
  let pending = "";
  let lineNo = 0;
  let index = 0;
  /** The line being read has passed the limit: its text is being dropped up to its end. */
  let overlong = false;
  function* take(line: string): Generator<unknown> {
    lineNo++;
    if (overlong || line.length > MAX_VALUE_CHARS) {
      overlong = false;
      bad.push({ index: index++, error: `line ${lineNo} is over ${mib(MAX_VALUE_CHARS)} of text: not one match` });
      return;
    }
    if (line.trim() === "") return;
    const at = index++;
    try {
      yield JSON.parse(line) as unknown;
    } catch (err) {
      bad.push({ index: at, error: `line ${lineNo} is not valid JSON (${(err as Error).message})` });
    }
  }
  for await (const chunk of chunks) {
    pending += chunk;
    let from = 0;
    for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n", from)) {
      yield* take(pending.slice(from, pending.charCodeAt(nl - 1) === 13 && nl > from ? nl - 1 : nl));
      from = nl + 1;
    }
    pending = pending.slice(from);
    if (overlong || pending.length > MAX_VALUE_CHARS) [overlong, pending] = [true, ""];
  }
  yield* take(pending);
}

/** The input's matches, read as they come; `source` names the input in errors ("stdin", the file). */
export async function readMatchInput(text: AsyncIterable<string>, source: string): Promise<MatchInput> {
  const chunks = text[Symbol.asyncIterator]();
  const { kind, head } = await readInputKind(chunks);
  const all = (async function* () {
    yield head;
    yield* { [Symbol.asyncIterator]: () => chunks };
  })();
  const bad: BadLine[] = [];
  const values = kind === "array" || kind === "spread" || kind === "document" ? splitValues(all, source, kind) : ndjsonValues(all, bad);
  return { values, bad };
}

/** Every item of the input, bad lines in their places: for a command that needs the whole input first. */
export async function readMatchItems(text: AsyncIterable<string>, source: string): Promise<ParsedItem[]> {
  const { values, bad } = await readMatchInput(text, source);
  const parsed: unknown[] = [];
  for await (const value of values) parsed.push(value);
  // One merge: `bad` is in input order and each index counts the items before it, bad ones included.
  const items: ParsedItem[] = [];
  let next = 0;
  for (const b of bad) {
    while (items.length < b.index) items.push({ ok: true, value: parsed[next++] });
    items.push({ ok: false, error: b.error });
  }
  while (next < parsed.length) items.push({ ok: true, value: parsed[next++] });
  return items;
}

/**
 * The position among the input's matches of the i-th value (bad lines came in between): `i` plus
 * the bad lines with at most `i` values before them. `bad[k].index - k` (the values before the
 * k-th bad line) never decreases, so they are counted by binary search, not a walk per call.
 */
export function inputIndex(i: number, bad: readonly BadLine[]): number {
  let lo = 0;
  let hi = bad.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((bad[mid] as BadLine).index - mid <= i) lo = mid + 1;
    else hi = mid;
  }
  return i + lo;
}

/**
 * An input with no match at all (an empty file, /dev/null, a wrong redirect) is not an error,
 * but a run that did nothing should say so: "0 submitted" alone reads like success.
 */
export function warnIfNoMatches(count: number, file: string | undefined): void {
  if (count === 0) process.stderr.write(`matchflow: warning: ${readsStdin(file) ? "stdin" : `--file ${file}`} held no matches (nothing to do)\n`);
}
