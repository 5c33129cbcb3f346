/**
 * How Python renders JSON-shaped values, byte for byte, so that messages we build are identical
 * to Celery's: `json.dumps` with its defaults (kombu's serializer) and Celery's `saferepr`
 * (the `argsrepr`/`kwargsrepr` headers). Pure functions, no I/O.
 *
 * Values are what `JSON.parse` produces (plus anything with `toJSON`, e.g. Date). An
 * integer-valued JS number renders as a Python int, because that is what Python reads from JSON.
 */

/** Python's `repr(float)` / `str(float)`: shortest round-trip digits, Python exponent rules. */
export function pythonNumber(n: number): string {
  if (!Number.isFinite(n)) return n > 0 ? "Infinity" : n < 0 ? "-Infinity" : "NaN";
  if (Number.isInteger(n)) {
    // Above 2^53 JS prints exponents; Python prints every digit of the int it parsed.
    return Math.abs(n) < 1e21 ? String(n) : BigInt(n).toString();
  }
  const abs = Math.abs(n);
  // Python switches to scientific notation below 1e-4 or from 1e16; JS at 1e-7 and 1e21.
  if (abs >= 1e-4 && abs < 1e16) return String(n);
  const [mantissa = "", exponent = "0"] = n.toExponential().split("e");
  const exp = Number(exponent);
  const sign = exp < 0 ? "-" : "+";
  return `${mantissa}e${sign}${String(Math.abs(exp)).padStart(2, "0")}`;
}

/**
 * A JSON number kept as the text it came in (json-number.ts reads a forwarded canvas so):
 * `pythonJsonDumps` and `celerySaferepr` write the text back as it was.
 */
export class JsonNumberText {
  constructor(readonly text: string) {}

  /** The nearest JS number: for reading a value (seconds, a priority) and for display. */
  valueOf(): number {
    return Number(this.text);
  }

  toJSON(): number {
    return Number(this.text);
  }
}

function toJsonShape(value: unknown): unknown {
  if (value !== null && typeof value === "object" && !(value instanceof JsonNumberText) && typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return (value as { toJSON(): unknown }).toJSON();
  }
  return value;
}

const JSON_ESCAPES: Record<string, string> = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" };

/** Printable ASCII except `"` and `\`: written as it is. */
const PLAIN_ASCII = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A JSON string literal as Python writes it with `ensure_ascii=True`: only printable ASCII raw. */
export function pythonJsonString(s: string): string {
  // Hot path (every key and text value of every message): most strings need no escaping.
  if (PLAIN_ASCII.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] as string;
    const code = s.charCodeAt(i);
    const escaped = JSON_ESCAPES[ch];
    if (escaped !== undefined) out += escaped;
    else if (code >= 0x20 && code <= 0x7e) out += ch;
    // UTF-16 code units are exactly what Python emits (astral characters as surrogate pairs).
    else out += `\\u${code.toString(16).padStart(4, "0")}`;
  }
  return `${out}"`;
}

/**
 * `"key": ` for the keys seen so far. Every message body renders the same few dozen keys, and
 * building each from parts was about a third of `json.dumps`'s garbage (a scrape's young generation is
 * 2 MB, so garbage is collector time). Bounded, for inputs with ever-new keys.
 */
const KEY_PREFIXES = new Map<string, string>();
const KEY_PREFIXES_MAX = 512;

function keyPrefix(key: string): string {
  let prefix = KEY_PREFIXES.get(key);
  if (prefix === undefined) {
    prefix = `${pythonJsonString(key)}: `;
    if (KEY_PREFIXES.size < KEY_PREFIXES_MAX) KEY_PREFIXES.set(key, prefix);
  }
  return prefix;
}

/** `json.dumps(value)` with Python's defaults: separators `", "` and `": "`, ASCII only. */
export function pythonJsonDumps(value: unknown): string {
  const v = toJsonShape(value);
  if (v === null || v === undefined) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      // JSON has no NaN/Infinity; JSON.stringify writes null, and so do we (Python would not parse its own NaN elsewhere).
      return Number.isFinite(v) ? pythonNumber(v) : "null";
    case "string":
      return pythonJsonString(v);
    case "bigint":
      return v.toString();
    case "object": {
      if (v instanceof JsonNumberText) return v.text;
      // One pass of appends, no entries/map/join arrays: this renders every message the
      // publisher sends, and those arrays were a third of a scrape's garbage.
      if (Array.isArray(v)) {
        let out = "[";
        for (let i = 0; i < v.length; i++) out += (i === 0 ? "" : ", ") + pythonJsonDumps(v[i]);
        return `${out}]`;
      }
      const record = v as Record<string, unknown>;
      let out = "{";
      let first = true;
      for (const key in record) {
        const item = record[key];
        if (!Object.hasOwn(record, key) || item === undefined || typeof item === "function") continue;
        out += first ? keyPrefix(key) : `, ${keyPrefix(key)}`;
        out += pythonJsonDumps(item);
        first = false;
      }
      return `${out}}`;
    }
    default:
      return "null";
  }
}

// ---------------------------------------------------------------------------------------------
// Celery's saferepr (celery/utils/saferepr.py, 5.2): a streaming, truncating repr. Its truncation
// is not a plain cut: every token (bracket, separator, key, value) is truncated against the
// remaining budget; the token that finds the budget spent is dropped and ", ..." written instead;
// then only the closing brackets of the containers already open follow. Ported as a recursive
// walk over the same token order (a generator per container cost more than the rest of encoding).

function scalarText(v: unknown): string | undefined {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return pythonNumber(v);
  if (typeof v === "bigint") return v.toString();
  if (v instanceof JsonNumberText) return v.text;
  return undefined;
}

const HIGH_SURROGATE = /[\uD800-\uDBFF]/;

/** Python `len` counts code points, not UTF-16 units. */
function pythonLength(s: string): number {
  return HIGH_SURROGATE.test(s) ? Array.from(s).length : s.length;
}

/** celery.utils.text.truncate: cut at maxlen, back to the last space, append "...". */
function truncate(s: string, maxLen: number): string {
  if (!maxLen || s.length < maxLen) return s;
  const chars = Array.from(s);
  if (chars.length < maxLen) return s;
  const cut = chars.slice(0, maxLen).join("");
  const space = cut.lastIndexOf(" ");
  return `${space >= 0 ? cut.slice(0, space) : cut}...`;
}

interface Cut {
  out: string;
  budget: number;
  /** The budget ran out: from here on only closing brackets are written. */
  spent: boolean;
}

/** May the next token be written? When the budget is gone: writes ", ...", and the token is dropped. */
function room(cut: Cut): boolean {
  if (cut.spent) return false;
  if (cut.budget > 0) return true;
  cut.out += ", ...";
  cut.spent = true;
  return false;
}

/** Writes a token. `ascii`: brackets, separators and numbers, whose length needs no counting. */
function put(cut: Cut, text: string, ascii = false): void {
  cut.out += text;
  cut.budget -= ascii ? text.length : pythonLength(text);
}

/** A key is rendered by a saferepr of its own, against what is left of the budget. */
function keyText(key: string, budget: number): string {
  const plain = quotedRepr(key);
  return plain.length < budget ? plain : quotedRepr(truncate(key, budget));
}

function cutRepr(value: unknown, level: number, maxLevels: number, cut: Cut): void {
  // Once spent, Celery skips values and containers not yet opened.
  if (cut.spent) return;
  const v = toJsonShape(value);
  if (typeof v === "string") {
    if (room(cut)) put(cut, quotedRepr(truncate(v, cut.budget)));
    return;
  }
  const scalar = scalarText(v);
  if (scalar !== undefined || typeof v !== "object" || v === null) {
    if (room(cut)) put(cut, truncate(scalar ?? String(v), cut.budget), scalar !== undefined);
    return;
  }
  const isList = Array.isArray(v);
  if (maxLevels && level >= maxLevels) {
    if (room(cut)) put(cut, truncate(isList ? "[...]" : "{...}", cut.budget), true);
    return;
  }
  if (room(cut)) put(cut, isList ? "[" : "{", true);
  if (isList) {
    for (let i = 0; i < v.length && !cut.spent; i++) {
      if (i > 0 && room(cut)) put(cut, ", ", true);
      cutRepr(v[i], level + 1, maxLevels, cut);
    }
  } else {
    const record = v as Record<string, unknown>;
    let first = true;
    for (const key in record) {
      const item = record[key];
      if (!Object.hasOwn(record, key) || item === undefined) continue;
      if (cut.spent) break;
      if (!first && room(cut)) put(cut, ", ", true);
      first = false;
      if (room(cut)) put(cut, keyText(key, cut.budget));
      if (room(cut)) put(cut, ": ", true);
      cutRepr(item, level + 1, maxLevels, cut);
    }
  }
  // A closing bracket is written even past the budget, unless it is the token that found it spent.
  const close = isList ? "]" : "}";
  if (cut.spent) cut.out += close;
  else if (room(cut)) put(cut, close, true);
}

/** A string as saferepr quotes it: single quotes, only `'` escaped (it is not Python's repr). */
function quotedRepr(s: string): string {
  return s.includes("'") ? `'${s.replace(/'/g, "\\'")}'` : `'${s}'`;
}

/** Celery's `saferepr(value, maxlen, maxlevels=3)`, as used for the argsrepr/kwargsrepr headers. */
export function celerySaferepr(value: unknown, maxLen?: number, maxLevels = 3): string {
  // One walk: when everything fits, no token is cut and none finds the budget spent, so the
  // result is the plain rendering; without a budget nothing is ever cut.
  const cut: Cut = { out: "", budget: maxLen ?? Infinity, spent: false };
  cutRepr(value, 0, maxLevels, cut);
  return cut.out;
}

/**
 * An instant as Python's `datetime.isoformat()` writes an aware UTC one ("+00:00", not "Z"): an
 * eta or expires matchflow computes goes to Celery workers too (canvas follow-ups, a shared work
 * queue), and `datetime.fromisoformat`, which Celery >= 5.3 parses them with, refuses "Z" before
 * Python 3.11 (the task is then rejected, not run).
 */
export function pythonUtcIsoformat(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, "+00:00");
}
