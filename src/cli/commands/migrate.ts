import type { Command } from "commander";
import { redactUrl } from "../../redact-url.js";
import { migrate } from "../../db/migrate.js";
import { openDatabase } from "../../db/open.js";
import { cliContext } from "../context.js";

export function registerMigrate(program: Command): void {
  program
    .command("migrate")
    .description("create or update the database schema (DATABASE_URL; unset: embedded PGlite in ./.matchflow/db); safe to run repeatedly and concurrently")
    .action(async () => {
      const { config, log } = cliContext();
      const db = await openDatabase(config.databaseUrl, { log, poolSize: 1 });
      try {
        const { applied } = await migrate(db, { log });
        // Which database: without DATABASE_URL a success said nothing of writing to ./.matchflow/db.
        const where = config.databaseUrl ? redactUrl(config.databaseUrl) : "embedded PGlite in ./.matchflow/db (DATABASE_URL is not set)";
        process.stdout.write(applied.length === 0 ? `schema up to date in ${where}\n` : `applied ${applied.length} migration${applied.length === 1 ? "" : "s"} to ${where}: ${applied.join(", ")}\n`);
      } finally {
        await db.close();
      }
    });
}
