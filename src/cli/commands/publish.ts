/**
 * `matchflow publish [--file F]`: submit matches (a JSON array or NDJSON, from a file or stdin)
 * to RabbitMQ as Celery tasks. Prints "N submitted, N invalid, N failed"; each invalid match's
 * errors go to stderr. Exit 1 when any match is invalid or failed, 4 when the broker is down.
 * NDJSON is read line by line and published as read, the confirm window pacing the reading, so
 * memory does not grow with the input; a JSON array is read whole (`parseMatchesText`).
 */
import type { Command } from "commander";
import { connectOptionsFrom, MatchQueueClient, type SubmitTally } from "../../broker/publisher.js";
import { ConfigError, PermanentError } from "../../errors.js";
import { decodeUtf8 } from "../../sources/http.js";
import { cliContext } from "../context.js";
import { publishExitCode } from "../exit-codes.js";
import { openInputFile } from "../files.js";
import { printable } from "../../terminal-text.js";

/** A line that is not JSON becomes an invalid item (reported with its line number), not a crash. */
export type ParsedItem = { ok: true; value: unknown } | { ok: false; error: string };

/**
 * NDJSON whose first non-blank line is a lone "{" with more lines after it is one pretty-printed
 * JSON object (scrape's `--format json` or `--save` document, a match from `jq .`), not a match
 * per line: every one of its lines was reported as "not valid JSON" (1,252 for the sample's
 * document). Refused whole instead, saying what to pass.
 */
export function spreadObjectError(source: string): PermanentError {
  return new PermanentError(
    "input_invalid",
    `${source} is one JSON object written over several lines, not NDJSON (one match per line) or a JSON array of matches; ` +
      "for scrape's --format json or --save document, pass its matches (jq -c '.matches[]' FILE) or scrape with --format ndjson",
  );
}

const opensSpreadObject = (line: string) => line.trim() === "{";

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
  if (opensSpreadObject(lines[first] ?? "") && lines.slice(first + 1).some((line) => line.trim() !== "")) throw spreadObjectError(source);
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
  /** The first line, a lone "{". */
  opensObject?: boolean;
}

/**
 * NDJSON lines (split on "\n", one "\r" before it dropped, as `parseMatchesText` splits), each
 * parsed as it comes; a line that is not JSON is recorded in `bad` and skipped. Item positions
 * and line numbers are those `parseMatchesText` gives.
 */
async function* ndjsonValues(chunks: AsyncIterable<string>, bad: BadLine[], source: string): AsyncGenerator<unknown> {
  let pending = "";
  let lineNo = 0;
  let index = 0;
  function* take(line: string): Generator<unknown> {
    lineNo++;
    if (line.trim() === "") return;
    // A lone "{" first, then another line: a pretty-printed object (nothing is published yet).
    if (index === 1 && bad.length === 1 && bad[0]?.opensObject === true) throw spreadObjectError(source);
    const at = index++;
    try {
      yield JSON.parse(line) as unknown;
    } catch (err) {
      bad.push({ index: at, error: `line ${lineNo} is not valid JSON (${(err as Error).message})`, opensObject: at === 0 && opensSpreadObject(line) });
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
      "submit matches (JSON array or NDJSON, from --file or stdin) to RabbitMQ as Celery tasks. NDJSON is published line by line as " +
        "it is read (the broker's confirms pace the reading); a JSON array is read whole first",
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
      // The first non-blank character tells a JSON array from NDJSON.
      let head = "";
      while (head.trim() === "") {
        const next = await chunks.next();
        if (next.done) break;
        head += next.value;
      }
      const rest = { [Symbol.asyncIterator]: () => chunks };
      let values: AsyncIterable<unknown> | unknown[];
      const bad: BadLine[] = [];
      if (head.trimStart().startsWith("[")) {
        let text = head;
        for await (const chunk of rest) text += chunk;
        values = parseMatchesText(text, source).flatMap((item) => (item.ok ? [item.value] : []));
      } else {
        values = ndjsonValues(
          (async function* () {
            yield head;
            yield* rest;
          })(),
          bad,
          source,
        );
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
