/**
 * How much text the scraper and the input readers take from one source before refusing it.
 * Memory is bounded by design elsewhere (large documents are streamed, one value at a time),
 * but a broken or hostile source can still send one endless value, line or page: held whole, it
 * exhausted the scrape's 64 MB heap and the process died with V8's out-of-memory trace (exit
 * 134) after minutes of quadratic re-scanning (a 200 MB string in one schedule event: 2 min 44 s).
 * Each limit is far above anything real, and going over it is a clear, permanent error.
 */

const MiB = 1024 * 1024;

/** One JSON value handed on alone: a schedule event (~750 characters), a match (its fields are bounded by the contract). */
export const MAX_VALUE_CHARS = 1 * MiB;

/**
 * A standings document, read whole and JSON.parse'd: ~1 MB for a full season. Its text and its
 * objects are all on the heap at once, beside the schedule being read: with the CronJob's node
 * flags (`--max-semi-space-size=2 --max-old-space-size=64`) and a 50,000-event schedule read at the
 * same time, 8 MiB of standings needed a 32 MiB old space (half the deployed one), 16 MiB needed
 * 56, and 28 MiB died with V8's "Reached heap limit" instead of this limit's clear error.
 */
export const MAX_STANDINGS_CHARS = 8 * MiB;

/**
 * A Modular11 page (HTML), read whole and parsed into a DOM by cheerio, which costs tens of times the
 * text: 25 rows are ~40 KB. 512 KiB of rows parsed in a 32 MiB old space; 1 MiB took all of 64.
 */
export const MAX_PAGE_CHARS = 512 * 1024;

/** A streamed feed body: a full season's schedule is ~37.5 MB; what the run keeps grows with it. */
export const MAX_STREAMED_FEED_CHARS = 256 * MiB;

/** Characters, in MiB, for messages. */
export const mib = (chars: number) => `${Math.round((chars / MiB) * 10) / 10} MiB`;

/** A source went over one of the limits; `what` says which part ("a value at events[12]", "the document"). */
export class TooLargeError extends Error {
  constructor(
    readonly part: string,
    readonly limitChars: number,
  ) {
    super(`${part} is over ${mib(limitChars)} of text`);
  }
}

/** The whole text of `chunks`, or TooLargeError once it passes `maxChars`. */
export async function readWholeText(chunks: AsyncIterable<string> | Iterable<string>, maxChars: number, part = "the document"): Promise<string> {
  let text = "";
  for await (const chunk of chunks) {
    text += chunk;
    if (text.length > maxChars) throw new TooLargeError(part, maxChars);
  }
  return text;
}
