/**
 * `matchflow dlq list|show|requeue|purge`: the dead-letter queue. Listing and showing never
 * remove anything; requeue publishes each message (confirmed) before removing its dead letter.
 */
import type { Command } from "commander";
import { topologyNames } from "../../broker/topology-names.js";
import { PermanentError } from "../../errors.js";
import { queueExists, requireBrokerUrl, withBroker } from "../../ops/broker-session.js";
import { formatDeadLetterListing, missingDeadLetterQueue, noneWithCode } from "../../ops/dead-letter-format.js";
import { DEFAULT_LOCK_WAIT_MS, type DeadLetterLockOptions } from "../../ops/dead-letter-lock.js";
import { purgeDeadLetters, type PurgeReport } from "../../ops/dead-letter-purge.js";
import { listDeadLetters, otherConsumersNote, showDeadLetter, type DeadLetterListing } from "../../ops/dead-letters.js";
import { requeueDeadLetters, type RequeueReport, type RequeueSelection } from "../../ops/dead-letter-requeue.js";
import { parseErrorCodeFilter, type CodeCount, type ErrorCodeFilter } from "../../ops/error-code-filter.js";
import { jsonForTerminal, printable } from "../../terminal-text.js";
import { cliContext } from "../context.js";
import { Interrupt } from "../interrupt.js";
import { EXIT } from "../exit-codes.js";
import { parseIntOption } from "../options.js";
import { guardOutput, type Output } from "../output-stream.js";

function setup(command: string) {
  const { config, log } = cliContext();
  return { config, log, names: topologyNames(config.topology, config.retry), url: requireBrokerUrl(config.rabbitmqUrl, command) };
}

/** dlq commands take turns (see ops/dead-letter-lock.ts); say so on stderr, stdout may be JSON. */
const lock: DeadLetterLockOptions = {
  onWait: (lockQueue) => process.stderr.write(`waiting for another dlq command to finish (it holds queue ${lockQueue}; up to ${DEFAULT_LOCK_WAIT_MS / 1000} s)\n`),
};

const CODE_HELP = "only dead letters with this error code (as dlq list shows it), or a prefix ending in * ('db_*'); a comma list for several";

/** Why "not found" may be wrong: some dead letters could not be read. */
const UNREAD_NOTE = " (some dead letters could not be read: another client, not a matchflow dlq command, took or holds them; try again)";

export function registerDlq(program: Command): void {
  const dlq = program.command("dlq").description("inspect, requeue or purge dead letters (messages the worker gave up on, with the reason)");

  dlq
    .command("list")
    .description("task id, external match id, error, attempts and time of each dead letter (read without removing)")
    .option("-n, --limit <n>", "show at most N dead letters", parseIntOption("--limit", 1, 1_000_000), 50)
    .option("--code <codes>", CODE_HELP, parseErrorCodeFilter)
    .option("--json", "print the listing as JSON")
    .action(async (opts: { limit: number; code?: ErrorCodeFilter; json?: boolean }) => {
      const { config, log, names, url } = setup("dlq list");
      const listing = await withBroker(url, log, (conn) => listDeadLetters(conn, names, { limit: opts.limit, maxBytes: config.maxMessageBytes, lock, ...(opts.code ? { codes: opts.code } : {}) }));
      if (opts.json) await writeListingJson(listing, guardOutput(process.stdout));
      else process.stdout.write(formatDeadLetterListing(listing));
      // No work queue either: a mistyped MATCHES_QUEUE or vhost, as `dlq requeue` says with the same code.
      if (!listing.exists && listing.workQueueExists === false) process.exitCode = EXIT.usage;
    });

  dlq
    .command("show")
    .description("everything about a dead letter: headers, properties, decoded task arguments (a JSON array: each dead letter with that task id, usually one)")
    .argument("<task-id>", "the task id (from dlq list; sha256:... for a dead letter without one)")
    .action(async (taskId: string) => {
      blankIdRefused([taskId]);
      const { config, log, names, url } = setup("dlq show");
      const { found, cutShort, missing, workQueueExists } = await withBroker(url, log, (conn) => showDeadLetter(conn, names, taskId, { maxBytes: config.maxMessageBytes, lock }));
      if (missing) {
        // Exit 2 as `dlq list` for a mistyped MATCHES_QUEUE or vhost; it said "no dead letter with task id ..." and exited 1.
        process.stderr.write(`${missingDeadLetterQueue(names.deadLetterQueue, names.queue, workQueueExists !== false)}; task id ${taskId} not found\n`);
        process.exitCode = workQueueExists === false ? EXIT.usage : EXIT.partial;
        return;
      }
      if (found.length === 0) {
        process.stderr.write(`no dead letter with task id ${taskId} in ${names.deadLetterQueue}${cutShort ? UNREAD_NOTE : ""}\n`);
        process.exitCode = EXIT.partial;
        return;
      }
      // Always an array, for scripts (`jq '.[0]'`): one object when a single letter matched and an
      // array when a task was dead-lettered twice made the shape depend on the data.
      process.stdout.write(`${jsonForTerminal(JSON.stringify(found, null, 2))}\n`);
    });

  dlq
    .command("requeue")
    .description("send dead letters back to the work exchange with retries reset (each confirmed before its dead letter is removed)")
    .argument("[task-ids...]", "task ids to requeue (from dlq list; sha256:... for a dead letter without one)")
    .option("--all", "requeue every dead letter")
    .option("--code <codes>", CODE_HELP, parseErrorCodeFilter)
    .action(async (taskIds: string[], opts: { all?: boolean; code?: ErrorCodeFilter }) => {
      const ways = [opts.all === true, taskIds.length > 0, opts.code !== undefined].filter(Boolean).length;
      if (ways !== 1) throw new PermanentError("usage", `dlq requeue needs ${ways === 0 ? "one" : "only one"} of --all, --code or task ids`);
      blankIdRefused(taskIds);
      const { config, log, names, url } = setup("dlq requeue");
      // Declares nothing (a mistyped queue name must not create a queue): see requeueDeadLetters.
      const selection: RequeueSelection = opts.all ? { all: true } : opts.code ? { codes: opts.code } : { taskIds };
      // Ctrl-C / SIGTERM: no further letter is read; the copies in flight settle and are counted.
      const interrupt = new Interrupt("copies", log);
      let report: RequeueReport;
      try {
        // The copies on a connection of their own (see RequeueOptions.publishOn).
        report = await withBroker(url, log, (conn) =>
          withBroker(
            url,
            log,
            (copies) => requeueDeadLetters(conn, names, selection, { maxBytes: config.maxMessageBytes, lock, signal: interrupt.abortSignal, publishOn: { connection: copies, blockedTimeoutMs: config.publish.blockedTimeoutMs } }),
            "matchflow ops copies",
          ),
        );
      } finally {
        interrupt.dispose();
      }
      const unread = report.cutShort || report.otherConsumers > 0;
      for (const id of report.notFound) process.stderr.write(`not found in ${names.deadLetterQueue}: ${id}${unread ? UNREAD_NOTE : ""}\n`);
      for (const { key, reason } of report.notRequeued) process.stderr.write(`could not requeue ${printable(key)} (left in ${names.deadLetterQueue}): ${printable(reason)}\n`);
      const n = report.requeued.length;
      const which = opts.code ? ` with code ${opts.code.patterns.join(" or ")}` : "";
      const stopped = report.interrupted ? ` before ${interrupt.signal ?? "a signal"} stopped it; the rest are still in ${names.deadLetterQueue}` : "";
      process.stdout.write(`requeued ${n} dead letter${n === 1 ? "" : "s"}${which} to exchange ${names.exchange} (routing key ${names.routingKey})${stopped}\n`);
      if (opts.code && n === 0 && report.notRequeued.length === 0 && !report.interrupted) noneWithCodeNote(names.deadLetterQueue, report.scanned, opts.code, report.codesPresent);
      for (const r of report.requeued) {
        // Ids and header names come from the message: escaped (terminal-text.ts).
        if (r.droppedHeaders) process.stderr.write(`${printable(r.taskId ?? "(no task id)")}: left out header(s) ${printable(r.droppedHeaders.join(", "))} to fit the broker's frame_max (named in x-matchflow-dropped-headers)\n`);
      }
      if (report.interrupted) {
        process.exitCode = interrupt.exitCode;
        return;
      }
      let incomplete = report.notFound.length > 0 || report.notRequeued.length > 0;
      // With task ids, letters not read matter only for an id not found (said beside it above).
      if (taskIds.length === 0) {
        const lines = unreadLetters(report, names.deadLetterQueue, "requeued");
        for (const line of lines) process.stderr.write(`${line}\n`);
        incomplete ||= lines.length > 0;
      }
      if (incomplete) process.exitCode = EXIT.partial;
    });

  dlq
    .command("purge")
    .description("delete every dead letter, or those with --code (needs --yes)")
    .option("--code <codes>", CODE_HELP, parseErrorCodeFilter)
    .option("--yes", "really delete them")
    .action(async (opts: { code?: ErrorCodeFilter; yes?: boolean }) => {
      const { config, log } = cliContext();
      const names = topologyNames(config.topology, config.retry);
      const which = opts.code ? ` with code ${opts.code.patterns.join(" or ")}` : "";
      if (!opts.yes) {
        const what = opts.code ? `the dead letters${which} in ${names.deadLetterQueue}` : `dead-letter queue ${names.deadLetterQueue}`;
        throw new PermanentError("usage", `refusing to purge ${what} without --yes (its messages would be lost)`);
      }
      const url = requireBrokerUrl(config.rabbitmqUrl, "dlq purge");
      const { purged, workQueueExists } = await withBroker(url, log, async (conn) => {
        const report = await purgeDeadLetters(conn, names, { lock, ...(opts.code ? { codes: opts.code } : {}) });
        return { purged: report, workQueueExists: report === undefined ? await queueExists(conn, names.queue) : true };
      });
      if (purged !== undefined) {
        const n = purged.removed;
        process.stdout.write(`purged ${n} dead letter${n === 1 ? "" : "s"}${which} from ${names.deadLetterQueue}\n`);
        if (opts.code && n === 0) noneWithCodeNote(names.deadLetterQueue, purged.scanned ?? 0, opts.code, purged.codesPresent);
        const unread = unreadLetters(purged, names.deadLetterQueue, "purged");
        for (const line of unread) process.stderr.write(`${line}\n`);
        // Letters left behind that the operator asked to delete: not "done".
        if (unread.length > 0) process.exitCode = EXIT.partial;
        return;
      }
      process.stdout.write(`${missingDeadLetterQueue(names.deadLetterQueue, names.queue, workQueueExists)}; nothing purged\n`);
      // A mistyped MATCHES_QUEUE or vhost is not "done" (it said exit 0): scripts see it, as with `dlq list`.
      if (!workQueueExists) process.exitCode = EXIT.usage;
    });
}

/** Where the items go in the listing's document printed with none: `JSON.stringify(..., null, 2)` puts them at the top level, two spaces in. */
const NO_ITEMS = '\n  "items": []';
/** Written to stdout in pieces of about this many characters (not one write per letter). */
const JSON_CHUNK_CHARS = 64 * 1024;

/**
 * `dlq list --json`: exactly what `JSON.stringify(listing, null, 2)` printed, written letter by
 * letter. As one string, a --limit up to 1,000,000 letters of long error messages could pass V8's
 * longest string (about 512 MiB) and crash with "Invalid string length". Items are indented as
 * they would be nested (a JSON text holds no raw newline but its own), so scripts parse the same
 * document, byte for byte, as before.
 */
export async function writeListingJson(listing: DeadLetterListing, out: Output): Promise<void> {
  const frame = jsonForTerminal(JSON.stringify({ ...listing, items: [] }, null, 2));
  const at = frame.indexOf(NO_ITEMS);
  if (listing.items.length === 0) {
    await out.write(`${frame}\n`);
    return;
  }
  // Not found only if the listing's shape changed: then the document whole, as before.
  if (at < 0) {
    await out.write(`${jsonForTerminal(JSON.stringify(listing, null, 2))}\n`);
    return;
  }
  let chunk = frame.slice(0, at + NO_ITEMS.length - 1); // up to and with the "["
  for (let i = 0; i < listing.items.length; i++) {
    chunk += `${i === 0 ? "" : ","}\n    ${jsonForTerminal(JSON.stringify(listing.items[i], null, 2)).replaceAll("\n", "\n    ")}`;
    if (chunk.length >= JSON_CHUNK_CHARS) {
      await out.write(chunk);
      chunk = "";
      if (out.closed) return; // the reader went away (| head): the rest reaches nobody
    }
  }
  await out.write(`${chunk}\n  ${frame.slice(at + NO_ITEMS.length - 1)}\n`);
}

/** What a requeue or purge could not reach, one line each (none when it reached every letter). */
function unreadLetters(report: RequeueReport | PurgeReport, queue: string, done: string): string[] {
  const lines: string[] = [];
  if (report.otherConsumers > 0) lines.push(`${otherConsumersNote(queue, report.otherConsumers)}; those were not ${done}`);
  if (report.cutShort) {
    const counted = "total" in report ? `only ${report.scanned} of the ${report.total} dead letters ${queue} reported ready could be read` : `some dead letters in ${queue} could not be read`;
    lines.push(`${counted}: another client took or holds the others meanwhile; they were not ${done} (run the command again)`);
  }
  return lines;
}

/**
 * `dlq requeue|purge --code` that took none of the letters read: on stderr (stdout keeps its one
 * count line), the codes those letters have, as `dlq list --code` says them.
 */
function noneWithCodeNote(queue: string, scanned: number, filter: ErrorCodeFilter, present: readonly CodeCount[] | undefined): void {
  if (scanned > 0) process.stderr.write(`${noneWithCode(queue, scanned, filter.patterns, present)}\n`);
}

/** `dlq show "$ID"` with ID unset: said before connecting to the broker, not after reading the queue. */
function blankIdRefused(ids: readonly string[]): void {
  if (ids.some((id) => id.trim() === "")) throw new PermanentError("usage", "a task id is empty (dlq list shows them)");
}
