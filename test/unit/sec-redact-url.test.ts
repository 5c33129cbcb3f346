/**
 * A password with an unencoded "/" after digits (`user:1234/pa55@host`) parses as a URL whose
 * port is 1234 and whose path holds the rest of the password: redactUrl found no password to
 * mask and returned it whole, which `RESULT_BACKEND` printed in its configuration error.
 */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { redactUrl } from "../../src/redact-url.js";

describe("a password that reads as a port and a path", () => {
  it.each([
    ["redis://user:1234/pa55word@redis:6379/0", "redis://user:***@redis:6379/0"],
    ["amqp://app:99/x?y#z@rabbit/%2F", "amqp://app:***@rabbit/%2F"],
    ["https://mirror.example/feeds?next=a@b", "https://mirror.example/feeds?next=a@b"],
  ])("%s is printed as %s", (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });

  it("is not echoed by a RESULT_BACKEND configuration error", () => {
    expect(() => loadConfig({ RESULT_BACKEND: "redis://user:1234/pa55word@redis:6379/0" })).toThrow(/RESULT_BACKEND "redis:\/\/user:\*\*\*@redis:6379\/0" is not supported/);
  });
});
