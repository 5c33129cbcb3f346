import { describe, expect, it } from "vitest";
import { SIGNAL_ECHO_MS, SignalCount } from "../../src/cli/interrupt.js";

describe("SignalCount", () => {
  it("counts the first signal delivered twice at once (the terminal's and npm's forwarded copy) as one; a later press, or another signal, as a second", () => {
    let now = 1000;
    const count = new SignalCount(() => now);
    expect(count.received("SIGINT")).toBe(1);
    now += 5;
    expect(count.received("SIGINT")).toBe(1);
    now += SIGNAL_ECHO_MS;
    expect(count.received("SIGINT")).toBe(2);
    const other = new SignalCount(() => now);
    expect(other.received("SIGINT")).toBe(1);
    expect(other.received("SIGTERM")).toBe(2);
  });
});
