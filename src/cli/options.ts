/** Flag parsers shared by commands: a bad value is a usage error (exit 2) naming the flag. */
import { InvalidArgumentError } from "commander";

export function parseIntOption(flag: string, min: number, max: number): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be a whole number from ${min} to ${max}`);
    return n;
  };
}
