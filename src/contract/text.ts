/**
 * One spelling per name. Feeds write the same team with invisible differences: a no-break
 * space from HTML (`&nbsp;`), a zero-width space, decomposed accents ("e" + U+0301 against "é"),
 * fullwidth letters. The database's name key folds only case and ASCII spacing, so each variant
 * became a team of its own, splitting its history. Every text field of the contract is therefore
 * brought to Unicode NFKC (compatibility forms folded: no-break spaces become spaces, fullwidth
 * letters plain ones, accents composed), with zero-width characters removed, then trimmed. Pure.
 */

/** Format characters that render as nothing: zero-width space, (non-)joiners, word joiner, BOM. */
const ZERO_WIDTH = /[\u200b-\u200d\u2060\ufeff]/g;
/** Anything outside printable ASCII: only such text can change (the usual case costs one test). */
const NOT_PLAIN_ASCII = /[^\x20-\x7e]/;

export function canonicalText(text: string): string {
  if (!NOT_PLAIN_ASCII.test(text)) return text.trim();
  return text.normalize("NFKC").replace(ZERO_WIDTH, "").trim();
}
