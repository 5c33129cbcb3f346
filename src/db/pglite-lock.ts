/**
 * One process at a time on a PGlite directory. PGlite is PostgreSQL compiled into the process,
 * with no server to arbitrate: two processes opening the same directory each believe they own
 * it, and writes are lost or the files corrupted (seen: two `run`s at once, and two workers on
 * `./.matchflow/db`). A lock file holding the owner's pid is created exclusively next to the data;
 * a file left by a process that no longer runs (a crash, a kill -9) is taken over.
 * The takeover itself is serialised (see `takeOver`), so two processes never both win.
 */
import { existsSync, linkSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PermanentError } from "../errors.js";

export const PGLITE_LOCK_FILE = "matchflow.lock";

export interface PgliteLock {
  release(): void;
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function ownerOf(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Creates `file` holding our pid, or returns false when it exists. Written to a temporary file
 * first and linked into place (link fails when the name exists): the file never appears empty,
 * so another process never reads a half-written lock as a stale one.
 */
function tryCreate(file: string): boolean {
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${process.pid}\n`);
  try {
    linkSync(temporary, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  } finally {
    rmSync(temporary, { force: true });
  }
}

/** Lock files this process holds (its own pid in a file it does not hold is stale, see below). */
const held = new Set<string>();

function inUse(dir: string, owner: number): PermanentError {
  return new PermanentError(
    "database_in_use",
    `database unreachable: the embedded database at ${dir} is in use by process ${owner} (PGlite is single-process; stop it, or use PostgreSQL via DATABASE_URL for several processes)`,
  );
}

/** A holder that no longer runs. Our own pid in a file we do not hold is a previous life of this process slot (a container restarted with the same volume runs as pid 1 again). */
function stale(owner: number | undefined): boolean {
  return owner === undefined || owner === process.pid || !running(owner);
}

/**
 * Removes a stale lock file, serialised by a second exclusive file: without it, two processes
 * that both judged the same file stale could each remove it, and the slower one would remove the
 * faster one's fresh lock and both would hold the directory. Inside the takeover the lock is
 * judged again, so the slower one finds the faster one's live pid.
 */
function takeOver(dir: string, file: string): void {
  const takeover = `${file}.takeover`;
  if (!tryCreate(takeover)) {
    // Left by a process that died half way (rare): clear it for the next attempt. A missing one
    // was just released: nothing to clear (removing the name could remove the next holder's).
    const holder = ownerOf(takeover);
    if (holder !== undefined && stale(holder)) rmSync(takeover, { force: true });
    return;
  }
  try {
    // Gone already: another process took it over and is about to create its own. Removing the
    // name now could remove that new lock, so leave it to the next create.
    if (!existsSync(file)) return;
    const owner = ownerOf(file);
    if (!stale(owner)) throw inUse(dir, owner as number);
    // Safe: the file exists and holds a dead owner, and only a takeover (ours, exclusive) removes it.
    rmSync(file, { force: true });
  } finally {
    rmSync(takeover, { force: true });
  }
}

/** Takes the directory's lock or throws `database_in_use` naming the process that holds it. */
export function lockPgliteDir(dir: string): PgliteLock {
  const file = path.resolve(dir, PGLITE_LOCK_FILE);
  if (held.has(file)) throw new PermanentError("database_in_use", `database unreachable: the embedded database at ${dir} is already open in this process`);
  for (let attempt = 0; attempt < 5; attempt++) {
    if (tryCreate(file)) {
      held.add(file);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          held.delete(file);
          if (ownerOf(file) === process.pid) rmSync(file, { force: true });
        },
      };
    }
    const owner = ownerOf(file);
    if (!stale(owner)) throw inUse(dir, owner as number);
    takeOver(dir, file);
  }
  throw new PermanentError("database_in_use", `database unreachable: could not lock the embedded database at ${dir} (other processes keep starting on it)`);
}
