/**
 * Ctrl-C / SIGTERM for the commands that publish a sequence (`scrape`, `publish`, `dlq requeue`):
 * the first signal stops reading more, so that what is in flight is confirmed, counted and said
 * before the command exits 130 (SIGINT) or 143 (SIGTERM); a second exits at once. Before, the
 * default handler ended the process in silence, with thousands of matches already queued and no
 * count of them. Nothing is lost either way: a match is published or not, and the command may be
 * run again (the upsert is idempotent).
 */
import { constants } from "node:os";
import type { Logger } from "../log.js";

export class Interrupt {
  private received: NodeJS.Signals | undefined;
  private wake: () => void = () => undefined;
  /** Settles when a signal arrives: a read waiting on its input (stdin kept open) stops too. */
  private readonly arrived = new Promise<void>((resolve) => (this.wake = resolve));
  private readonly aborter = new AbortController();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    if (this.received !== undefined) process.exit(exitCodeOf(signal));
    this.received = signal;
    this.wake();
    this.aborter.abort();
    this.log.warn({ signal }, `stopping: ${this.what} in flight are confirmed first (send again to exit at once)`);
  };

  constructor(
    private readonly what: string,
    private readonly log: Logger,
  ) {
    process.on("SIGINT", this.onSignal);
    process.on("SIGTERM", this.onSignal);
  }

  /** The signal that stopped the reading, if one did. */
  get signal(): NodeJS.Signals | undefined {
    return this.received;
  }

  /** Aborted by the first signal: for work that is not a sequence read through `take`. */
  get abortSignal(): AbortSignal {
    return this.aborter.signal;
  }

  /** The shell's code for the signal received (128 + its number), if one was. */
  get exitCode(): number | undefined {
    return this.received === undefined ? undefined : exitCodeOf(this.received);
  }

  /** `items` until a signal arrives (a sync sequence stays sync: the publisher's fast path). */
  take<T>(items: Iterable<T>): Iterable<T>;
  take<T>(items: AsyncIterable<T>): AsyncIterable<T>;
  take<T>(items: Iterable<T> | AsyncIterable<T>): Iterable<T> | AsyncIterable<T> {
    const stopped = () => this.received !== undefined;
    if (Symbol.iterator in items) {
      return (function* () {
        for (const item of items) {
          if (stopped()) return;
          yield item;
        }
      })();
    }
    const arrived = this.arrived.then(() => ({ done: true as const, value: undefined }));
    return (async function* () {
      const it = items[Symbol.asyncIterator]();
      for (;;) {
        const pending = it.next();
        const next = await Promise.race([pending, arrived]);
        if (stopped()) {
          // Not awaited: a source blocked on its input would hold the stop until it reads again
          // (and its read, left behind, may yet fail: that is no unhandled rejection).
          pending.catch(() => undefined);
          void it.return?.()?.catch(() => undefined);
          return;
        }
        if (next.done) return;
        yield next.value;
      }
    })();
  }

  dispose(): void {
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
  }
}

function exitCodeOf(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
