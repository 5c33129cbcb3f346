/**
 * JSON as Python's producers write it, read the way Celery's worker reads it. Pure.
 *
 * - `NaN`, `Infinity`, `-Infinity`: Python's `json.dumps` writes them by default (a float column
 *   from pandas) and `json.loads` reads them; JSON.parse refused the whole message (malformed_json,
 *   dead-lettered) where Celery ran it. Read as null: JSON has no such number, PostgreSQL's jsonb
 *   none either, and no field of the contract takes one.
 * - kombu >= 5.3 writes a datetime, date, time, Decimal, UUID or bytes argument as
 *   `{"__type__": "datetime", "__value__": "2026-10-18T15:00:00+00:00"}` and turns it back into
 *   the value on arrival: the task sees the value, so here its text (what an older kombu sent).
 */
import { MAX_JSON_DEPTH } from "./json-depth.js";

/** The kinds kombu's `register_type` tags by default (kombu/utils/json.py), each with its value as text. */
const KOMBU_TYPES = new Set(["datetime", "date", "time", "decimal", "uuid", "bytes"]);

/** The non-finite number tokens Python writes, outside strings. */
const NON_FINITE = /(?:-?Infinity|NaN)(?![\w$])/y;

/**
 * `text` with each NaN/Infinity/-Infinity outside a string written as null; the same string when
 * it has none. A scan that skips strings (an escaped quote included), so a team named "NaN" stays.
 */
export function nonFiniteAsNull(text: string): string {
  let out = "";
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
      continue;
    }
    if (c !== 0x4e /* N */ && c !== 0x49 /* I */ && c !== 0x2d /* - */) continue;
    NON_FINITE.lastIndex = i;
    const token = NON_FINITE.exec(text);
    if (!token) continue;
    out += `${text.slice(copied, i)}null`;
    i += token[0].length - 1;
    copied = i + 1;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * JSON.parse, then, for a text it refused that holds Python's non-finite numbers, JSON.parse of
 * it with those read as null. Returns the text that parsed (for a second reading of the same
 * document); throws JSON.parse's error for anything else.
 */
export function parsePythonJson(text: string): { value: unknown; text: string } {
  try {
    return { value: JSON.parse(text) as unknown, text };
  } catch (err) {
    if (!/NaN|Infinity/.test(text)) throw err;
    const finite = nonFiniteAsNull(text);
    if (finite === text) throw err;
    try {
      return { value: JSON.parse(finite) as unknown, text: finite };
    } catch {
      throw err;
    }
  }
}

/** kombu's tagged value (`{"__type__": kind, "__value__": text}`): its text, else undefined. */
export function kombuTaggedText(value: unknown): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.__type__ !== "string" || typeof v.__value__ !== "string" || !KOMBU_TYPES.has(v.__type__)) return undefined;
  for (const key in v) if (key !== "__type__" && key !== "__value__") return undefined;
  return v.__value__;
}

/** `value` with every kombu tagged value replaced by its text (copy-on-write; not below MAX_JSON_DEPTH). */
export function untagged(value: unknown, depth = 0): unknown {
  if (typeof value !== "object" || value === null || depth > MAX_JSON_DEPTH) return value;
  const tagged = kombuTaggedText(value);
  if (tagged !== undefined) return tagged;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const plain = untagged(value[i], depth + 1);
      if (plain !== value[i]) (out ??= value.slice())[i] = plain;
    }
    return out ?? value;
  }
  const record = value as Record<string, unknown>;
  let out: Record<string, unknown> | undefined;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const plain = untagged(record[key], depth + 1);
    if (plain !== record[key]) (out ??= { ...record })[key] = plain;
  }
  return out ?? record;
}
