/**
 * A command's printed output (stdout) when its reader may go away early, as in
 * `matchflow scrape --format ndjson | head -1`. Node ignores SIGPIPE, so a closed pipe shows
 * up as an EPIPE 'error' event on the stream: unhandled, that is a crash with a stack trace.
 * Here it ends the output quietly, like standard Unix tools: later writes are dropped, and the
 * command decides what else to do (see `closed`).
 *
 * Any other write error (a full disk: `matchflow dlq list > /dev/full`, an I/O error) is no crash
 * either: the output is lost, which the command cannot mend, so it is remembered (`outputFailure`)
 * and `main` says it on one line, `matchflow: cannot write the output: ENOSPC ...`, exiting 74
 * (`EXIT.output`). A command that streams its output stops at its next `write` (`OutputError`);
 * one that prints once, at its end, has done its work by then (letters put back, matches
 * published), and that work is neither cut short nor lost.
 */
import type { Writable } from "node:stream";
import { errorMessage, PermanentError } from "../errors.js";

export interface Output {
  /**
   * Writes `text`, waiting for 'drain' when the stream's buffer is full; a no-op once closed.
   * Rejects with an OutputError once a write failed (other than the reader going away).
   */
  write(text: string): Promise<void>;
  /**
   * Writes `text` without waiting for the reader: for text already whole in memory, where
   * waiting would only hold up the command's real work (publishing) behind a slow reader.
   * Never throws: a failure is remembered for `main` (outputFailure).
   */
  writeNow(text: string): void;
  /** True once the reader went away (EPIPE): nothing written since reaches anyone. */
  readonly closed: boolean;
}

/** The output could not be written (not its reader going away): said on one line, exit 74. */
export class OutputError extends PermanentError {
  constructor(cause: unknown) {
    super("output_failed", `cannot write the output: ${errorMessage(cause)}`, { cause });
    this.name = "OutputError";
  }
}

/** The reader of a pipe or socket closed it: an end of the output, not a failure. */
const READER_GONE = new Set(["EPIPE", "ERR_STREAM_DESTROYED", "ECONNRESET"]);

export function readerGone(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && READER_GONE.has(code);
}

/** Each stream's first write error that is not its reader going away. */
const failures = new WeakMap<Writable, OutputError>();
/** The streams `quietWhenReaderGoes` watches: the process's own (not a test's stand-in). */
const watched = new WeakSet<Writable>();

/** Remembers `err` unless the reader went away; true when it was such a failure. */
function remember(stream: Writable, err: unknown): boolean {
  if (readerGone(err)) return false;
  if (!failures.has(stream)) failures.set(stream, err instanceof OutputError ? err : new OutputError(err));
  return true;
}

/** Until the buffer drained, or the stream failed or closed (the persistent listener says which). */
function drainedOrGone(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done).off("close", done).off("error", done);
      resolve();
    };
    stream.on("drain", done).on("close", done).on("error", done);
  });
}

export function guardOutput(stream: Writable): Output {
  let closed = false;
  // Always listening: an EPIPE is reported asynchronously, after write() returned, and with no
  // listener it would be an uncaught exception. Another write error fails the next write.
  stream.on("error", (err: unknown) => {
    if (!remember(stream, err)) closed = true;
  });
  const throwIfFailed = () => {
    const failure = failures.get(stream);
    if (failure !== undefined) throw failure;
  };
  return {
    get closed() {
      return closed;
    },
    writeNow(text: string): void {
      if (!closed && !failures.has(stream) && text !== "") stream.write(text);
    },
    async write(text: string): Promise<void> {
      throwIfFailed();
      if (closed || text === "") return;
      if (!stream.write(text) && !stream.destroyed) await drainedOrGone(stream);
      throwIfFailed();
    },
  };
}

/**
 * For every command (`main` calls it on stdout and stderr): a reader that went away ends the
 * output quietly instead of crashing with a stack trace (`matchflow contract schema | head -1`),
 * and another write error is remembered for `outputFailure` instead of crashing
 * (`matchflow config > /dev/full`). `guardOutput` adds what a command that streams its output
 * needs (waiting for 'drain', knowing it is closed, stopping at a failure).
 */
export function quietWhenReaderGoes(stream: Writable): void {
  watched.add(stream);
  stream.on("error", (err: unknown) => void remember(stream, err));
}

/**
 * The write error `stream` met, if any (not its reader going away), once what was written to it
 * so far is done: the error of a write comes after the write returned.
 */
export async function outputFailure(stream: Writable): Promise<OutputError | undefined> {
  if (watched.has(stream)) {
    // An empty write's callback comes after every earlier write's.
    if (!failures.has(stream) && !stream.destroyed && stream.writable) await new Promise<void>((resolve) => stream.write("", () => resolve()));
    // A failed write's 'error' event comes a tick after its callback.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return failures.get(stream);
}
