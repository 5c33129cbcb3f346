import type { Command } from "commander";
import { pino } from "pino";
import { isMatchflowError } from "../../errors.js";
import { createLogger, logProcessWarnings } from "../../log.js";
import { publishedCounts, runCounts, runExitCode } from "../../run/report.js";
import { runOnce, untilAborted } from "../../run/run-once.js";
import { runSchedule, validateCron } from "../../run/schedule.js";
import { resolveScrapeFlags, type ScrapeFlags } from "../../scraper/cli-options.js";
import { scrapeRefused } from "../../scraper/output.js";
import { scrapeStream } from "../../scraper/scrape.js";
import { submitScraped } from "../../scraper/submit.js";
import { createFeedFetcher, DownloadStopped } from "../../sources/http.js";
import { cliContext } from "../context.js";
import { SignalCount } from "../interrupt.js";
import { exitCodeFor, publishExitCode } from "../exit-codes.js";
import { addScrapeSelectionOptions, localToday } from "../scrape-flags.js";

interface ScheduleFlags extends ScrapeFlags {
  cron: string;
  runNow?: boolean;
}

export function registerSchedule(program: Command): void {
  addScrapeSelectionOptions(
    program
      .command("schedule")
      .description(
        "keep a process that scrapes on a cron expression (UTC), for hosts without Kubernetes. With RABBITMQ_URL it publishes " +
          "(workers run elsewhere); without it, each run also processes in-process, like `matchflow run`",
      ),
  )
    .requiredOption("--cron <expression>", 'five-field cron expression in UTC, e.g. "0 6 * * *" (daily at 06:00 UTC)')
    .option("--run-now", "also run once at start")
    .allowExcessArguments(false)
    .action(async (flags: ScheduleFlags) => {
      const { config, log } = cliContext({ service: true });
      validateCron(flags.cron);
      // Validate the flags once up front (a usage error exits 2 now, not at 6 am).
      resolveScrapeFlags({ ...flags, submit: true }, config, localToday(new Date()), false);
      const jobLog = createLogger({ level: config.logLevel, name: "matchflow-schedule", destination: pino.destination({ fd: 1, sync: true }) });
      logProcessWarnings(jobLog);

      // Aborted by the first stop signal: the run in progress stops publishing and waiting too
      // (an in-process run waits up to 30 min for its matches), so the stop is prompt.
      const controller = new AbortController();
      const { signal } = controller;
      const stopped = () => (signal.aborted ? { stopped: "by a signal: what was not published or processed yet is counted as such; running it again is harmless" } : {});
      const job = async (): Promise<number> => {
        const settings = resolveScrapeFlags({ ...flags, submit: true }, config, localToday(new Date()), false);
        // A stop ends a feed download under way at once, rather than after HTTP_TIMEOUT and its retries.
        const fetcher = createFeedFetcher({ timeoutMs: config.scrape.httpTimeoutMs, log: jobLog, stop: signal });
        try {
          if (!config.rabbitmqUrl) {
            const report = await runOnce({ config, log: jobLog, scrapeOptions: settings.options, fetcher, waitMs: 30 * 60_000, signal });
            jobLog.info({ ...runCounts(report), ...stopped() }, "run report");
            return runExitCode(report);
          }
          const stream = await scrapeStream(settings.options, { fetcher, now: () => new Date(), log: jobLog });
          const submitted = await submitScraped(untilAborted(stream.matches, signal), config, jobLog, { progress: false, checked: stream.checked });
          // Stopped: the rest of the source (downloaded already) is read, not published, for the counts.
          if (signal.aborted) for (const unpublished of stream.matches) void unpublished;
          const { counts } = stream.summary();
          jobLog.info({ ...publishedCounts(counts, submitted), ...stopped() }, "scrape published");
          return publishExitCode(scrapeRefused(counts, submitted), submitted.failed);
        } catch (err) {
          if (signal.aborted && err instanceof DownloadStopped) {
            jobLog.info({ submitted: 0, ...stopped() }, "scheduled scrape stopped while downloading the feed: nothing was published");
            return exitCodeFor(err);
          }
          jobLog.error({ code: isMatchflowError(err) ? err.code : undefined, err: String(err) }, config.rabbitmqUrl ? "scheduled scrape failed" : "scheduled run failed");
          return exitCodeFor(err);
        }
      };

      const signals = new SignalCount();
      const stop = (signal: NodeJS.Signals) => {
        if (signals.received(signal) > 1) process.exit(130);
        if (controller.signal.aborted) return; // the first one, delivered again (npm forwards it)
        log.info({ signal }, "stopping the schedule (send again to exit at once)");
        controller.abort();
      };
      process.on("SIGTERM", stop);
      process.on("SIGINT", stop);
      await runSchedule({ cron: flags.cron, job, log: jobLog, signal: controller.signal, runNow: flags.runNow === true });
    });
}
