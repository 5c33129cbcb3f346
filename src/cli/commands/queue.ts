/**
 * `matchflow queue status [--json]`: the work, dead-letter and retry queues at a glance, with a
 * warning when messages wait with no consumer or dead letters pile up.
 * `matchflow queue purge --yes`: empties the work queue (test environments).
 */
import type { Command } from "commander";
import { topologyNames } from "../../broker/topology-names.js";
import { PermanentError } from "../../errors.js";
import { requireBrokerUrl, withBroker } from "../../ops/broker-session.js";
import { purgeQueue } from "../../ops/dead-letter-purge.js";
import { formatQueueStatus } from "../../ops/queue-status-report.js";
import { queueStatus } from "../../ops/queue-status.js";
import { cliContext } from "../context.js";
import { EXIT } from "../exit-codes.js";
import { jsonForTerminal } from "../../terminal-text.js";

export function registerQueue(program: Command): void {
  const queue = program.command("queue").description("inspect or empty the work queue (RABBITMQ_URL; RABBITMQ_MANAGEMENT_URL adds unacked counts and rates)");

  queue
    .command("status")
    .description("ready, unacked and consumers of the work, dead-letter and retry queues, with warnings")
    .option("--json", "print the report as JSON")
    .action(async (opts: { json?: boolean }) => {
      const { config, log } = cliContext();
      const report = await queueStatus({
        names: topologyNames(config.topology, config.retry),
        amqpUrl: requireBrokerUrl(config.rabbitmqUrl, "queue status"),
        managementUrl: config.rabbitmqManagementUrl,
        log,
      });
      process.stdout.write(opts.json ? `${jsonForTerminal(JSON.stringify(report, null, 2))}\n` : formatQueueStatus(report));
      // No work queue: a mistyped MATCHES_QUEUE or vhost (or no worker ever started there); scripts see it.
      if (report.queues.some((q) => q.role === "work" && !q.exists)) process.exitCode = EXIT.usage;
    });

  queue
    .command("purge")
    .description("delete every message waiting in the work queue (for test environments; needs --yes)")
    .option("--yes", "really delete them")
    .action(async (opts: { yes?: boolean }) => {
      const { config, log } = cliContext();
      const names = topologyNames(config.topology, config.retry);
      if (!opts.yes) throw new PermanentError("usage", `refusing to purge work queue ${names.queue} without --yes (its messages would be lost)`);
      const url = requireBrokerUrl(config.rabbitmqUrl, "queue purge");
      const purged = await withBroker(url, log, (conn) => purgeQueue(conn, names.queue));
      if (purged === undefined) {
        // Workers declare it: missing means a mistyped MATCHES_QUEUE or vhost, not an empty queue.
        process.stderr.write(`work queue ${names.queue} does not exist: check MATCHES_QUEUE and the vhost; nothing purged\n`);
        process.exitCode = EXIT.usage;
        return;
      }
      process.stdout.write(`purged ${purged} message${purged === 1 ? "" : "s"} from ${names.queue}\n`);
    });
}
