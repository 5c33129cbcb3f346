/**
 * Settings of the system matchflow replaces (the seed's ConfigMaps, docs/operations.md "Coming
 * from the seed") that matchflow does not read. The seed's worker wrote to Supabase over its
 * REST API (`SUPABASE_URL`, `SUPABASE_KEY`); matchflow writes to PostgreSQL directly, through
 * `DATABASE_URL`. A ConfigMap carried over unchanged would otherwise leave the database unset
 * without a word: `run`, `process` and `migrate` then write to an embedded PGlite directory.
 * Said as warnings when a command starts (cli/context.ts), never with the value (a key). Pure.
 */

const NOT_READ: Readonly<Record<string, string>> = {
  SUPABASE_URL: "matchflow writes to PostgreSQL directly: set DATABASE_URL to the project's postgres:// connection string (Supabase: Project Settings > Database)",
  SUPABASE_KEY: "matchflow writes to PostgreSQL directly: the password goes in DATABASE_URL (Supabase: the database password, not an API key)",
};

/** One warning per seed-only setting that is set (not blank). */
export function seedOnlySettings(env: Record<string, string | undefined>): string[] {
  const warnings: string[] = [];
  for (const [name, advice] of Object.entries(NOT_READ)) {
    const value = env[name];
    if (value === undefined || value.trim() === "") continue;
    const unset = env.DATABASE_URL === undefined || env.DATABASE_URL.trim() === "" ? " (DATABASE_URL is not set)" : "";
    warnings.push(`${name} is not read by matchflow and is ignored: ${advice}${unset}`);
  }
  return warnings;
}
