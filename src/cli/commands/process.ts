/**
 * `matchflow process [--file F]`: run the task on matches (JSON array, NDJSON or scrape's `--save`
 * document, from a file or stdin) directly against the database, bypassing the queue. Migrates first. Prints one line
 * per match (`external id: created|updated|unchanged|invalid: <errors>`) and a summary;
 * exit 1 when any match was invalid or failed, 5 when the database is unreachable.
 */
import type { Command } from "commander";
import { createMatchStore } from "../../db/match-store.js";
import { migrate } from "../../db/migrate.js";
import { openDatabase } from "../../db/open.js";
import { formatOutcome, formatSummary, processMatches, ProcessStopped, summariseOutcomes } from "../../ops/process-matches.js";
import { cliContext } from "../context.js";
import { EXIT } from "../exit-codes.js";
import { inputName, openMatchInput, readMatchItems, warnIfNoMatches } from "../match-input.js";

export function registerProcess(program: Command): void {
  program
    .command("process")
    .description("run the task on matches (JSON array, NDJSON or scrape's --save document, --file or stdin) directly against the database (DATABASE_URL), bypassing the queue")
    .option("-f, --file <path>", "read matches from this file instead of stdin (- for stdin)")
    .action(async (opts: { file?: string }) => {
      const { config, log } = cliContext();
      // The whole input first: an input that turns out not to be JSON changes nothing.
      const inputs = await readMatchItems(await openMatchInput(opts.file), inputName(opts.file));

      const db = await openDatabase(config.databaseUrl, { log, poolSize: 2, timeouts: config.db });
      const store = createMatchStore(db, {
        nameResolution: config.worker.nameResolution,
        nameCacheTtlMs: config.worker.nameCacheTtlMs,
      });
      let outcomes;
      try {
        await migrate(db, { log });
        outcomes = await processMatches(store, inputs, { batchSize: config.worker.batchSize });
      } catch (err) {
        // Stopped by the database: what was stored before is printed as usual, then the reason (exit 5).
        if (err instanceof ProcessStopped) for (const o of err.outcomes) process.stdout.write(`${formatOutcome(o)}\n`);
        throw err;
      } finally {
        await store.close();
      }
      for (const o of outcomes) process.stdout.write(`${formatOutcome(o)}\n`);
      const summary = summariseOutcomes(outcomes);
      process.stdout.write(`${formatSummary(summary)}\n`);
      warnIfNoMatches(outcomes.length, opts.file);
      if (summary.invalid > 0 || summary.failed > 0) process.exitCode = EXIT.partial;
    });
}
