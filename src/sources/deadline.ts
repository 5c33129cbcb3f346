/**
 * The time limits of one download (HTTP_TIMEOUT). A deadline for the whole download failed a
 * slow but steady body (a full season's 37.5 MB schedule over a slow link), which is not a stalled
 * one. So: the server must answer (connect, headers) within `idleMs`, and then never leave the
 * body silent for longer; the whole download may take up to `totalMs`, so a server trickling a
 * byte now and then still ends. Either limit aborts `signal`, which ends the request and its body.
 */
export interface Deadline {
  readonly signal: AbortSignal;
  /** Which limit ran out, for messages; undefined while none has. */
  readonly why: string | undefined;
  /** Data arrived: the silence counts from now. A function, not a method: handed on alone. */
  readonly progress: () => void;
  /** The download is over, either way: no timer is left behind. */
  clear(): void;
}

/** How many HTTP_TIMEOUTs a whole download may take. */
export const WHOLE_DOWNLOAD_TIMEOUTS = 10;

/** The longest wait Node's timers take (config.ts's MAX_DURATION_MS): a longer one fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

/**
 * `idleMs` between answers and body chunks; `totalMs` (default WHOLE_DOWNLOAD_TIMEOUTS x `idleMs`)
 * for the whole download. `stop` (the command's stop) aborts `signal` too, with no `why`; its
 * listener leaves at `clear()`. AbortSignal.any did this before, but Node 20 keeps an entry for
 * every signal it derived on the source for the source's life: one per download on the signal
 * `matchflow schedule` keeps for weeks.
 */
export function startDeadline(idleMs: number, totalMs = idleMs * WHOLE_DOWNLOAD_TIMEOUTS, stop?: AbortSignal): Deadline {
  const controller = new AbortController();
  const stopped = () => controller.abort(stop?.reason);
  if (stop?.aborted) stopped();
  else stop?.addEventListener("abort", stopped, { once: true });
  let why: string | undefined;
  const expire = (reason: string) => {
    why ??= reason;
    controller.abort();
  };
  // Unref'd, as AbortSignal.timeout's: a timer alone must not keep the process up.
  const idle = setTimeout(() => expire("timed out"), Math.min(idleMs, MAX_TIMER_MS)).unref();
  const total = setTimeout(() => expire(`timed out: still downloading after ${seconds(totalMs)}`), Math.min(totalMs, MAX_TIMER_MS)).unref();
  return {
    signal: controller.signal,
    get why() {
      return why;
    },
    progress: () => {
      // refresh() restarts the timer in place (nothing allocated per chunk); it would re-arm a fired one.
      if (why === undefined) idle.refresh();
    },
    clear() {
      clearTimeout(idle);
      clearTimeout(total);
      stop?.removeEventListener("abort", stopped);
    },
  };
}
