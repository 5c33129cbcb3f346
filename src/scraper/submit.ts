/**
 * Publishing a scrape through the publisher's `MatchQueueClient` (src/broker/publisher.ts), with
 * a progress indicator on stderr for long runs on a terminal.
 */
import type { Config } from "../config.js";
import type { MatchDataInput } from "../contract/index.js";
import type { Logger } from "../log.js";
import type { SubmitCounts } from "./output.js";

/** The part of the publisher's API this command uses. */
interface QueueClient {
  submitMatches(matches: MatchDataInput[], options?: { onProgress?: (progress: unknown) => void }): Promise<SubmitCounts>;
  close(): Promise<void>;
}
interface QueueClientFactory {
  connect(options: Record<string, unknown>): Promise<QueueClient>;
}

// Resolved at run time: the publisher is written concurrently by another helper.
const PUBLISHER_MODULE = "../broker/publisher.js";

/** Progress events may be a number of matches done or an object with `done`/`submitted`. */
function doneOf(progress: unknown): number | undefined {
  if (typeof progress === "number") return progress;
  if (typeof progress === "object" && progress !== null) {
    const p = progress as Record<string, unknown>;
    for (const key of ["done", "processed", "submitted"]) if (typeof p[key] === "number") return p[key];
  }
  return undefined;
}

export async function submitScraped(matches: MatchDataInput[], config: Config, log: Logger, options: { progress: boolean }): Promise<SubmitCounts> {
  const { MatchQueueClient } = (await import(PUBLISHER_MODULE)) as { MatchQueueClient: QueueClientFactory };
  const client = await MatchQueueClient.connect({
    url: config.rabbitmqUrl,
    topology: config.topology,
    retry: config.retry,
    publish: config.publish,
    maxMessageBytes: config.maxMessageBytes,
    queueType: config.topology.queueType,
    log,
  });
  const showProgress = options.progress && matches.length >= 200;
  let lastShown = 0;
  try {
    const counts = await client.submitMatches(matches, {
      onProgress: (progress) => {
        const done = doneOf(progress);
        if (!showProgress || done === undefined || (done - lastShown < 100 && done < matches.length)) return;
        lastShown = done;
        process.stderr.write(`\rpublishing ${done}/${matches.length}`);
      },
    });
    if (showProgress) process.stderr.write("\r\x1b[K");
    return counts;
  } finally {
    await client.close();
  }
}
