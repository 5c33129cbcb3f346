/**
 * `matchflow scrape`: a thin layer over `scrape()` (src/scraper/scrape.ts): flags -> options,
 * print or save the matches, publish them unless `--no-submit`, one summary line, exit code
 * (0 all submitted, 1 some invalid or failed, 2 usage, 3 source, 4 broker).
 * Logs go to stderr so that `--format json` on stdout stays parseable.
 */
import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { pino } from "pino";
import { PermanentError } from "../../errors.js";
import { createLogger } from "../../log.js";
import { resolveScrapeFlags, type ScrapeFlags } from "../../scraper/cli-options.js";
import { renderMatches, scrapeDocument, summaryLine, type SubmitCounts } from "../../scraper/output.js";
import { scrape } from "../../scraper/scrape.js";
import { submitScraped } from "../../scraper/submit.js";
import { createFeedFetcher } from "../../sources/http.js";
import { cliContext } from "../context.js";
import { EXIT } from "../exit-codes.js";

function localToday(now: Date): string {
  return new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit" }).format(now);
}

export function registerScrape(program: Command): void {
  program
    .command("scrape")
    .description("read MLS NEXT fixtures and results from the source and publish each match to the queue")
    .option("--league <league>", "Homegrown, Academy or Flex (default: LEAGUE)")
    .option("--age-group <groups>", "one age group or a comma list, e.g. U14,U15 (default: AGE_GROUP, else all)")
    .option("--division <name>", "conference/division, case-insensitive (default: DIVISION, else all)")
    .option("--conference <name>", "same as --division")
    .option("--club <text>", "only matches where either club name contains this text (case-insensitive)")
    .option("--from <date>", "first local date, YYYY-MM-DD (inclusive)")
    .option("--to <date>", "last local date, YYYY-MM-DD (inclusive)")
    .option("--start <days>", "first date as days from today, e.g. -7")
    .option("--end <days>", "last date as days from today, e.g. 0")
    .option("--season <year>", "the season's first year, e.g. 2026 for 2026-27 (default: from today; seasons run August-July)")
    .option("--source <source>", "assist (2026-27 on) or modular11 (up to 2025-26) (default: SCRAPE_SOURCE)")
    .option("--source-dir <dir>", "read recorded assist feeds from DIR/data/{schedule,standings}/{key}.json")
    .option("--limit <n>", "at most n matches (earliest first)")
    .option("--save <file>", "also write {metadata, matches, problems} as JSON to this file")
    .option("--format <format>", "table, json or ndjson (default: table on a terminal, json otherwise)")
    .option("--no-submit", "dry run: read and show the matches, publish nothing")
    .option("--quiet", "only errors on stderr, no summary line")
    .option("--verbose", "debug logs on stderr")
    .allowExcessArguments(false)
    .action(async (flags: ScrapeFlags, cmd: Command) => {
      const { config } = cliContext();
      const now = new Date();
      const settings = resolveScrapeFlags(flags, config, localToday(now), process.stdout.isTTY === true);
      if (settings.submit && !config.rabbitmqUrl) {
        throw new PermanentError("usage", "RABBITMQ_URL is not set: set it to publish, or use --no-submit for a dry run");
      }
      const log = createLogger({
        level: settings.quiet ? "error" : settings.verbose ? "debug" : config.logLevel,
        name: "matchflow-scrape",
        destination: pino.destination({ fd: 2, sync: true }),
      });
      const fetcher = createFeedFetcher({ timeoutMs: config.scrape.httpTimeoutMs, log });
      const result = await scrape(settings.options, { fetcher, now: () => new Date(), log });

      if (settings.save) await writeFile(settings.save, `${JSON.stringify(scrapeDocument(result), null, 2)}\n`);
      // Matches go to stdout on a dry run, or when a format was asked for explicitly.
      const showMatches = !settings.submit || cmd.getOptionValueSource("format") === "cli";
      if (showMatches) process.stdout.write(renderMatches(result, settings.format));

      let submitted: SubmitCounts | undefined;
      if (settings.submit) {
        submitted = await submitScraped(result.matches, config, log, { progress: !settings.quiet && process.stderr.isTTY === true });
      }
      const summary = summaryLine(result, submitted);
      if (!settings.quiet) {
        const toStderr = showMatches && settings.format !== "table";
        (toStderr ? process.stderr : process.stdout).write(`${summary}\n`);
      }
      const partial = result.counts.invalid > 0 || (submitted !== undefined && (submitted.invalid > 0 || submitted.failed > 0));
      process.exitCode = partial ? EXIT.partial : EXIT.ok;
    });
}
