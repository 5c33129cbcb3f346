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

/** A document read whole: a standings feed (~1 MB for a full season), a Modular11 page (~4 KB). */
export const MAX_WHOLE_DOCUMENT_CHARS = 32 * MiB;

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
