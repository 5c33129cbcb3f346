/**
 * `matchflow workers`: the workers on the vhost that answer Celery's remote control (`inspect
 * stats`), matchflow's and Celery's. `matchflow revoke <task-id>...`: `celery control revoke`, for
 * a shop without Python's Celery at hand. Both wait a fixed time for replies, as Celery does;
 * `workers --destination` names the nodes it asked when none answers, `revoke` goes to every worker.
 */
import { InvalidArgumentError, Option, type Command } from "commander";
import { isTaskId, MAX_TASK_ID_BYTES } from "../../celery/decode.js";
import { requireBrokerUrl } from "../../ops/broker-session.js";
import { formatRevoke, formatWorkers, revokeStoredLine, workerRows } from "../../ops/celery-workers-report.js";
import { askCeleryWorkers, storeRevokedIds } from "../../ops/celery-workers.js";
import { PermanentError } from "../../errors.js";
import { cliContext } from "../context.js";
import { EXIT } from "../exit-codes.js";
import { parseDurationOption } from "../options.js";
import { jsonForTerminal } from "../../terminal-text.js";

const TIMEOUT_HELP = "how long replies are waited for (every worker answering in time counts)";
const DESTINATION_HELP = "ask only this worker node (repeatable; default all)";
/**
 * Why `revoke --destination` is refused rather than sent: a matchflow worker that obeys a revoke
 * writes it to celery_revoked, which every matchflow worker reads within 10 s, and workers
 * starting later take over the revoked ids of any running worker, Celery's included (mingle).
 * Not writing the command's own database record would still have revoked the task everywhere,
 * while the command claimed one node.
 */
const REVOKE_DESTINATION_REFUSED =
  "revoke --destination is refused: a revoke cannot stay with one node (a matchflow worker that obeys it writes it to the database, celery_revoked, where every matchflow worker reads it within 10 s, and workers that start later take it over from the running ones, Celery's too); leave --destination out: the tasks are revoked on every worker";
/** `--destination "$NODE"` with NODE unset asked nobody, then said "no worker answered". */
const collect = (value: string, previous: string[] = []) => {
  if (value.trim() === "") throw new InvalidArgumentError("a node name is required (leave --destination out to ask every worker)");
  return [...previous, value.trim()];
};
const parseTimeout = parseDurationOption("--timeout", 100, 60_000);
/** Help shows the default as a duration ("2s"), as the flag is written, not as milliseconds. */
const timeoutOption = (defaultMs: number) => new Option("--timeout <duration>", TIMEOUT_HELP).argParser(parseTimeout).default(defaultMs, `${defaultMs / 1000}s`);

export function registerWorkers(program: Command): void {
  program
    .command("workers")
    .description("the workers answering Celery's remote control on this vhost (matchflow's with CELERY_CONTROL set, and Celery's): node, pid, uptime, tasks processed; exit 1 when none answers")
    .addOption(timeoutOption(1000))
    .option("--destination <node>", DESTINATION_HELP, collect)
    .option("--json", "print the workers as JSON")
    .action(async (opts: { timeout: number; destination?: string[]; json?: boolean }) => {
      const { config, log } = cliContext();
      const amqpUrl = requireBrokerUrl(config.rabbitmqUrl, "workers");
      const replies = await askCeleryWorkers("stats", {}, { amqpUrl, log, timeoutMs: opts.timeout, destination: opts.destination });
      const rows = workerRows(replies);
      const text = formatWorkers(rows, opts.timeout, opts.destination);
      process.stdout.write(opts.json ? `${jsonForTerminal(JSON.stringify(rows, null, 2))}\n` : text);
      if (rows.length === 0) {
        // With --json, stdout stays the JSON document: why it is empty goes to stderr.
        if (opts.json) process.stderr.write(text);
        process.exitCode = EXIT.partial;
      }
    });
}

export function registerRevoke(program: Command): void {
  program
    .command("revoke")
    .description("celery control revoke: workers dead-letter these tasks (task_revoked) instead of running them when they arrive, for 3 hours; matchflow workers obey with CELERY_CONTROL=control, and with DATABASE_URL set the ids are also written to the database, where running workers read them within 10 s and workers started later at start-up; exit 1 when neither a worker nor the database took them; it goes to every worker (--destination is refused: a revoke cannot stay with one node)")
    .argument("<task-id...>", "the tasks' ids")
    .addOption(timeoutOption(2000))
    // Kept (hidden) to say why it is refused: commander's "unknown option" would not.
    .addOption(new Option("--destination <node>").argParser((value: string, previous: string[] = []) => [...previous, value]).hideHelp())
    .action(async (ids: string[], opts: { timeout: number; destination?: string[] }) => {
      if (opts.destination !== undefined) throw new PermanentError("usage", REVOKE_DESTINATION_REFUSED);
      const notId = ids.find((id) => !isTaskId(id));
      if (notId !== undefined) throw new PermanentError("usage", `${JSON.stringify(notId.slice(0, 100))} is not a task id (1 to ${MAX_TASK_ID_BYTES} bytes, not blank)`);
      const { config, log } = cliContext();
      const amqpUrl = requireBrokerUrl(config.rabbitmqUrl, "revoke");
      const unique = [...new Set(ids)];
      // The database first: a worker starting while the broadcast is out then reads the ids there.
      const stored = await storeRevokedIds(config.databaseUrl, unique, log);
      const replies = await askCeleryWorkers("revoke", { task_id: unique, terminate: false, signal: null }, { amqpUrl, log, timeoutMs: opts.timeout }).catch((err: unknown) => {
        // The broker's error follows (exit 4): say what did happen to the database too, as the running workers were not told.
        process.stdout.write(`${revokeStoredLine(stored, unique.length)}; not sent to the running workers:\n`);
        throw err;
      });
      const report = formatRevoke(replies, unique, opts.timeout, stored);
      process.stdout.write(report.text);
      if (!report.effective) process.exitCode = EXIT.partial;
    });
}
