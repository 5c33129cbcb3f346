/**
 * Files named by flags (`--file`, `--save`): opened and checked up front, and a filesystem
 * failure becomes a usage error (exit 2) naming the flag, the path and the problem, instead of
 * Node's raw "ENOENT: no such file or directory, open ..." as an internal error (exit 70).
 */
import { constants } from "node:fs";
import { access, open, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { PermanentError } from "../errors.js";

/** What the user can act on, by Node's error code. */
const REASONS: Record<string, string> = {
  ENOENT: "no such file",
  EISDIR: "is a directory, not a file",
  ENOTDIR: "a part of the path is not a directory",
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
  ENAMETOOLONG: "the path is too long",
  ELOOP: "too many symbolic links in the path",
};

/** `--file /x: no such file` for a filesystem error; anything else is returned as it is. */
export function fileProblem(flag: string, path: string, err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  const reason = typeof code === "string" ? REASONS[code] : undefined;
  if (reason === undefined) return err;
  return new PermanentError("usage", `${flag} ${path}: ${reason}`, { cause: err });
}

/** Rethrows each read error of `bytes` as `fileProblem` says. */
async function* mapped(bytes: AsyncIterable<Uint8Array>, flag: string, path: string): AsyncGenerator<Uint8Array> {
  try {
    yield* bytes;
  } catch (err) {
    throw fileProblem(flag, path, err);
  }
}

/**
 * The bytes of an input file, opened now: a missing file, a directory or a permission problem
 * fails here, before any connection is made. The file is closed when the bytes end (or the
 * reader stops).
 */
export async function openInputFile(flag: string, path: string): Promise<AsyncIterable<Uint8Array>> {
  // `--file "$F"` with F unset: reading stdin instead (as an absent flag does) would hide it.
  if (path.trim() === "") throw new PermanentError("usage", `${flag} was given an empty file name (leave ${flag} out to read stdin)`);
  let handle;
  try {
    handle = await open(path, "r");
    // open() succeeds on a directory (reading it fails later): refuse it now.
    if ((await handle.stat()).isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
  } catch (err) {
    await handle?.close();
    throw fileProblem(flag, path, err);
  }
  return mapped(handle.createReadStream() as AsyncIterable<Uint8Array>, flag, path);
}

/**
 * Checks that `path` can be written (created or replaced) without writing it: its directory
 * exists and is writable, and the path is not a directory or a read-only file. Run before
 * the work whose result goes there, so a typo does not cost a whole scrape.
 */
export async function checkWritable(flag: string, path: string): Promise<void> {
  const dir = dirname(path);
  try {
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    await access(dir, constants.W_OK);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === "ENOENT") throw new PermanentError("usage", `${flag} ${path}: directory ${dir} does not exist`, { cause: err });
    throw fileProblem(flag, path, err);
  }
  const existing = await stat(path).catch(() => undefined);
  if (existing === undefined) return;
  if (existing.isDirectory()) throw fileProblem(flag, path, Object.assign(new Error("is a directory"), { code: "EISDIR" }));
  await access(path, constants.W_OK).catch((err: unknown) => {
    throw fileProblem(flag, path, err);
  });
}
