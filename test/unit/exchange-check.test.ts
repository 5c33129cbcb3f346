import type { Channel } from "amqplib";
import { describe, expect, it } from "vitest";
import { ExchangeCheck, isMissingExchange } from "../../src/broker/exchange-check.js";

/** A channel that answers checkExchange for the names in `existing` and fails the others with the broker's 404. */
function channels(existing: Set<string>) {
  const opened: string[] = [];
  const open = () => {
    const channel = {
      on: () => channel,
      close: () => Promise.resolve(),
      checkExchange: (name: string) => {
        opened.push(name);
        return existing.has(name) ? Promise.resolve({}) : Promise.reject(Object.assign(new Error(`NOT_FOUND - no exchange '${name}'`), { code: 404 }));
      },
    };
    return Promise.resolve(channel as unknown as Channel);
  };
  return { open, opened };
}

describe("ExchangeCheck", () => {
  it("asks the broker once per exchange for ten seconds, and again after", async () => {
    let now = 0;
    const { open, opened } = channels(new Set(["notify"]));
    const check = new ExchangeCheck(open, () => now);
    await check.require("notify");
    now = 9_999;
    await check.require("notify");
    expect(opened).toEqual(["notify"]);
    now = 10_000;
    await check.require("notify");
    expect(opened).toEqual(["notify", "notify"]);
  });

  it("fails a missing exchange as unroutable, marked as missing, and asks again next time", async () => {
    const { open, opened } = channels(new Set());
    const check = new ExchangeCheck(open, () => 0);
    const failure = await check.require("gone").catch((err: unknown) => err);
    expect(isMissingExchange(failure)).toBe(true);
    expect(failure).toMatchObject({ code: "unroutable", message: 'exchange "gone" does not exist' });
    await check.require("gone").catch(() => undefined);
    expect(opened).toEqual(["gone", "gone"]);
  });

  it("passes other failures on as they are", async () => {
    const check = new ExchangeCheck(() => Promise.reject(new Error("connection closed")), () => 0);
    const failure = await check.require("notify").catch((err: unknown) => err);
    expect(isMissingExchange(failure)).toBe(false);
    expect((failure as Error).message).toBe("connection closed");
  });
});
