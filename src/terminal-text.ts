/**
 * Text from feeds and producers shown in a terminal: the tables of `dlq list`, `scrape` and
 * `run`. Pure.
 *
 * - Control characters are shown escaped, never written raw. A task id, team name or error
 *   message carrying ESC sequences would otherwise recolour, move the cursor in or retitle the
 *   operator's terminal (a producer needs only publish rights to put one in a dead letter), and
 *   a tab or newline would break the table. Bidirectional overrides are escaped too: they
 *   reorder what a reader sees.
 * - Columns are measured in terminal cells, not UTF-16 units: an emoji or an East Asian wide
 *   character takes two cells and is two units or one, a combining accent takes none. Padding
 *   by `.length` shifted every later column of the row.
 */

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]|\p{Cs}/gu;
const PLAIN = /^[\x20-\x7e]*$/;
/** Shown as an emoji (two cells): emoji presentation by default, or asked for with U+FE0F. */
const EMOJI = /\p{Emoji_Presentation}|\ufe0f/u;
/** East Asian wide and fullwidth blocks (Unicode's East_Asian_Width W and F, by block). */
const WIDE = /^[\u1100-\u115f\u231a\u231b\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6\u{16fe0}-\u{18aff}\u{1b000}-\u{1b2ff}\u{1f200}-\u{1f2ff}\u{20000}-\u{3fffd}]/u;
/** Takes no cell of its own: combining marks, zero-width spaces and joiners. */
const ZERO_WIDTH = /^[\p{M}\u200b-\u200d\u2060\ufeff]+$/u;

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

function escape(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`;
}

/** `text` with every control character, bidirectional override and lone surrogate written as an escape (`\x1b`, `\u202e`). */
export function printable(text: string): string {
  return PLAIN.test(text) ? text : text.replace(UNSAFE, escape);
}

function clusterWidth(cluster: string): number {
  if (EMOJI.test(cluster) || WIDE.test(cluster)) return 2;
  return ZERO_WIDTH.test(cluster) ? 0 : 1;
}

/** Terminal cells `text` takes (once printable). */
export function displayWidth(text: string): number {
  if (PLAIN.test(text)) return text.length;
  let width = 0;
  for (const { segment } of graphemes.segment(text)) width += clusterWidth(segment);
  return width;
}

/** `text` cut to at most `width` cells at a character boundary, `mark` (one cell) ending a cut text. */
export function truncateToWidth(text: string, width: number, mark = "…"): string {
  if (displayWidth(text) <= width) return text;
  let out = "";
  let used = 0;
  for (const { segment } of graphemes.segment(text)) {
    const w = clusterWidth(segment);
    if (used + w > width - 1) break;
    out += segment;
    used += w;
  }
  return `${out}${mark}`;
}

/** `text` followed by spaces up to `width` cells. */
export function padEndToWidth(text: string, width: number): string {
  return text + " ".repeat(Math.max(0, width - displayWidth(text)));
}

/** Spaces, then `text`, up to `width` cells. */
export function padStartToWidth(text: string, width: number): string {
  return " ".repeat(Math.max(0, width - displayWidth(text))) + text;
}

const JSON_RAW_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * JSON text (from `JSON.stringify`) with the characters `printable` escapes and JSON.stringify
 * leaves raw, C1 controls and bidirectional overrides, written as `\uXXXX`: the same JSON value,
 * byte for byte what a parser reads, but a dead letter's text can no longer send a terminal an
 * 8-bit CSI or reorder what `dlq show` displays. JSON.stringify already escapes C0 controls and
 * lone surrogates, and outside strings JSON holds only ASCII, so only string contents change.
 */
export function jsonForTerminal(json: string): string {
  return json.replace(JSON_RAW_UNSAFE, (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`);
}
