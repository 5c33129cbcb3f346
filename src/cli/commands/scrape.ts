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
import { addScrapeSelectionOptions, localToday } from "../scrape-flags.js";
import { EXIT } from "../exit-codes.js";

export function registerScrape(program: Command): void {
  addScrapeSelectionOptions(
    program.command("scrape").description("read MLS NEXT fixtures and results from the source and publish each match to the queue"),
  )
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
