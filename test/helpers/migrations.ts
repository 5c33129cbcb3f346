/**
 * The schema as it was before a migration: a directory holding only the migrations that came
 * before `name`, and the names a later `migrate` applies (`name` and every one after it).
 */
import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { MIGRATIONS_DIR } from "../../src/db/migrate.js";

export interface MigrationsBefore {
  dir: string;
  /** In the order `migrate` applies them. */
  pending: string[];
  remove(): Promise<void>;
}

export async function migrationsBefore(name: string): Promise<MigrationsBefore> {
  const all = (await readdir(MIGRATIONS_DIR)).filter((f) => f.endsWith(".sql")).sort();
  if (!all.includes(name)) throw new Error(`no migration ${name} in ${MIGRATIONS_DIR}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), "mf-migrations-"));
  for (const file of all.filter((f) => f < name)) await copyFile(path.join(MIGRATIONS_DIR, file), path.join(dir, file));
  return { dir, pending: all.filter((f) => f >= name), remove: () => rm(dir, { recursive: true, force: true }) };
}
