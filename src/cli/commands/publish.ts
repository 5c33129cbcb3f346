/**
 * `matchflow publish [--file F]`: submit matches (a JSON array, NDJSON, or the document `scrape
 * --save` / `--format json` writes, from a file or stdin) to RabbitMQ as Celery tasks. Prints
 * "N submitted, N invalid, N failed"; each invalid match's errors go to stderr. Exit 1 when any
 * match is invalid or failed, 4 when the broker is down. NDJSON and the scrape document are read
 * as they come and published as read, the confirm window pacing the reading, so memory does not
 * grow with the input; a JSON array is read whole (`parseMatchesText`).
 */
import type { Command } from "commander";
import { connectOptionsFrom, MatchQueueClient, type SubmitTally } from "../../broker/publisher.js";
import { ConfigError, PermanentError } from "../../errors.js";
import { decodeUtf8 } from "../../sources/http.js";
import { NotJsonError, TopLevelSplitter } from "../../sources/json-stream.js";
import { cliContext } from "../context.js";
import { publishExitCode } from "../exit-codes.js";
import { openInputFile } from "../files.js";
import { printable } from "../../terminal-text.js";

/** A line that is not JSON becomes an invalid item (reported with its line number), not a crash. */
export type ParsedItem = { ok: true; value: unknown } | { ok: false; error: string };

/** The member of scrape's `--save` / `--format json` document (`{metadata, matches, problems}`) that holds the matches. */
const DOCUMENT_MATCHES = "matches";

/**
 * Input whose first non-blank line is a lone "{" is one pretty-printed JSON object, not a match
 * per line: scrape's `--save` / `--format json` document, whose matches are taken; anything else
 * (a match from `jq .`) is refused whole, saying what to pass (every one of its lines was once
 * reported as "not valid JSON").
 */
export function spreadObjectError(source: string): PermanentError {
  return new PermanentError(
    "input_invalid",
    `${source} is one JSON object written over several lines without a "${DOCUMENT_MATCHES}" array: not NDJSON (one match per line), ` +
      "a JSON array of matches or scrape's --save document; for one match, write it on one line (jq -c . FILE)",
  );
}

const opensSpreadObject = (line: string) => line.trim() === "{";

/** The matches of a whole scrape document's text; `spreadObjectError` for another object. */
function documentMatchesOf(text: string, source: string): ParsedItem[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new PermanentError("input_invalid", `${source} is not valid JSON: ${(err as Error).message}`);
  }
  const matches = (parsed as Record<string, unknown> | null)?.[DOCUMENT_MATCHES];
  if (!Array.isArray(matches)) throw spreadObjectError(source);
  return matches.map((value: unknown) => ({ ok: true, value }));
}

/** JSON array (the whole text) or NDJSON (one match per non-blank line). */
export function parseMatchesText(text: string, source: string): ParsedItem[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  if (trimmed.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new PermanentError("input_invalid", `${source} is not a valid JSON array: ${(err as Error).message}`);
    }
    return (parsed as unknown[]).map((value) => ({ ok: true, value }));
  }
  const lines = text.split(/\r?\n/);
  const first = lines.findIndex((line) => line.trim() !== "");
  if (opensSpreadObject(lines[first] ?? "") && lines.slice(first + 1).some((line) => line.trim() !== "")) return documentMatchesOf(text, source);
  const items: ParsedItem[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      items.push({ ok: true, value: JSON.parse(line) });
    } catch (err) {
      items.push({ ok: false, error: `line ${i + 1} is not valid JSON (${(err as Error).message})` });
    }
  });
  return items;
}

/**
 * An input with no match at all (an empty file, /dev/null, a wrong redirect) is not an error,
 * but a run that did nothing should say so: "0 submitted" alone reads like success.
 */
export function warnIfNoMatches(count: number, file: string | undefined): void {
  if (count === 0) process.stderr.write(`matchflow: warning: ${file !== undefined ? `--file ${file}` : "stdin"} held no matches (nothing to do)\n`);
}

/** An unparseable NDJSON line: its position among the input's matches, and why. */
interface BadLine {
  index: number;
  error: string;
}

type InputKind = "array" | "ndjson" | "document" | "empty";

/**
 * Reads just enough to tell the input's kind: "[" first is a JSON array; "{" alone on the first
 * non-blank line is a pretty-printed document (no NDJSON line is a lone "{"); anything else is
 * NDJSON. Returns the text read so far, which the reader of that kind starts with.
 */
async function readInputKind(chunks: AsyncIterator<string>): Promise<{ kind: InputKind; head: string }> {
  let head = "";
  let at = 0;
  let opened = false;
  for (;;) {
    for (; at < head.length; at++) {
      const c = head[at] as string;
      const blank = c === " " || c === "\t" || c === "\r" || c === "\n";
      if (!opened) {
        if (blank) continue;
        if (c !== "{") return { kind: c === "[" ? "array" : "ndjson", head };
        opened = true;
      } else if (c === "\n") return { kind: "document", head };
      else if (!blank) return { kind: "ndjson", head };
    }
    const next = await chunks.next();
    if (next.done) return { kind: opened ? "ndjson" : "empty", head };
    head += next.value;
  }
}

/**
 * The matches of scrape's `--save` / `--format json` document, each handed on as the splitter
 * finds it in the text (sources/json-stream.ts), so that a season's document is published as it
 * is read, like NDJSON. Text that is not JSON, or no "matches" array: input_invalid (the matches
 * read before a truncation were submitted; submitting them again is harmless, the worker's writes
 * are idempotent).
 */
async function* documentValues(chunks: AsyncIterable<string>, source: string): AsyncGenerator<unknown> {
  const found: unknown[] = [];
  let hasMatches = false;
  let given = 0;
  const splitter = new TopLevelSplitter({
    member: () => undefined,
    arrayStart: (key) => (hasMatches ||= key === DOCUMENT_MATCHES),
    element: (key, _index, value) => void (key === DOCUMENT_MATCHES && found.push(value)),
  });
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
    if (!(err instanceof NotJsonError)) throw err;
    throw new PermanentError("input_invalid", `${source} is not valid JSON after ${given} match${given === 1 ? "" : "es"} (${err.message})`);
  }
  for (const match of found.splice(0)) yield match;
  if (!hasMatches) throw spreadObjectError(source);
}

/**
 * NDJSON lines (split on "\n", one "\r" before it dropped, as `parseMatchesText` splits), each
 * parsed as it comes; a line that is not JSON is recorded in `bad` and skipped. Item positions
 * and line numbers are those `parseMatchesText` gives.
 */
async function* ndjsonValues(chunks: AsyncIterable<string>, bad: BadLine[]): AsyncGenerator<unknown> {
  let pending = "";
  let lineNo = 0;
  let index = 0;
  function* take(line: string): Generator<unknown> {
    lineNo++;
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
  }
  yield* take(pending);
}

/** The position among the input's matches of the publisher's i-th value (bad lines came in between). */
function inputIndex(i: number, bad: BadLine[]): number {
  let at = i;
  for (const b of bad) {
    if (b.index > at) break;
    at++;
  }
  return at;
}

export function registerPublish(program: Command): void {
  program
    .command("publish")
    .description(
      "submit matches (JSON array, NDJSON or scrape's --save document, from --file or stdin) to RabbitMQ as Celery tasks. NDJSON and " +
        "the document are published as they are read (the broker's confirms pace the reading); a JSON array is read whole first",
    )
    .option("-f, --file <path>", "read matches from this file instead of stdin")
    .action(async (opts: { file?: string }) => {
      const { config, log } = cliContext();
      if (!config.rabbitmqUrl) {
        throw new ConfigError("RABBITMQ_URL is not set: publish needs a RabbitMQ broker, e.g. RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672/");
      }
      const source = opts.file ?? "stdin";
      // Decoded as readFile(.., "utf8") did (a BOM is kept, and makes its line invalid).
      // A missing file fails here, before connecting.
      const chunks = decodeUtf8(opts.file !== undefined ? await openInputFile("--file", opts.file) : process.stdin, { keepBom: true })[Symbol.asyncIterator]();
      const { kind, head } = await readInputKind(chunks);
      const rest = { [Symbol.asyncIterator]: () => chunks };
      const all = (async function* () {
        yield head;
        yield* rest;
      })();
      let values: AsyncIterable<unknown> | unknown[];
      const bad: BadLine[] = [];
      if (kind === "array") {
        let text = "";
        for await (const chunk of all) text += chunk;
        values = parseMatchesText(text, source).flatMap((item) => (item.ok ? [item.value] : []));
      } else {
        values = kind === "document" ? documentValues(all, source) : ndjsonValues(all, bad);
      }

      const client = await MatchQueueClient.connect(connectOptionsFrom(config, config.rabbitmqUrl, log));
      let report: SubmitTally;
      try {
        report = await client.submitMatches(values, { countOnly: true });
      } finally {
        await client.close();
      }
      const at = (i: number) => inputIndex(i, bad);
      const invalid = [
        ...report.invalid.map((r) => ({ index: at(r.index), messages: r.errors.map((e) => e.message) })),
        ...bad.map((b) => ({ index: b.index, messages: [b.error] })),
      ].sort((a, b) => a.index - b.index);
      // Messages quote the input (ids, names): escaped (terminal-text.ts).
      for (const r of invalid) process.stderr.write(`match ${r.index + 1}: invalid: ${printable(r.messages.join("; "))}\n`);
      for (const r of report.failed) process.stderr.write(`match ${at(r.index) + 1}${r.externalMatchId ? ` (${printable(r.externalMatchId)})` : ""}: failed: ${printable(r.error)}\n`);
      process.stdout.write(`${report.submitted} submitted, ${invalid.length} invalid, ${report.failed.length} failed\n`);
      warnIfNoMatches(report.submitted + invalid.length + report.failed.length, opts.file);
      log.debug({ submitted: report.submitted, invalid: invalid.length, failed: report.failed.length, source }, "publish finished");
      process.exitCode = publishExitCode(invalid.length, report.failed.length);
    });
}
