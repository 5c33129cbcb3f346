/**
 * `matchflow dlq list --json` in-process, with the broker and the queue read replaced by a
 * listing made here: the document printed is byte for byte `JSON.stringify(listing, null, 2)`,
 * and a listing whose document is longer than V8's longest string (what --limit 1000000 can
 * reach) is printed too: as one string it crashed with "Invalid string length" (exit 70).
 * (The real queue: test/integration/ops-dlq.test.ts.)
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DeadLetterSummary } from "../../src/ops/dead-letter-message.js";
import { jsonForTerminal } from "../../src/terminal-text.js";
import type * as BrokerSession from "../../src/ops/broker-session.js";
import type * as DeadLetters from "../../src/ops/dead-letters.js";
import type { DeadLetterListing } from "../../src/ops/dead-letters.js";

const listed = vi.hoisted(() => ({ listing: undefined as DeadLetterListing | undefined, limits: [] as number[] }));

vi.mock("../../src/ops/broker-session.js", async (importOriginal) => ({
  ...(await importOriginal<typeof BrokerSession>()),
  withBroker: (_url: string, _log: unknown, fn: (conn: unknown) => Promise<unknown>) => fn({}),
}));

vi.mock("../../src/ops/dead-letters.js", async (importOriginal) => ({
  ...(await importOriginal<typeof DeadLetters>()),
  listDeadLetters: (_conn: unknown, _names: unknown, options: { limit: number }) => {
    listed.limits.push(options.limit);
    return Promise.resolve(listed.listing);
  },
}));

const { main } = await import("../../src/cli/main.js");

function letter(n: number, errorMessage: string): DeadLetterSummary {
  return {
    taskId: `task-${String(n).padStart(4, "0")}`,
    bodyRef: null,
    taskName: "celery_tasks.match_tasks.process_match_data",
    externalMatchId: `m-${String(n).padStart(4, "0")}`,
    errorCode: "db_lock_timeout",
    errorMessage,
    attempts: 4,
    failedAt: "2026-10-01T06:00:00.000Z",
    firstFailedAt: null,
    originalExchange: "matches",
    originalRoutingKey: "matches.process",
    protocol: 2,
    decodeError: null,
    bytes: 512,
    deliveryCount: null,
    requeues: 0,
  };
}

function listingOf(items: DeadLetterSummary[]): DeadLetterListing {
  return { queue: "matches.dead_letter", exists: true, workQueue: "matches", workQueueExists: null, total: 1234, codes: ["db_*"], matching: 1234, items, cutShort: false, otherConsumers: 0, warnings: ["a warning with \"quotes\"\nand a newline"] };
}

/** What the command writes to stdout: its length, its first and last 200 characters, and its first million or so whole. */
interface Captured {
  length: number;
  text: string;
  head: string;
  tail: string;
}

let out: Captured;
let stderr: string;

beforeEach(() => {
  process.env.RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/";
  out = { length: 0, text: "", head: "", tail: "" };
  stderr = "";
  listed.limits = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    const text = String(chunk);
    out.length += text.length;
    if (out.text.length < 1_000_000) out.text += text;
    if (out.head.length < 200) out.head += text.slice(0, 200 - out.head.length);
    out.tail = (out.tail + text.slice(-200)).slice(-200);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe("matchflow dlq list --json", () => {
  it("prints exactly the document it printed as one string (C1 controls and bidi overrides as \\u escapes): empty, one item, several with escapes, several writes' worth", async () => {
    const tricky = letter(3, 'line one\nline "two"\u0000 \u202e \u009b2J é 🎉 \\');
    const several = Array.from({ length: 300 }, (_, i) => letter(i, `${"x".repeat(1000)}\n${i}`));
    for (const items of [[], [letter(1, "x")], [letter(1, "canceling statement due to lock timeout"), { ...letter(2, ""), bodyRef: "sha256:0123456789abcdef", taskId: null }, tricky], several]) {
      listed.listing = listingOf(items);
      out = { length: 0, text: "", head: "", tail: "" };
      expect(await main(["node", "matchflow", "dlq", "list", "--json"])).toBe(0);
      expect(out.text).toBe(`${jsonForTerminal(JSON.stringify(listed.listing, null, 2))}\n`);
      expect(JSON.parse(out.text)).toEqual(listed.listing);
      expect(out.text).not.toMatch(/[\u0080-\u009f\u202e]/);
    }
    expect(stderr).toBe("");
  });

  it("--limit 1000000 is taken, and a listing longer than V8's longest string is printed (before: RangeError, exit 70)", { timeout: 120_000 }, async () => {
    // 600 letters of a 1 MiB error message (one string, shared): about 630 million characters of JSON.
    const long = "e".repeat(1 << 20);
    const count = 600;
    listed.listing = listingOf(Array.from({ length: count }, (_, i) => letter(i, long)));
    const code = await main(["node", "matchflow", "dlq", "list", "--json", "--limit", "1000000"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(listed.limits).toEqual([1_000_000]);
    // The length JSON.stringify would give: every letter's text is as long (ids of 4 digits), so it grows by one letter's each.
    const one = JSON.stringify(listingOf([letter(0, long)]), null, 2);
    const two = JSON.stringify(listingOf([letter(0, long), letter(1, long)]), null, 2);
    expect(out.length).toBe(one.length + (count - 1) * (two.length - one.length) + 1);
    expect(out.length).toBeGreaterThan(2 ** 29);
    expect(out.head).toBe(one.slice(0, 200));
    expect(out.tail).toBe(`${one}\n`.slice(-200));
  });
});
