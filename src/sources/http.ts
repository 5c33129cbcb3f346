/**
 * Feed fetching for every source: HTTP GETs (http-get.ts) with time limits (deadline.ts), retries
 * with backoff for 5xx and network errors, a per-run cache (each URL is downloaded once however
 * many targets use it), and `file://` URLs for recorded feeds. Bodies are streamed: a
 * `FeedReader` consumes the text as it arrives and returns the compact form the run keeps (for
 * the 37.5 MB schedule of a full season, the events it needs, never the document). Failures are
 * classified for the CLI's exit codes:
 * - `source_unreachable` (transient): the host did not answer, or answered 5xx, 408 or 429, every
 *   attempt (a body interrupted or cut off mid-way, or silent past the timeout, counts as a
 *   failed attempt);
 * - `source_unreadable` (permanent, never retried): any other 4xx, a redirect to anything but
 *   http(s), a body its content-encoding cannot decode (corrupt gzip), or a body that is not what
 *   we asked for (an unknown assist key answers HTTP 200 with the app's HTML shell).
 */
import { open } from "node:fs/promises";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { TextDecoder } from "node:util";
import { redactUrl } from "../redact-url.js";
import { PermanentError, TransientError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import { raceAbort } from "../patience.js";
import { startDeadline, type Deadline } from "./deadline.js";
import { httpGet, isCorruptEncoding, RedirectRefused, type HttpAnswer } from "./http-get.js";
import { NotJsonError, TruncatedJsonError } from "./json-stream.js";
import { MAX_PAGE_CHARS, MAX_STREAMED_FEED_CHARS, readWholeText, TooLargeError } from "./limits.js";

/**
 * Reads one feed body, as text chunks in order, into what the run keeps of it (a compact parsed
 * form, never the text of a large document). Throws NotJsonError when the body is not JSON, and
 * TruncatedJsonError when it stops mid-document (downloaded again).
 * The function is the cache key: pass the same (module-level) function to share a download.
 */
export type FeedReader<T> = (chunks: AsyncIterable<string>, what: string) => Promise<T>;

export interface FeedFetcher {
  /**
   * The feed at `url`, read by `reader` while it downloads; `what` (a feed key) names it in
   * errors. Cached per run and reader: one download per feed however many targets use it.
   */
  read<T>(url: string, what: string, reader: FeedReader<T>): Promise<T>;
  /** The text at `url` (an HTML fragment). Cached per run. */
  text(url: string, what: string): Promise<string>;
  /** `requests`: calls made; `downloads`: actual reads (cache misses), incl. retried attempts once. */
  readonly stats: { requests: number; downloads: number };
}

export interface FetcherOptions {
  /**
   * HTTP_TIMEOUT, per attempt: for the answer (connect, headers), then for each silence in the
   * body; the whole download may take WHOLE_DOWNLOAD_TIMEOUTS (10) times this (deadline.ts).
   */
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
  /** A body longer than this is refused (source_unreadable). @default MAX_STREAMED_FEED_CHARS */
  maxFeedChars?: number;
  /**
   * The command was stopped (Ctrl-C, SIGTERM): a download under way ends at once and none is
   * tried again (DownloadStopped). Without it a scrape stopped while a feed was downloading
   * waited out HTTP_TIMEOUT and the retries, then ended without a word.
   */
  stop?: AbortSignal;
}

/** A download ended because the command was stopped (FetcherOptions.stop), not for the source's sake. */
export class DownloadStopped extends TransientError {
  constructor(what: string) {
    super("interrupted", `stopped while downloading ${what}`);
  }
}

/** `--source-dir DIR` -> a `file://` base URL. */
export function sourceDirUrl(dir: string): string {
  return pathToFileURL(resolve(dir)).href;
}

/** A failed attempt that may succeed later. */
class RetryableFailure extends Error {
  /** How long the server asked us to wait (`Retry-After`), if it did. */
  retryAfterMs?: number;
}

/** The longest `Retry-After` honoured: a feed that asks for more is given up on (source_unreachable) after its attempts. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** `Retry-After` (seconds, or an HTTP date) in milliseconds from `now`, capped; undefined when absent or unreadable. Pure. */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  const text = value?.trim();
  if (!text) return undefined;
  // Delay-seconds, or an HTTP date (which names a weekday and a month: no bare number parses as one).
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : /[a-z]/i.test(text) ? Date.parse(text) - now : NaN;
  return Number.isFinite(ms) ? Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS) : undefined;
}

const defaultSleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/** Why a request or a body failed, in one word where the system gives one (ECONNREFUSED, ENOTFOUND, ...). */
function networkReason(err: unknown, deadline: Deadline): string {
  if (deadline.why !== undefined) return deadline.why;
  if (err instanceof Error && (err.name === "TimeoutError" || err.name === "AbortError")) return "timed out";
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === "string") return code;
  return err instanceof Error ? err.message : String(err);
}

function preview(body: string): string {
  const oneLine = body.replace(/\s+/g, " ").trim();
  return oneLine.length > 60 ? `${oneLine.slice(0, 60)}...` : oneLine;
}

/** The body's start, kept for the "did not answer JSON" message (enough for its 60-character preview). */
const HEAD_CHARS = 4096;

/**
 * Statuses worth asking again: the server's trouble (5xx), a rate limit (429), a request the
 * server gave up waiting for (408); any other non-2xx answers the same every time.
 */
const retried = (status: number) => status >= 500 || status === 429 || status === 408;

/** Decoded body bytes as they come, each chunk noted (the deadline's silence starts again). */
async function* noting(bytes: AsyncIterable<Uint8Array>, progress: () => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of bytes) {
    progress();
    yield chunk;
  }
}

/** What a download has seen of its body so far. */
interface BodySeen {
  head: string;
  chars: number;
}

/**
 * UTF-8 bytes as text chunks, a character split between two chunks decoded whole. `keepBom`
 * decodes as the old whole-body reads did: `readFile(.., "utf8")` kept a BOM (recorded feeds),
 * `res.text()` drops it (HTTP).
 */
export async function* decodeUtf8(bytes: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: { keepBom: boolean; fatal?: boolean }): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: options.keepBom, fatal: options.fatal ?? false });
  for await (const chunk of bytes) {
    const text = decoder.decode(chunk, { stream: true });
    if (text) yield text;
  }
  const rest = decoder.decode();
  if (rest) yield rest;
}

/**
 * A body's text as the reader gets it: the download notes what it has seen (for its messages),
 * and a failure while reading becomes `failed(err)`. When the reader stops early (an error),
 * leaving the loops cancels the underlying stream.
 */
async function* observed(chunks: AsyncIterable<string>, failed: (err: unknown) => Error, seen: BodySeen, maxChars: number): AsyncGenerator<string> {
  try {
    for await (const text of chunks) {
      if (seen.head.length < HEAD_CHARS) seen.head += text.slice(0, HEAD_CHARS - seen.head.length);
      seen.chars += text.length;
      // However the reader keeps it, a body this long is not a feed (sources/limits.ts).
      if (seen.chars > maxChars) throw new TooLargeError("the document", maxChars);
      yield text;
    }
  } catch (err) {
    throw err instanceof TooLargeError ? err : failed(err);
  }
}

/**
 * Read size for recorded feeds: text chunks stay under V8's large-object size (128 KB), so each
 * dies young instead of waiting in the large-object space for a full collection.
 */
const FILE_CHUNK_BYTES = 64 * 1024;

async function openRecorded(url: string, what: string, seen: BodySeen, maxChars: number): Promise<AsyncIterable<string>> {
  const path = fileURLToPath(url);
  const unreadable = (err: unknown) => {
    const code = (err as { code?: string }).code;
    const reason = code === "ENOENT" ? "does not exist" : `cannot be read (${code ?? String(err)})`;
    return new PermanentError("source_unreadable", `no recorded feed for ${what}: ${path} ${reason}`, { cause: err });
  };
  try {
    const handle = await open(path, "r");
    // The stream closes the file when it ends or is destroyed (the reader stopped early).
    const stream = handle.createReadStream({ highWaterMark: FILE_CHUNK_BYTES }) as AsyncIterable<Uint8Array>;
    return observed(decodeUtf8(stream, { keepBom: true }), unreadable, seen, maxChars);
  } catch (err) {
    throw unreadable(err);
  }
}

/**
 * A recorded feed that is not JSON: empty, or truncated or corrupt (the HTTP message's hint
 * about the app's HTML page makes no sense for a file).
 */
function recordedNotJson(url: string, what: string, seen: BodySeen, err: NotJsonError): PermanentError {
  const path = fileURLToPath(url);
  const problem = seen.head.trim() === "" ? "is empty" : `is not valid JSON (${err.message}; it starts "${preview(seen.head)}")`;
  return new PermanentError("source_unreadable", `${what}: ${path} ${problem}: record the feed again`, { cause: err });
}

/** Collects the whole text (Modular11 pages: small). */
const wholeText: FeedReader<string> = (chunks) => readWholeText(chunks, MAX_PAGE_CHARS);

/** A source over a limit of sources/limits.ts: permanent (downloading it again gives the same). */
function tooLarge(what: string, where: string | undefined, err: TooLargeError): PermanentError {
  return new PermanentError("source_unreadable", `${what}: ${where ?? "?"}: ${err.message}, far more than any feed this scraper reads: a broken or foreign source`, { cause: err });
}

export function createFeedFetcher(options: FetcherOptions): FeedFetcher {
  const attempts = options.attempts ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 5000;
  const log = options.log ?? silentLogger;
  const sleep = options.sleep ?? defaultSleep;
  const maxFeedChars = options.maxFeedChars ?? MAX_STREAMED_FEED_CHARS;
  const cache = new Map<FeedReader<unknown>, Map<string, Promise<unknown>>>();
  const stats = { requests: 0, downloads: 0 };

  async function attempt<T>(url: string, what: string, reader: FeedReader<T>, seen: BodySeen): Promise<T> {
    // A silent server or body fails like a dropped connection, and is retried.
    // A stop ends the request too (the deadline's signal aborts with it).
    const deadline = startDeadline(options.timeoutMs, undefined, options.stop);
    try {
      let res: HttpAnswer;
      try {
        res = await httpGet(url, { accept: "application/json, text/html;q=0.9, */*;q=0.5" }, deadline.signal);
      } catch (err) {
        if (err instanceof RedirectRefused) throw new PermanentError("source_unreadable", `${what}: ${redactUrl(url)} redirected to ${redactUrl(err.location)}: ${err.why}`, { cause: err });
        throw new RetryableFailure(networkReason(err, deadline), { cause: err });
      }
      if (retried(res.status)) {
        res.discard();
        const failure = new RetryableFailure(`HTTP ${res.status}`);
        const asked = retryAfterMs(res.retryAfter, Date.now());
        if (asked !== undefined) failure.retryAfterMs = asked;
        throw failure;
      }
      if (res.status < 200 || res.status > 299) {
        res.discard();
        throw new PermanentError("source_unreadable", `${what}: ${redactUrl(url)} answered HTTP ${res.status}`);
      }
      const failed = (err: unknown) =>
        isCorruptEncoding(err)
          ? new PermanentError("source_unreadable", `${what}: ${redactUrl(url)} sent a body that its content-encoding cannot decode (${networkReason(err, deadline)}): a broken server or proxy, which sends the same bytes again`, { cause: err })
          : new RetryableFailure(`body interrupted: ${networkReason(err, deadline)}`, { cause: err });
      return await reader(observed(decodeUtf8(noting(res.body, deadline.progress), { keepBom: false }), failed, seen, maxFeedChars), what);
    } finally {
      deadline.clear();
    }
  }

  /** One read of `url` through `reader`: retried on network errors, 5xx and interrupted bodies. */
  async function download<T>(url: string, what: string, reader: FeedReader<T>): Promise<T> {
    stats.downloads += 1;
    let seen: BodySeen = { head: "", chars: 0 };
    const notJson = (err: unknown) =>
      err instanceof TooLargeError
        ? tooLarge(what, redactUrl(url), err)
        : err instanceof NotJsonError
        ? new PermanentError(
            "source_unreadable",
            `${what}: ${redactUrl(url)} did not answer JSON (it starts "${preview(seen.head)}"); an unknown feed key answers the app's HTML page`,
            { cause: err },
          )
        : err;
    if (url.startsWith("file:")) {
      try {
        return await reader(await openRecorded(url, what, seen, maxFeedChars), what);
      } catch (err) {
        if (err instanceof TooLargeError) throw tooLarge(what, fileURLToPath(url), err);
        throw err instanceof NotJsonError ? recordedNotJson(url, what, seen, err) : err;
      }
    }
    let last: RetryableFailure | undefined;
    for (let i = 0; i < attempts; i += 1) {
      if (i > 0) {
        // A rate limit's Retry-After is honoured (up to MAX_RETRY_AFTER_MS): coming back sooner only meets it again.
        const delay = Math.max(Math.min(baseDelayMs * 2 ** (i - 1), maxDelayMs) * (0.5 + Math.random()), last?.retryAfterMs ?? 0);
        log.warn({ feed: what, attempt: i + 1, of: attempts, reason: last?.message, delayMs: Math.round(delay) }, "feed download failed, retrying");
        // A stop ends the pause (the fetcher lives for one run; the stop signal for the schedule's life).
        await raceAbort(sleep(delay), options.stop);
      }
      if (options.stop?.aborted) throw new DownloadStopped(what);
      seen = { head: "", chars: 0 };
      try {
        const value = await attempt(url, what, reader, seen);
        log.debug({ feed: what, chars: seen.chars, attempt: i + 1 }, "feed downloaded");
        return value;
      } catch (err) {
        if (options.stop?.aborted) throw new DownloadStopped(what);
        // A JSON body that stops mid-document came through a connection closed early (nothing
        // else ends a body without a length): downloaded again, as an interrupted one is.
        if (err instanceof TruncatedJsonError) {
          last = new RetryableFailure(`body ended mid-document after ${seen.chars} characters`, { cause: err });
          continue;
        }
        if (!(err instanceof RetryableFailure)) throw notJson(err);
        last = err;
      }
    }
    throw new TransientError(
      "source_unreachable",
      `cannot reach ${hostOf(url)} for ${what}: ${last?.message ?? "no answer"} (${attempts} attempts)`,
      { cause: last },
    );
  }

  function read<T>(url: string, what: string, reader: FeedReader<T>): Promise<T> {
    stats.requests += 1;
    let byUrl = cache.get(reader);
    if (!byUrl) cache.set(reader, (byUrl = new Map<string, Promise<unknown>>()));
    let pending = byUrl.get(url) as Promise<T> | undefined;
    if (!pending) {
      const entries = byUrl;
      pending = download(url, what, reader);
      entries.set(url, pending);
      // A failed download is not cached: a later call in the same run may try again.
      pending.catch(() => entries.delete(url));
    }
    return pending;
  }

  return { read, text: (url, what) => read(url, what, wholeText), stats };
}
