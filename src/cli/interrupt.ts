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

/** A repeat of the same signal within this is the first one delivered twice, not a second press. */
export const SIGNAL_ECHO_MS = 500;

/**
 * Tells a second signal (exit at once) from an echo of the first. Ctrl-C under `npm start` (or
 * `npm run`) reaches the process twice: from the terminal, to the whole process group, and again
 * from npm, which forwards it to its child. Counted as two, it made every Ctrl-C an "exit at once"
 * that printed nothing: the report, the counts, the clean close all lost. Pure but for the clock.
 */
export class SignalCount {
  private first: { signal: NodeJS.Signals; at: number } | undefined;
  private count = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** 1 for the first signal, 2 and up for each later one; an echo of the first counts as 1 again. */
  received(signal: NodeJS.Signals): number {
    const at = this.now();
    if (this.first === undefined) {
      this.first = { signal, at };
      this.count = 1;
    } else if (!(this.count === 1 && signal === this.first.signal && at - this.first.at < SIGNAL_ECHO_MS)) {
      this.count++;
    }
    return this.count;
  }
}

export class Interrupt {
  private received: NodeJS.Signals | undefined;
  private wake: () => void = () => undefined;
  /** Settles when a signal arrives: a read waiting on its input (stdin kept open) stops too. */
  private readonly arrived = new Promise<void>((resolve) => (this.wake = resolve));
  private readonly aborter = new AbortController();
  private readonly signals = new SignalCount();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    const count = this.signals.received(signal);
    if (count > 1) process.exit(exitCodeOf(signal));
    if (this.received !== undefined) return; // the first one, delivered again
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
