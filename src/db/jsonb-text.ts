/**
 * JSON text that PostgreSQL's jsonb takes. jsonb refuses the escape `\u0000` (text cannot hold
 * NUL) and an unpaired surrogate escape (`JSON.stringify` writes a lone UTF-16 surrogate as one),
 * so a field outside the contract holding either, kept in `matches.raw`, failed its whole match
 * (db_data: dead-lettered) though the match itself was valid. Such an escape is kept as the six
 * characters it was written with (`"\u0000"` becomes the string `\u0000`), as ingest_failures does.
 */

/** The escape, after an even number of backslashes (an odd one would make it an escaped `\` followed by text). */
const UNSTORABLE_ESCAPE = /(?<!\\)((?:\\\\)*)\\u(0000|d[89a-f][0-9a-f]{2})/gi;
/** The same, without `g`: `test` keeps no state between calls. */
const FIRST_UNSTORABLE_ESCAPE = new RegExp(UNSTORABLE_ESCAPE.source, "i");

/** Would jsonb refuse this JSON text (a `\u0000` or lone-surrogate escape in it)? */
export function hasUnstorableEscape(json: string): boolean {
  return json.includes("\\u") && FIRST_UNSTORABLE_ESCAPE.test(json);
}

export function jsonbText(json: string): string {
  // Almost every payload has no escape at all: one scan, no regular expression.
  return json.includes("\\u") ? json.replace(UNSTORABLE_ESCAPE, "$1\\\\u$2") : json;
}
