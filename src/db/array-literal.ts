/**
 * PostgreSQL array literals (`{"a","b",NULL}`, `{1,2,NULL}`) for statements that take a whole
 * column as one parameter (`unnest($1::text[])`). Sent as text and parsed by PostgreSQL's
 * `array_in` with the element type's input function, so PostgreSQL stays the judge of every
 * value (a non-integer in an `int[]` is its data error, as it would be anywhere else).
 *
 * Why not node-postgres's own array conversion: it is generic (every element is type-checked,
 * converted and escaped with two regular expressions), and on the worker's hot path this
 * costs a few microseconds a match more than these two typed loops (docs/performance-rounds.md).
 */

/** One text element, always quoted: inside quotes only `"` and `\` need a backslash. */
function quoted(s: string): string {
  // Most values have neither; looking first is a quarter of the cost of an idle replace.
  if (!s.includes('"') && !s.includes("\\")) return `"${s}"`;
  return `"${s.replace(/["\\]/g, "\\$&")}"`;
}

/** `values` as a `text[]` (or `date[]`, `timestamptz[]`: any type read from its text form). */
export function textArrayLiteral<T>(items: readonly T[], value: (item: T) => string | null): string {
  let out = "{";
  for (let i = 0; i < items.length; i++) {
    const v = value(items[i] as T);
    if (i > 0) out += ",";
    out += v === null ? "NULL" : quoted(v);
  }
  return `${out}}`;
}

/**
 * `values` as an `int[]`. A number's text (`String(n)`) has no character the literal's syntax
 * uses (digits, `.`, `e`, `+`, `-`, `NaN`, `Infinity`), so it goes unquoted; a non-integer
 * reaches PostgreSQL as written and is rejected there. Anything else that slipped past the
 * types is quoted like text, so no value can ever change the literal's shape.
 */
export function intArrayLiteral<T>(items: readonly T[], value: (item: T) => number | null): string {
  let out = "{";
  for (let i = 0; i < items.length; i++) {
    const v = value(items[i] as T);
    if (i > 0) out += ",";
    out += v === null ? "NULL" : typeof v === "number" ? String(v) : quoted(String(v));
  }
  return `${out}}`;
}
