/**
 * Publishing a scrape through the publisher (`MatchQueueClient`, src/broker/publisher.ts), with
 * a progress indicator on stderr for long runs on a terminal. The matches may be an array or
 * the scrape's lazy sequence: the publisher takes each as the confirm window has room.
 */
import { connectOptionsFrom, MatchQueueClient } from "../broker/publisher.js";
import type { Config } from "../config.js";
import type { MatchData, MatchDataInput } from "../contract/index.js";
import { PermanentError } from "../errors.js";
import type { Logger } from "../log.js";
import type { SubmitCounts } from "./output.js";

/** Runs with fewer matches finish before a progress line would help. */
const PROGRESS_FROM = 200;

/** `checked`: the scrape stream's own contract results (ScrapeStream.checked), when there is one. */
export async function submitScraped(
  matches: Iterable<MatchDataInput>,
  config: Config,
  log: Logger,
  options: { progress: boolean; checked?: (match: unknown) => MatchData | undefined },
): Promise<SubmitCounts> {
  if (!config.rabbitmqUrl) throw new PermanentError("usage", "RABBITMQ_URL is not set: set it to publish, or use --no-submit for a dry run");
  const client = await MatchQueueClient.connect(connectOptionsFrom(config, config.rabbitmqUrl, log));
  let shown = 0;
  try {
    const report = await client.submitMatches(matches, {
      countOnly: true,
      checked: options.checked,
      onProgress: (done, total) => {
        if (!options.progress || done < PROGRESS_FROM || (done - shown < 100 && done !== total)) return;
        shown = done;
        process.stderr.write(`\rpublishing ${done}${total === undefined ? "" : `/${total}`}`);
      },
    });
    if (shown > 0) process.stderr.write("\r\x1b[K");
    for (const bad of report.invalid.slice(0, 20)) log.warn({ externalMatchId: bad.externalMatchId, errors: bad.errors.map((e) => e.message) }, "match refused by the contract");
    for (const failed of report.failed.slice(0, 20)) log.error({ taskId: failed.taskId, externalMatchId: failed.externalMatchId, error: failed.error }, "match not published");
    return { submitted: report.submitted, invalid: report.invalid.length, failed: report.failed.length };
  } finally {
    await client.close();
  }
}
