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

/**
 * What PostgreSQL cannot store as text: NUL, and a lone UTF-16 surrogate (valid in JSON as
 * "\ud800", but not Unicode: it reaches the database as U+FFFD, so a name no longer matched
 * its own row and was refused as an unknown name "(name resolution is strict ...)" in create
 * mode; in other fields the whole write failed as db_data). A surrogate pair is one code point
 * to a `u` regex, so only an unpaired half matches `\p{Cs}`.
 */
const LONE_SURROGATE = /\p{Cs}/u;

/** False for text the database cannot hold as it is (NUL, an unpaired surrogate). */
export function isStorableText(text: string): boolean {
  return !NOT_PLAIN_ASCII.test(text) || (!text.includes("\u0000") && !LONE_SURROGATE.test(text));
}
