/**
 * `matchflow publish [--file F]`: submit matches (a JSON array or NDJSON, from a file or stdin)
 * to RabbitMQ as Celery tasks. Prints "N submitted, N invalid, N failed"; each invalid match's
 * errors go to stderr. Exit 1 when any match is invalid or failed, 4 when the broker is down.
 */
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { connectOptionsFrom, MatchQueueClient, type SubmitReport } from "../../broker/publisher.js";
import { ConfigError, PermanentError } from "../../errors.js";
import { cliContext } from "../context.js";
import { EXIT } from "../exit-codes.js";

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** A line that is not JSON becomes an invalid item (reported with its line number), not a crash. */
export type ParsedItem = { ok: true; value: unknown } | { ok: false; error: string };

/** JSON array (the whole text) or NDJSON (one match per non-blank line). */
export function parseMatchesText(text: string, source: string): ParsedItem[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  if (trimmed.startsWith("[")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new PermanentError("input_invalid", `${source} is not a valid JSON array: ${(err as Error).message}`);
    }
    return (parsed as unknown[]).map((value) => ({ ok: true, value }));
  }
  const items: ParsedItem[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      items.push({ ok: true, value: JSON.parse(line) });
    } catch (err) {
      items.push({ ok: false, error: `line ${i + 1} is not valid JSON (${(err as Error).message})` });
    }
  });
  return items;
}

export function registerPublish(program: Command): void {
  program
    .command("publish")
    .description("submit matches (JSON array or NDJSON, from --file or stdin) to RabbitMQ as Celery tasks")
    .option("-f, --file <path>", "read matches from this file instead of stdin")
    .action(async (opts: { file?: string }) => {
      const { config, log } = cliContext();
      if (!config.rabbitmqUrl) {
        throw new ConfigError("RABBITMQ_URL is not set: publish needs a RabbitMQ broker, e.g. RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672/");
      }
      const source = opts.file ?? "stdin";
      const text = opts.file ? await readFile(opts.file, "utf8") : await readStdin();
      const items = parseMatchesText(text, source);

      const client = await MatchQueueClient.connect(connectOptionsFrom(config, config.rabbitmqUrl, log));
      let report: SubmitReport;
      try {
        // Unparseable lines are invalid items; keep their positions so indexes match the input.
        const parsedIndexes: number[] = [];
        const values: unknown[] = [];
        items.forEach((item, index) => {
          if (!item.ok) return;
          parsedIndexes.push(index);
          values.push(item.value);
        });
        const inner = await client.submitMatches(values);
        const at = (i: number) => parsedIndexes[i] ?? i;
        report = {
          submitted: inner.submitted.map((s) => ({ ...s, index: at(s.index) })),
          invalid: inner.invalid.map((s) => ({ ...s, index: at(s.index) })),
          failed: inner.failed.map((s) => ({ ...s, index: at(s.index) })),
        };
        items.forEach((item, index) => {
          if (!item.ok) report.invalid.push({ index, errors: [{ field: "(message)", rule: "json", message: item.error }] });
        });
        report.invalid.sort((a, b) => a.index - b.index);
      } finally {
        await client.close();
      }

      for (const bad of report.invalid) process.stderr.write(`match ${bad.index + 1}: invalid: ${bad.errors.map((e) => e.message).join("; ")}\n`);
      for (const bad of report.failed) process.stderr.write(`match ${bad.index + 1}${bad.externalMatchId ? ` (${bad.externalMatchId})` : ""}: failed: ${bad.error}\n`);
      process.stdout.write(`${report.submitted.length} submitted, ${report.invalid.length} invalid, ${report.failed.length} failed\n`);
      log.debug({ submitted: report.submitted.length, invalid: report.invalid.length, failed: report.failed.length, source }, "publish finished");
      if (report.invalid.length > 0 || report.failed.length > 0) process.exitCode = EXIT.partial;
    });
}
