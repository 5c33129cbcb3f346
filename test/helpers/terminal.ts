/**
 * Where text starts on a terminal line, counted independently of src/terminal-text.ts (a test
 * reference): East Asian wide and fullwidth characters and emoji take two cells, others one.
 */
const WIDE = /[\u2e80-\u9fff\uac00-\ud7a3\uff00-\uff60]|\p{Emoji_Presentation}/u;
const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Terminal cells before the first `needle` in `line` (-1 when absent). */
export function cellsBefore(line: string, needle: string): number {
  const at = line.indexOf(needle);
  if (at < 0) return -1;
  let cells = 0;
  for (const { segment } of graphemes.segment(line.slice(0, at))) cells += WIDE.test(segment) ? 2 : 1;
  return cells;
}
