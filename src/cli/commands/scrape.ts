/**
 * `matchflow scrape`: a thin layer over `scrapeStream()` (src/scraper/scrape.ts): flags ->
 * options, print or save the matches, publish them unless `--no-submit`, one summary line, exit
 * code (0 all submitted, 1 some malformed, invalid or failed, 2 usage, 3 source, 4 broker). Publishing and
 * a dry run's NDJSON take the matches as they are produced; a table, `--format json` and
 * `--save` collect them first.
 * Logs go to stderr so that `--format json` on stdout stays parseable.
 */
import { writeFile } from "node:fs/promises";
import { Option, type Command } from "commander";
import type { MatchDataInput } from "../../contract/index.js";
import { pino } from "pino";
import { PermanentError } from "../../errors.js";
import { createLogger, logProcessWarnings } from "../../log.js";
import { resolveScrapeFlags, type ScrapeFlags } from "../../scraper/cli-options.js";
import { ndjsonLine, renderMatches, scrapeDocument, scrapeRefused, summaryLine, type SubmitCounts } from "../../scraper/output.js";
import { scrapeStream, type ScrapeResult, type ScrapeSummary } from "../../scraper/scrape.js";
import { submitScraped } from "../../scraper/submit.js";
import { createFeedFetcher } from "../../sources/http.js";
import { cliContext } from "../context.js";
import { Interrupt } from "../interrupt.js";
import { addScrapeSelectionOptions, localToday } from "../scrape-flags.js";
import { publishExitCode } from "../exit-codes.js";
import { checkWritable, fileProblem } from "../files.js";
import { guardOutput, type Output } from "../output-stream.js";

/** Lines joined up to about this many characters per write (50,000 single writes cost more). */
const WRITE_CHARS = 64 * 1024;

/**
 * A dry run's NDJSON, written as the matches are produced (the same bytes as renderMatches).
 * Writes to a pipe are asynchronous: waiting for 'drain' keeps a slow reader from making us
 * buffer the whole season. Every match is still read when the reader has gone: the summary
 * and the exit code cover the whole feed.
 */
async function writeNdjson(matches: Iterable<MatchDataInput>, out: Output): Promise<void> {
  let pending = "";
  for (const m of matches) {
    if (out.closed) continue;
    pending += ndjsonLine(m);
    if (pending.length >= WRITE_CHARS) {
      await out.write(pending);
      pending = "";
    }
  }
  await out.write(pending);
}

/** The `--save` document (checked writable up front; a later failure, e.g. a full disk, still says what and where). */
async function saveDocument(path: string, result: ScrapeResult): Promise<void> {
  try {
    await writeFile(path, `${JSON.stringify(scrapeDocument(result), null, 2)}\n`);
  } catch (err) {
    throw fileProblem("--save", path, err);
  }
}

export function registerScrape(program: Command): void {
  addScrapeSelectionOptions(
    program.command("scrape").description("read MLS NEXT fixtures and results from the source and publish each match to the queue"),
  )
    .option("--save <file>", "also write {metadata, matches, problems} as JSON to this file")
    .option("--format <format>", "print the matches as table, json or ndjson (printed on a dry run or when this is given; default: table on a terminal, json otherwise)")
    .option("--no-submit", "dry run: read and show the matches, publish nothing")
    // The seed's `scrape --use-queue`: publishing is the default here; its opposite is --no-submit.
    .addOption(new Option("--use-queue", "publish each match to the queue (the default; the seed's flag)").conflicts("submit"))
    .option("--quiet", "only errors on stderr, no summary line")
    .option("--verbose", "debug logs on stderr")
    .allowExcessArguments(false)
    .action(async (flags: ScrapeFlags, cmd: Command) => {
      const { config } = cliContext();
      // Publishing is the job, the printed listing a side output: when its reader goes away
      // (`| head`), printing stops quietly and publishing goes on; the exit code follows the
      // usual rules (a dry run, whose job is the listing, still reads to the end for its summary).
      const out = guardOutput(process.stdout);
      const now = new Date();
      const settings = resolveScrapeFlags(flags, config, localToday(now), process.stdout.isTTY === true);
      if (settings.submit && !config.rabbitmqUrl) {
        throw new PermanentError("usage", "RABBITMQ_URL is not set: set it to publish, or use --no-submit for a dry run");
      }
      // Before the scrape: a --save path that cannot be written must not cost a download, or a publish.
      if (settings.save) await checkWritable("--save", settings.save);
      const log = createLogger({
        level: settings.quiet ? "error" : settings.verbose ? "debug" : config.logLevel,
        name: "matchflow-scrape",
        destination: pino.destination({ fd: 2, sync: true }),
      });
      logProcessWarnings(log);
      // Matches go to stdout on a dry run, or when a format was asked for explicitly.
      const showMatches = !settings.submit || cmd.getOptionValueSource("format") === "cli";

      let summary: ScrapeSummary;
      let submitted: SubmitCounts | undefined;
      // Publishing stops on Ctrl-C / SIGTERM with what was published counted (cli/interrupt.ts);
      // so does a download under way (the fetcher's stop), before anything was published.
      const interrupt = settings.submit ? new Interrupt("matches", log) : undefined;
      const interrupted = async (counts: SubmitCounts, stop: Interrupt) => {
        const line = `${counts.submitted} submitted, ${counts.invalid} invalid, ${counts.failed} failed before ${stop.signal ?? "a signal"} stopped the scrape; the rest was not published (running it again is harmless)\n`;
        // Beside printed JSON, on stderr, as the summary line is.
        if (!settings.quiet) await (showMatches && settings.format !== "table" ? Promise.resolve(process.stderr.write(line)) : out.write(line));
        process.exitCode = stop.exitCode;
      };
      const fetcher = createFeedFetcher({ timeoutMs: config.scrape.httpTimeoutMs, log, ...(interrupt ? { stop: interrupt.abortSignal } : {}) });
      try {
        const stream = await scrapeStream(settings.options, { fetcher, now: () => new Date(), log });
        if (interrupt && !showMatches && !settings.save) {
          // The CronJob's path: each match is published as it is produced (bounded memory).
          submitted = await submitScraped(interrupt.take(stream.matches), config, log, { progress: !settings.quiet && process.stderr.isTTY === true, checked: stream.checked });
          // Stopped: the feed was not read to its end, so there is no summary of it.
          if (interrupt.signal) return await interrupted(submitted, interrupt);
          summary = stream.summary();
        } else if (!settings.submit && settings.format === "ndjson" && !settings.save) {
          await writeNdjson(stream.matches, out);
          summary = stream.summary();
        } else {
          // A table, the JSON document and --save need every match first (widths, counts up front).
          const result: ScrapeResult = { matches: [...stream.matches], ...stream.summary() };
          if (settings.save) await saveDocument(settings.save, result);
          if (showMatches) out.writeNow(renderMatches(result, settings.format));
          if (interrupt) submitted = await submitScraped(interrupt.take(result.matches), config, log, { progress: !settings.quiet && process.stderr.isTTY === true });
          if (interrupt?.signal && submitted) return await interrupted(submitted, interrupt);
          summary = result;
        }
      } catch (err) {
        // A download the signal ended (sources/http.ts DownloadStopped), before or between publishing.
        if (interrupt?.signal) return await interrupted(submitted ?? { submitted: 0, invalid: 0, failed: 0 }, interrupt);
        throw err;
      } finally {
        interrupt?.dispose();
      }
      const line = summaryLine(summary, submitted);
      if (!settings.quiet) {
        if (showMatches && settings.format !== "table") process.stderr.write(`${line}\n`);
        else await out.write(`${line}\n`);
      }
      process.exitCode = publishExitCode(scrapeRefused(summary.counts, submitted), submitted?.failed ?? 0);
    });
}
