/**
 * Feed fetching for every source: Node's fetch with a timeout, retries with backoff for 5xx and
 * network errors, a per-run cache (each URL is downloaded once however many targets use it),
 * and `file://` URLs for recorded feeds. Failures are classified for the CLI's exit codes:
 * - `source_unreachable` (transient): the host did not answer, or answered 5xx, every attempt;
 * - `source_unreadable` (permanent, never retried): 4xx, or a body that is not what we asked for
 *   (an unknown assist key answers HTTP 200 with the app's HTML shell).
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PermanentError, TransientError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";

export interface FeedFetcher {
  /** The JSON document at `url`; `what` (a feed key) names it in errors. Cached per run. */
  json(url: string, what: string): Promise<unknown>;
  /** The text at `url` (an HTML fragment). Cached per run. */
  text(url: string, what: string): Promise<string>;
  /** `requests`: calls made; `downloads`: actual reads (cache misses), incl. retried attempts once. */
  readonly stats: { requests: number; downloads: number };
}

export interface FetcherOptions {
  /** Per attempt (HTTP_TIMEOUT). */
  timeoutMs: number;
  /** @default 3 */
  attempts?: number;
  /** First retry waits about this long (x0.5..1.5 jitter), doubling each time. @default 500 */
  baseDelayMs?: number;
  /** @default 5000 */
  maxDelayMs?: number;
  log?: Logger;
  /** Injected so tests of the policy need not wait. */
  sleep?: (ms: number) => Promise<void>;
}

/** `--source-dir DIR` -> a `file://` base URL. */
export function sourceDirUrl(dir: string): string {
  return pathToFileURL(resolve(dir)).href;
}

/** A failed attempt that may succeed later. */
class RetryableFailure extends Error {}

const defaultSleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/** `fetch failed` hides the reason in `cause.code` (ECONNREFUSED, ENOTFOUND, ...). */
function networkReason(err: unknown): string {
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return "timed out";
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === "string") return cause.code;
  if (cause && typeof cause.message === "string") return cause.message;
  return err instanceof Error ? err.message : String(err);
}

function preview(body: string): string {
  const oneLine = body.replace(/\s+/g, " ").trim();
  return oneLine.length > 60 ? `${oneLine.slice(0, 60)}...` : oneLine;
}

async function readRecorded(url: string, what: string): Promise<string> {
  const path = fileURLToPath(url);
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    const reason = code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? String(err)})`;
    throw new PermanentError("source_unreadable", `no recorded feed for ${what}: ${path} ${reason}`, { cause: err });
  }
}

export function createFeedFetcher(options: FetcherOptions): FeedFetcher {
  const attempts = options.attempts ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 5000;
  const log = options.log ?? silentLogger;
  const sleep = options.sleep ?? defaultSleep;
  const texts = new Map<string, Promise<string>>();
  const jsons = new Map<string, Promise<unknown>>();
  const stats = { requests: 0, downloads: 0 };

  async function attempt(url: string, what: string): Promise<string> {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(options.timeoutMs), headers: { accept: "application/json, text/html;q=0.9, */*;q=0.5" } });
    } catch (err) {
      throw new RetryableFailure(networkReason(err), { cause: err });
    }
    if (res.status >= 500 || res.status === 429) {
      await res.body?.cancel();
      throw new RetryableFailure(`HTTP ${res.status}`);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new PermanentError("source_unreadable", `${what}: ${url} answered HTTP ${res.status}`);
    }
    try {
      return await res.text();
    } catch (err) {
      throw new RetryableFailure(`body interrupted: ${networkReason(err)}`, { cause: err });
    }
  }

  async function download(url: string, what: string): Promise<string> {
    stats.downloads += 1;
    if (url.startsWith("file:")) return readRecorded(url, what);
    let last: RetryableFailure | undefined;
    for (let i = 0; i < attempts; i += 1) {
      if (i > 0) {
        const delay = Math.min(baseDelayMs * 2 ** (i - 1), maxDelayMs) * (0.5 + Math.random());
        log.warn({ feed: what, attempt: i + 1, of: attempts, reason: last?.message, delayMs: Math.round(delay) }, "feed download failed, retrying");
        await sleep(delay);
      }
      try {
        const body = await attempt(url, what);
        log.debug({ feed: what, bytes: body.length, attempt: i + 1 }, "feed downloaded");
        return body;
      } catch (err) {
        if (!(err instanceof RetryableFailure)) throw err;
        last = err;
      }
    }
    throw new TransientError(
      "source_unreachable",
      `cannot reach ${hostOf(url)} for ${what}: ${last?.message ?? "no answer"} (${attempts} attempts)`,
      { cause: last },
    );
  }

  function text(url: string, what: string): Promise<string> {
    stats.requests += 1;
    let pending = texts.get(url);
    if (!pending) {
      pending = download(url, what);
      texts.set(url, pending);
      // A failed download is not cached: a later call in the same run may try again.
      pending.catch(() => texts.delete(url));
    }
    return pending;
  }

  function json(url: string, what: string): Promise<unknown> {
    let pending = jsons.get(url);
    if (!pending) {
      pending = text(url, what).then((body) => {
        try {
          return JSON.parse(body) as unknown;
        } catch {
          throw new PermanentError(
            "source_unreadable",
            `${what}: ${url} did not answer JSON (it starts "${preview(body)}"); an unknown feed key answers the app's HTML page`,
          );
        }
      });
      jsons.set(url, pending);
      pending.catch(() => jsons.delete(url));
    } else {
      stats.requests += 1;
    }
    return pending;
  }

  return { json, text, stats };
}
