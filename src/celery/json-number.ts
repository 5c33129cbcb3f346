/**
 * A Celery canvas forwarded as it came. The worker sends a task's link callbacks, chain steps and
 * errbacks on, and carries its canvas with a retry or a requeue. Read with JSON.parse, a number
 * came back changed: Python's float `1.0` went on as the int `1`, and an int past 2^53 lost its
 * low digits. So the canvas is read a second time, keeping each number that JS would write back
 * differently as its text. Only for a message that has a canvas. Pure.
 */
import { parse } from "lossless-json";
import { nestsDeeperThan, MAX_JSON_DEPTH } from "./json-depth.js";
import { JsonNumberText, pythonNumber } from "./python-text.js";

export { JsonNumberText };

/** A number JS writes back the same stays a number; any other keeps its text. */
function numberFromText(text: string): number | JsonNumberText {
  const n = Number(text);
  return pythonNumber(n) === text ? n : new JsonNumberText(text);
}

/**
 * `text` parsed again with its numbers kept (see above), or undefined when it cannot be: nested
 * too deep for a recursive parser, or a duplicate key (JSON.parse takes the last; this parser
 * refuses). The caller then keeps what JSON.parse read, as before.
 */
export function parseKeepingNumbers(text: string, parsed: unknown): unknown {
  if (nestsDeeperThan(parsed, MAX_JSON_DEPTH)) return undefined;
  try {
    return parse(text, undefined, numberFromText);
  } catch {
    return undefined;
  }
}

/** A value read as a JS number, whether JSON.parse read it or its text was kept. */
export function numberValue(value: unknown): number | undefined {
  if (typeof value === "number") return value;
  return value instanceof JsonNumberText ? value.valueOf() : undefined;
}
