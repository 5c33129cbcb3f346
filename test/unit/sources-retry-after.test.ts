import { describe, expect, it } from "vitest";
import { MAX_RETRY_AFTER_MS, retryAfterMs } from "../../src/sources/http.js";

describe("Retry-After", () => {
  const now = Date.parse("2026-12-02T12:00:00Z");
  it("reads seconds and HTTP dates, capped; nothing for an absent or unreadable one", () => {
    expect(retryAfterMs("30", now)).toBe(30_000);
    expect(retryAfterMs(" 0 ", now)).toBe(0);
    expect(retryAfterMs("Wed, 02 Dec 2026 12:00:12 GMT", now)).toBe(12_000);
    expect(retryAfterMs("Wed, 02 Dec 2026 11:00:00 GMT", now)).toBe(0);
    expect(retryAfterMs("86400", now)).toBe(MAX_RETRY_AFTER_MS);
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs("-5", now)).toBeUndefined();
  });
});
