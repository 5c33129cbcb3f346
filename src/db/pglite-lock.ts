/**
 * One process at a time on a PGlite directory. PGlite is PostgreSQL compiled into the process,
 * with no server to arbitrate: two processes opening the same directory each believe they own
 * it, and writes are lost or the files corrupted (seen: two `run`s at once, and two workers on
 * `./.matchflow/db`). A lock file holding the owner's pid is created exclusively next to the data;
 * a file left by a process that no longer runs (a crash, a kill -9) is taken over.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { TransientError } from "../errors.js";

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

function tryCreate(file: string): boolean {
  try {
    writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** Lock files this process holds (its own pid in a file it does not hold is stale, see below). */
const held = new Set<string>();

/** Takes the directory's lock or throws `database_unreachable` naming the process that holds it. */
export function lockPgliteDir(dir: string): PgliteLock {
  const file = path.resolve(dir, PGLITE_LOCK_FILE);
  if (held.has(file)) throw new TransientError("database_unreachable", `database unreachable: the embedded database at ${dir} is already open in this process`);
  // Two tries: the second after removing a stale file. If another process removed it and won the
  // create in between, the second try fails and its pid is reported: exactly one process wins.
  for (let attempt = 0; attempt < 2; attempt++) {
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
    // Our own pid in the file is a previous life of this process slot (a container restarted
    // with the same volume runs as pid 1 again): stale too.
    if (owner !== undefined && owner !== process.pid && running(owner)) {
      throw new TransientError(
        "database_unreachable",
        `database unreachable: the embedded database at ${dir} is in use by process ${owner} (PGlite is single-process; stop it, or use PostgreSQL via DATABASE_URL for several processes)`,
      );
    }
    rmSync(file, { force: true });
  }
  throw new TransientError("database_unreachable", `database unreachable: could not lock the embedded database at ${dir} (${file} keeps reappearing: another process is starting on it)`);
}
