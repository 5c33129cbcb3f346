/**
 * A command's printed output (stdout) when its reader may go away early, as in
 * `matchflow scrape --format ndjson | head -1`. Node ignores SIGPIPE, so a closed pipe shows
 * up as an EPIPE 'error' event on the stream: unhandled, that is a crash with a stack trace.
 * Here it ends the output quietly, like standard Unix tools: later writes are dropped, and the
 * command decides what else to do (see `closed`).
 */
import type { Writable } from "node:stream";

export interface Output {
  /** Writes `text`, waiting for 'drain' when the stream's buffer is full; a no-op once closed. */
  write(text: string): Promise<void>;
  /**
   * Writes `text` without waiting for the reader: for text already whole in memory, where
   * waiting would only hold up the command's real work (publishing) behind a slow reader.
   */
  writeNow(text: string): void;
  /** True once the reader went away (EPIPE): nothing written since reaches anyone. */
  readonly closed: boolean;
}

/** The reader of a pipe or socket closed it: an end of the output, not a failure. */
const READER_GONE = new Set(["EPIPE", "ERR_STREAM_DESTROYED", "ECONNRESET"]);

export function readerGone(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && READER_GONE.has(code);
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
  let failure: Error | undefined;
  // Always listening: an EPIPE is reported asynchronously, after write() returned, and with no
  // listener it would be an uncaught exception. Another write error fails the next write.
  stream.on("error", (err: unknown) => {
    if (readerGone(err)) closed = true;
    else failure ??= err instanceof Error ? err : new Error(String(err));
  });
  // A function, not an inline check: after an `await`, TypeScript would keep `failure` narrowed.
  const throwIfFailed = () => {
    if (failure !== undefined) throw failure;
  };
  return {
    get closed() {
      return closed;
    },
    writeNow(text: string): void {
      if (!closed && failure === undefined && text !== "") stream.write(text);
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
 * For every command: a reader that went away ends the output quietly instead of crashing with a
 * stack trace (`matchflow contract schema | head -1`). `guardOutput` adds what a command that
 * streams its output needs (waiting for 'drain', knowing it is closed). Other write errors stay
 * fatal, as Node makes them, unless such a command handles them.
 */
export function quietWhenReaderGoes(stream: Writable): void {
  stream.on("error", (err: unknown) => {
    // Another listener (a command's `guardOutput`) reports other failures its own way.
    if (!readerGone(err) && stream.listenerCount("error") === 1) throw err;
  });
}
