/** `dlq list` output and the quorum delivery-count warning. */
import { describe, expect, it } from "vitest";
import { formatDeadLetterListing } from "../../src/ops/dead-letter-format.js";
import type { DeadLetterSummary } from "../../src/ops/dead-letter-message.js";
import { peekWarnings, type DeadLetterListing } from "../../src/ops/dead-letters.js";
import { cellsBefore } from "../helpers/terminal.js";

function summary(partial: Partial<DeadLetterSummary>): DeadLetterSummary {
  return {
    taskId: "t-1",
    bodyRef: null,
    taskName: "task",
    externalMatchId: "m-1",
    errorCode: "db_lock_timeout",
    errorMessage: "canceling statement\ndue to lock timeout",
    attempts: 4,
    failedAt: "2026-10-30T06:00:00.000Z",
    firstFailedAt: null,
    originalExchange: "matches",
    originalRoutingKey: "matches.process",
    protocol: 2,
    decodeError: null,
    bytes: 100,
    deliveryCount: null,
    requeues: 0,
    ...partial,
  };
}

function listing(partial: Partial<DeadLetterListing>): DeadLetterListing {
  return { queue: "matches.dead_letter", exists: true, workQueue: "matches", workQueueExists: null, total: 0, codes: null, matching: null, items: [], cutShort: false, otherConsumers: 0, warnings: [], ...partial };
}

describe("peekWarnings", () => {
  it("warns once a dead letter's delivery count nears a quorum delivery limit", () => {
    expect(peekWarnings("q", [summary({ deliveryCount: 9 })])).toEqual([]);
    expect(peekWarnings("q", [summary({ deliveryCount: 3 }), summary({ deliveryCount: 12 })])).toEqual([expect.stringMatching(/delivered up to 12 times .* delivery-limit -1 on q/)]);
    expect(peekWarnings("q", [])).toEqual([]);
  });

  it("and the table's columns: for a listing of 300,000 letters too (a spread into Math.max overflowed the call stack)", () => {
    const items = Array.from({ length: 300_000 }, (_, i) => summary({ taskId: `t-${i}`, deliveryCount: i === 299_999 ? 15 : 1 }));
    expect(peekWarnings("q", items)).toEqual([expect.stringMatching(/delivered up to 15 times/)]);
    const text = formatDeadLetterListing(listing({ total: items.length, items }));
    const lines = text.split("\n");
    expect(lines).toHaveLength(300_003); // headline, header, rows, the final newline's empty rest
    expect(cellsBefore(lines[2] as string, "db_lock_timeout")).toBe(cellsBefore(lines[1] as string, "error"));
  });
});

describe("formatDeadLetterListing", () => {
  it("escapes control characters from the message and aligns columns by terminal cells", () => {
    const text = formatDeadLetterListing(
      listing({
        total: 2,
        items: [
          summary({ taskId: "⚽⚽-task", externalMatchId: "日本-1" }),
          summary({ taskId: "t\u001b]0;owned\u0007", errorMessage: "unknown team \"\u001b[31mRed\" (strict)" }),
        ],
      }),
    );
    expect(text).not.toContain("\u001b");
    expect(text).not.toContain("\u0007");
    expect(text).toContain("t\\x1b]0;owned\\x07");
    expect(text).toContain("unknown team \"\\x1b[31mRed\"");
    // The error column starts at the same terminal cell on every line.
    const [, head, first, second] = text.split("\n") as [string, string, string, string];
    expect(cellsBefore(first, "db_lock_timeout")).toBe(cellsBefore(head, "error"));
    expect(cellsBefore(second, "db_lock_timeout")).toBe(cellsBefore(head, "error"));
  });

  it("prints a header line, one row per dead letter (message on one line) and warnings", () => {
    const text = formatDeadLetterListing(
      listing({
        total: 3,
        items: [summary({}), summary({ requeues: 2, taskId: "corr-2", externalMatchId: null, errorCode: null, attempts: null, decodeError: "message body is not valid JSON", errorMessage: null })],
        warnings: ["careful"],
      }),
    );
    const lines = text.trimEnd().split("\n");
    expect(lines[0]).toBe("3 dead letters in matches.dead_letter (showing the first 2; --limit N for more)");
    expect(lines[1]).toMatch(/^task id\s+external id\s+error\s+attempts\s+requeues\s+failed at\s+message$/);
    expect(lines[2]).toMatch(/^t-1\s+m-1\s+db_lock_timeout\s+4\s+0\s+2026-10-30T06:00:00.000Z\s+canceling statement due to lock timeout$/);
    expect(lines[3]).toMatch(/^corr-2\s+-\s+undecodable\s+\?\s+2\s+.*message body is not valid JSON$/);
    expect(lines[4]).toBe("warning: careful");
  });

  it("shows a dead letter without any id by its body reference (what show and requeue accept)", () => {
    const text = formatDeadLetterListing(listing({ total: 1, items: [summary({ taskId: null, bodyRef: "sha256:0123456789abcdef" })] }));
    expect(text.split("\n")[2]).toMatch(/^sha256:0123456789abcdef\s+m-1\s/);
  });

  it("claims neither the reported total nor more behind --limit when the queue gave fewer than it reported", () => {
    const text = formatDeadLetterListing(listing({ total: 306, items: [summary({})], cutShort: true }));
    expect(text.split("\n")[0]).toBe("1 dead letter read from matches.dead_letter; it reported 306 ready, the others were taken or are held by another client meanwhile");
    expect(text).not.toContain("\u001b");
    expect(text).not.toContain("\u0007");
  });

  it("with --code: how many have the code out of the queue's total, the first --limit of them, or that none has", () => {
    const filtered = { total: 306, codes: ["db_*", "task_expired"], items: [summary({}), summary({ taskId: "t-2" })] };
    expect(formatDeadLetterListing(listing({ ...filtered, matching: 2 })).split("\n")[0]).toBe("2 dead letters with code db_* or task_expired of 306 in matches.dead_letter");
    expect(formatDeadLetterListing(listing({ ...filtered, matching: 40 })).split("\n")[0]).toBe("40 dead letters with code db_* or task_expired of 306 in matches.dead_letter (showing the first 2; --limit N for more)");
    expect(formatDeadLetterListing(listing({ ...filtered, matching: 0, items: [] }))).toBe("none of the 306 dead letters in matches.dead_letter has code db_* or task_expired\n");
  });

  it("with --code that no letter has: the codes present, most frequent first, and a code it differs from only in case", () => {
    const none = { total: 6, matching: 0, items: [], codesPresent: [{ code: "db_lock_timeout", count: 3 }, { code: "contract_violation", count: 2 }, { code: "broker_maxlen", count: 1 }] };
    expect(formatDeadLetterListing(listing({ ...none, codes: ["task_expird"] }))).toBe(
      "none of the 6 dead letters in matches.dead_letter has code task_expird; codes present: db_lock_timeout (3), contract_violation (2), broker_maxlen (1)\n",
    );
    expect(formatDeadLetterListing(listing({ ...none, codes: ["DB_LOCK_TIMEOUT", "Broker_*"], warnings: ["w"] }))).toBe(
      "none of the 6 dead letters in matches.dead_letter has code DB_LOCK_TIMEOUT or Broker_*; DB_LOCK_TIMEOUT differs only in case from db_lock_timeout (codes are case-sensitive); " +
        "Broker_* differs only in case from broker_* (codes are case-sensitive); codes present: db_lock_timeout (3), contract_violation (2), broker_maxlen (1)\nwarning: w\n",
    );
    // Codes come from the messages: escaped like every other cell.
    expect(formatDeadLetterListing(listing({ ...none, codes: ["x"], codesPresent: [{ code: "evil\u001b[2J", count: 1 }] }))).not.toContain("\u001b");
  });

  it("says when the queue is empty or missing, and suggests MATCHES_QUEUE when the work queue is missing too", () => {
    expect(formatDeadLetterListing(listing({ queue: "d" }))).toBe("dead-letter queue d is empty\n");
    // Empty of ready letters while another consumer holds some: the warning is not dropped.
    expect(formatDeadLetterListing(listing({ queue: "d", otherConsumers: 1, warnings: ["1 other consumer reads d"] }))).toBe("dead-letter queue d is empty\nwarning: 1 other consumer reads d\n");
    expect(formatDeadLetterListing(listing({ queue: "d", exists: false, workQueueExists: true }))).toBe("dead-letter queue d does not exist (nothing was dead-lettered on this vhost yet)\n");
    expect(formatDeadLetterListing(listing({ queue: "qa_third.dead_letter", exists: false, workQueue: "qa_third", workQueueExists: false }))).toBe(
      "dead-letter queue qa_third.dead_letter does not exist, nor does work queue qa_third: check MATCHES_QUEUE and the vhost\n",
    );
  });
});
