/** Flag parsers shared by commands: a bad value is a usage error (exit 2) naming the flag. */
import { InvalidArgumentError } from "commander";
import { parseDurationMs } from "../config.js";

/** Digits only (an optional leading minus): `Number()` took "1e2", "0x10", "4.0" and "" (as 0). */
export function parseIntOption(flag: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const text = value.trim();
    const n = /^-?\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be a whole number from ${min} to ${max}`);
    return n;
  };
}

/** A duration flag ("2s", "500ms", a number of seconds) within [minMs, maxMs], in milliseconds. */
export function parseDurationOption(flag: string, minMs: number, maxMs: number): (value: string) => number {
  return (value: string) => {
    const ms = parseDurationMs(value);
    if (ms === undefined || ms < minMs || ms > maxMs) throw new InvalidArgumentError(`${flag} must be a duration from ${minMs / 1000}s to ${maxMs / 1000}s (e.g. 2s or 500ms)`);
    return ms;
  };
}
