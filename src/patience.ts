/**
 * Waiting for a service that is not there yet (the worker's start-up: RabbitMQ, PostgreSQL):
 * try, and after each failure report it and sleep before the next try, until it works or the
 * signal aborts. One loop for every such wait, so they stop alike on a signal. And waiting, for
 * a bounded time only, for work that may never end (a close nobody answers): `settledWithin`.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface PatienceOptions {
  /** Aborting ends the wait: the pending sleep rejects, or the failure in hand is thrown. */
  signal?: AbortSignal;
  /** The pause after failure number `failures` (1-based). */
  delayMs: (failures: number) => number;
  /** Told of each failure before the pause (to log it). */
  onFailure: (err: unknown, failures: number, retryInMs: number) => void;
  /** A failure waiting cannot cure ends the wait at once (thrown). @default every failure is waited out */
  isFinal?: (err: unknown) => boolean;
}

export async function untilItWorks<T>(attempt: () => Promise<T>, options: PatienceOptions): Promise<T> {
  for (let failures = 1; ; failures++) {
    options.signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (err) {
      if (options.signal?.aborted || options.isFinal?.(err)) throw err;
      const retryInMs = options.delayMs(failures);
      options.onFailure(err, failures, retryInMs);
      await sleep(retryInMs, undefined, { signal: options.signal });
    }
  }
}

/**
 * Waits until `work` settles (resolved or rejected alike), but at most `ms`; then calls
 * `onTimeout` and returns, leaving the work to go on unobserved.
 */
export async function settledWithin(work: Promise<unknown>, ms: number, onTimeout?: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), ms)));
  const result = await Promise.race([work.then(() => "settled" as const, () => "settled" as const), late]);
  clearTimeout(timer);
  if (result === "late") onTimeout?.();
}

/**
 * A wait a stop ends: `work`'s value (or its rejection), or undefined as soon as `signal` aborts.
 * The abort listener leaves as the race ends: `matchflow schedule` hands every run the one signal
 * of its life, and a listener left per run piled up (Node's MaxListenersExceededWarning by the
 * 11th run).
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T | undefined> {
  if (!signal) return work;
  if (signal.aborted) return Promise.resolve(undefined);
  let off: () => void = () => undefined;
  const aborted = new Promise<undefined>((resolve) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener("abort", onAbort, { once: true });
    off = () => signal.removeEventListener("abort", onAbort);
  });
  return Promise.race([work, aborted]).finally(() => off());
}
