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

function toJsonShape(value: unknown): unknown {
  if (value !== null && typeof value === "object" && typeof (value as { toJSON?: unknown }).toJSON === "function") {
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
      if (Array.isArray(v)) return `[${v.map((item) => pythonJsonDumps(item)).join(", ")}]`;
      const parts: string[] = [];
      for (const [key, item] of Object.entries(v as Record<string, unknown>)) {
        if (item === undefined || typeof item === "function") continue;
        parts.push(`${pythonJsonString(key)}: ${pythonJsonDumps(item)}`);
      }
      return `{${parts.join(", ")}}`;
    }
    default:
      return "null";
  }
}

// ---------------------------------------------------------------------------------------------
// Celery's saferepr (celery/utils/saferepr.py, 5.2): a streaming, truncating repr. Ported token
// by token, because its truncation is not a plain cut: every token is truncated against the
// remaining budget, ", ..." is appended when the budget runs out, then the open brackets close.

type Token =
  | { kind: "literal"; value: string; truncatable: boolean }
  | { kind: "key"; value: string }
  | { kind: "quoted"; value: string }
  | { kind: "text"; value: string };

const SEP: Token = { kind: "literal", value: ", ", truncatable: true };
const KVSEP: Token = { kind: "literal", value: ": ", truncatable: true };

interface StreamState {
  draining: boolean;
}

function scalarText(v: unknown): string | undefined {
  if (v === null || v === undefined) return "None";
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v === "number") return pythonNumber(v);
  if (typeof v === "bigint") return v.toString();
  return undefined;
}

function* reprStream(value: unknown, level: number, maxLevels: number, state: StreamState): Generator<Token> {
  const v = toJsonShape(value);
  if (typeof v === "string") {
    if (!state.draining) yield { kind: "quoted", value: v };
    return;
  }
  const scalar = scalarText(v);
  if (scalar !== undefined || typeof v !== "object" || v === null) {
    if (!state.draining) yield { kind: "text", value: scalar ?? String(v) };
    return;
  }
  // Once the budget is spent Python skips unexpanded containers and emits only closing brackets.
  if (state.draining) return;
  const isList = Array.isArray(v);
  const [open, close] = isList ? ["[", "]"] : ["{", "}"];
  if (maxLevels && level >= maxLevels) {
    yield { kind: "text", value: `${open}...${close}` };
    return;
  }
  yield { kind: "literal", value: open, truncatable: false };
  if (isList) {
    const items = v as unknown[];
    for (let i = 0; i < items.length; i++) {
      yield* reprStream(items[i], level + 1, maxLevels, state);
      if (i < items.length - 1) yield SEP;
    }
  } else {
    const entries = Object.entries(v as Record<string, unknown>).filter(([, item]) => item !== undefined);
    for (let i = 0; i < entries.length; i++) {
      const [key, item] = entries[i] as [string, unknown];
      if (!state.draining) yield { kind: "key", value: key };
      yield KVSEP;
      yield* reprStream(item, level + 1, maxLevels, state);
      if (i < entries.length - 1) yield SEP;
    }
  }
  yield { kind: "literal", value: close, truncatable: false };
}

/** Python `len` counts code points, not UTF-16 units. */
function codePoints(s: string): string[] {
  return Array.from(s);
}

/** celery.utils.text.truncate: cut at maxlen, back to the last space, append "...". */
function truncate(s: string, maxLen: number | undefined): string {
  if (!maxLen) return s;
  const chars = codePoints(s);
  if (chars.length < maxLen) return s;
  const cut = chars.slice(0, maxLen).join("");
  const space = cut.lastIndexOf(" ");
  return `${space >= 0 ? cut.slice(0, space) : cut}...`;
}

/** The same rendering without any budget: what saferepr yields when nothing gets truncated. */
function plainRepr(value: unknown, level: number, maxLevels: number): string {
  const v = toJsonShape(value);
  if (typeof v === "string") return `'${v.replace(/'/g, "\\'")}'`;
  const scalar = scalarText(v);
  if (scalar !== undefined || typeof v !== "object" || v === null) return scalar ?? String(v);
  const isList = Array.isArray(v);
  const [open, close] = isList ? ["[", "]"] : ["{", "}"];
  if (maxLevels && level >= maxLevels) return `${open}...${close}`;
  if (isList) return `[${(v as unknown[]).map((item) => plainRepr(item, level + 1, maxLevels)).join(", ")}]`;
  const parts: string[] = [];
  for (const [key, item] of Object.entries(v as Record<string, unknown>)) {
    if (item !== undefined) parts.push(`${plainRepr(key, 0, maxLevels)}: ${plainRepr(item, level + 1, maxLevels)}`);
  }
  return `{${parts.join(", ")}}`;
}

/** Celery's `saferepr(value, maxlen, maxlevels=3)`, as used for the argsrepr/kwargsrepr headers. */
export function celerySaferepr(value: unknown, maxLen?: number, maxLevels = 3): string {
  // Fast path: when the whole rendering is shorter than the budget, no token is ever cut
  // (each token is shorter than what remains), so saferepr equals the plain rendering.
  const plain = plainRepr(value, 0, maxLevels);
  if (maxLen === undefined || plain.length < maxLen) return plain;
  const state: StreamState = { draining: false };
  const stream = reprStream(value, 0, maxLevels, state);
  let budget = maxLen;
  let out = "";
  // Iterated by hand: a for-of `break` would close the generator, and the closing brackets
  // still have to be drained from it afterwards.
  for (let step = stream.next(); !step.done; step = stream.next()) {
    const token = step.value;
    if (budget !== undefined && budget <= 0) {
      out += ", ...";
      state.draining = true;
      break;
    }
    let text: string;
    if (token.kind === "literal") text = token.value;
    else if (token.kind === "key") text = celerySaferepr(token.value, budget, maxLevels);
    else if (token.kind === "quoted") text = `'${truncate(token.value, budget).replace(/'/g, "\\'")}'`;
    else text = truncate(token.value, budget);
    out += text;
    if (budget !== undefined) budget -= codePoints(text).length;
  }
  if (state.draining) {
    for (let step = stream.next(); !step.done; step = stream.next()) {
      if (step.value.kind === "literal" && !step.value.truncatable) out += step.value.value;
    }
  }
  return out;
}
