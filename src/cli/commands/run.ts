import type { Command } from "commander";
import { pino } from "pino";
import { MAX_DURATION_MS, parseDurationMs } from "../../config.js";
import { ConfigError, isMatchflowError, TransientError } from "../../errors.js";
import { createLogger, logProcessWarnings } from "../../log.js";
import { formatRunReport, runExitCode, runLogLevel, stoppedLine } from "../../run/report.js";
import { runOnce } from "../../run/run-once.js";
import { resolveScrapeFlags, type ScrapeFlags } from "../../scraper/cli-options.js";
import { jsonForTerminal } from "../../terminal-text.js";
import { createFeedFetcher, DownloadStopped } from "../../sources/http.js";
import { cliContext } from "../context.js";
import { Interrupt } from "../interrupt.js";
import { addScrapeSelectionOptions, localToday } from "../scrape-flags.js";

interface RunFlags extends ScrapeFlags {
  wait: string;
  json?: boolean;
}

export function registerRun(program: Command): void {
  addScrapeSelectionOptions(
    program
      .command("run")
      .description(
        "the main job in one process: scrape, queue, process until every match is stored, report. Uses RABBITMQ_URL / DATABASE_URL " +
          "when set, otherwise an in-process broker and PGlite in ./.matchflow/db",
      ),
  )
    .option("--wait <duration>", "stop waiting for processing after this long (e.g. 90s, 10m)", "10m")
    .option("--json", "print the report as JSON")
    .option("--verbose", "log every task (JSON lines on stderr)")
    .allowExcessArguments(false)
    .action(async (flags: RunFlags) => {
      const { config } = cliContext();
      const waitMs = parseDurationMs(flags.wait);
      if (waitMs === undefined) throw new ConfigError(`--wait "${flags.wait}" is not a duration (e.g. 90s, 10m)`);
      if (waitMs > MAX_DURATION_MS) throw new ConfigError(`--wait "${flags.wait}" is longer than the longest wait a timer takes (about 24 days)`);
      const settings = resolveScrapeFlags({ ...flags, submit: true }, config, localToday(new Date()), false);
      // The report is for people on stdout; logs go to stderr, quiet unless asked for.
      const log = createLogger({ level: runLogLevel(flags.verbose, config.logLevel), name: "matchflow-run", destination: pino.destination({ fd: 2, sync: true }) });
      logProcessWarnings(log);
      // Ctrl-C: publishing and waiting stop, the worker settles what it holds and the database
      // is closed cleanly (an embedded PGlite killed mid-write is not), then the report, exit 130.
      // A feed download under way ends at once (it waited out HTTP_TIMEOUT and its retries).
      const interrupt = new Interrupt("matches", log);
      const fetcher = createFeedFetcher({ timeoutMs: config.scrape.httpTimeoutMs, log, stop: interrupt.abortSignal });
      let report;
      try {
        report = await runOnce({ config, log, scrapeOptions: settings.options, fetcher, waitMs, signal: interrupt.abortSignal });
      } catch (err) {
        if (interrupt.signal && err instanceof DownloadStopped) {
          process.stdout.write(`stopped by ${interrupt.signal} while downloading the feed: nothing was published; running it again is harmless\n`);
          process.exitCode = interrupt.exitCode;
          return;
        }
        // No internet (or a mirror down): say how to run on the recorded sample instead.
        if (isMatchflowError(err) && err.code === "source_unreachable" && !flags.sourceDir) {
          throw new TransientError(err.code, `${err.message}\n(offline? run on the recorded sample: matchflow run --source-dir samples/mlsnext --season 2026)`);
        }
        throw err;
      } finally {
        interrupt.dispose();
      }
      process.stdout.write(flags.json ? `${jsonForTerminal(JSON.stringify({ ...report, ...(interrupt.signal ? { stoppedBy: interrupt.signal } : {}), scrape: { counts: report.scrape.counts, metadata: report.scrape.metadata, problems: report.scrape.problems } }, null, 2))}\n` : formatRunReport(report));
      if (interrupt.signal && !flags.json) process.stdout.write(stoppedLine(report, interrupt.signal));
      process.exitCode = interrupt.exitCode ?? runExitCode(report);
    });
}
