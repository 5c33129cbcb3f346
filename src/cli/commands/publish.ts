/**
 * `matchflow publish [--file F]`: submit matches (a JSON array, NDJSON, or the document `scrape
 * --save` / `--format json` writes, from a file or stdin) to RabbitMQ as Celery tasks. Prints
 * "N submitted, N invalid, N failed"; each invalid match's errors go to stderr. Exit 1 when any
 * match is invalid, 4 when any failed or the broker is down, 2 when the input breaks part-way
 * (after the counts of what was read before). Every kind of input is published as it
 * is read (cli/match-input.ts).
 */
import type { Command } from "commander";
import { connectOptionsFrom, MatchQueueClient, type SubmitTally } from "../../broker/publisher.js";
import { ConfigError, errorMessage } from "../../errors.js";
import { cliContext } from "../context.js";
import { Interrupt } from "../interrupt.js";
import { EXIT, exitCodeFor, publishExitCode } from "../exit-codes.js";
import { inputIndex, inputName, openMatchInput, readMatchInput, readsStdin, warnIfNoMatches } from "../match-input.js";
import { printable } from "../../terminal-text.js";

export function registerPublish(program: Command): void {
  program
    .command("publish")
    .description(
      "submit matches (JSON array, NDJSON or scrape's --save document, from --file or stdin) to RabbitMQ as Celery tasks, " +
        "each as it is read (the broker's confirms pace the reading)",
    )
    .option("-f, --file <path>", "read matches from this file instead of stdin (- for stdin)")
    .action(async (opts: { file?: string }) => {
      const { config, log } = cliContext();
      if (!config.rabbitmqUrl) {
        throw new ConfigError("RABBITMQ_URL is not set: publish needs a RabbitMQ broker, e.g. RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672/");
      }
      const source = inputName(opts.file);
      // A missing file fails here, before connecting.
      const { values, bad } = await readMatchInput(await openMatchInput(opts.file), source);

      const client = await MatchQueueClient.connect(connectOptionsFrom(config, config.rabbitmqUrl, log));
      // Ctrl-C / SIGTERM stops the reading; what was published is confirmed and counted (cli/interrupt.ts).
      const interrupt = new Interrupt("matches", log);
      let report: SubmitTally;
      // Input that breaks part-way (cut JSON, bytes that are not UTF-8, a read error) ends the
      // reading, not the report: what was published before it is confirmed and counted, and a
      // match the broker did not take still makes the exit 4. Before, only the input's error was
      // said (exit 2), and the failed matches with it went unmentioned.
      let inputError: Error | undefined;
      const untilInputFails = async function* <T>(items: AsyncIterable<T>): AsyncGenerator<T> {
        try {
          yield* items;
        } catch (err) {
          inputError = err instanceof Error ? err : new Error(String(err));
        }
      };
      try {
        report = await client.submitMatches(interrupt.take(untilInputFails(values)), { countOnly: true });
      } finally {
        interrupt.dispose();
        await client.close();
      }
      // Nothing read before the input failed: its error alone says it all.
      if (inputError !== undefined && !interrupt.signal && report.submitted + report.invalid.length + report.failed.length + bad.length === 0) throw inputError;
      const at = (i: number) => inputIndex(i, bad);
      const invalid = [
        ...report.invalid.map((r) => ({ index: at(r.index), messages: r.errors.map((e) => e.message) })),
        ...bad.map((b) => ({ index: b.index, messages: [b.error] })),
      ].sort((a, b) => a.index - b.index);
      // Messages quote the input (ids, names): escaped (terminal-text.ts).
      for (const r of invalid) process.stderr.write(`match ${r.index + 1}: invalid: ${printable(r.messages.join("; "))}\n`);
      // The task id: a publish whose confirm was lost may still be queued under it.
      for (const r of report.failed) process.stderr.write(`match ${at(r.index) + 1}${r.externalMatchId ? ` (${printable(r.externalMatchId)})` : ""}: failed: ${printable(r.error)} (task ${r.taskId})\n`);
      const stopped = interrupt.signal ? ` before ${interrupt.signal} stopped the reading; the rest of ${source} was not published` : inputError !== undefined ? `; the reading of ${source} stopped there` : "";
      process.stdout.write(`${report.submitted} submitted, ${invalid.length} invalid, ${report.failed.length} failed${stopped}\n`);
      if (inputError !== undefined && !interrupt.signal) {
        process.stderr.write(`matchflow: ${printable(errorMessage(inputError))}\n`);
        process.exitCode = report.failed.length > 0 ? EXIT.broker : exitCodeFor(inputError);
        return;
      }
      if (interrupt.signal) {
        // An open stdin (a pipe still writing) would keep the process alive after the summary.
        if (readsStdin(opts.file)) process.stdin.destroy();
        process.exitCode = interrupt.exitCode;
        return;
      }
      warnIfNoMatches(report.submitted + invalid.length + report.failed.length, opts.file);
      log.debug({ submitted: report.submitted, invalid: invalid.length, failed: report.failed.length, source }, "publish finished");
      process.exitCode = publishExitCode(invalid.length, report.failed.length);
    });
}
