/** decodeTask's refusals at their boundaries: a malformed Celery field is never accepted. */
import { describe, expect, it } from "vitest";
import { decodeTask, isTaskId, MAX_TASK_ID_BYTES, type IncomingProperties } from "../../src/celery/decode.js";
import { MatchflowError } from "../../src/errors.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
const ID = "3f0c7a52-5a43-4f7e-9b51-1f2d3c4b5a69";
const JSON_PROPS = { contentType: "application/json", contentEncoding: "utf-8" };

function v2(body: unknown, headers: Record<string, unknown> = {}, maxBytes = 4096) {
  const props: IncomingProperties = { ...JSON_PROPS, headers: { task: TASK, id: ID, ...headers } };
  return decodeTask(Buffer.from(JSON.stringify(body)), props, { maxBytes });
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof MatchflowError) return err.code;
    throw err;
  }
  return "accepted";
}

describe("decodeTask boundaries", () => {
  it("takes a body of exactly maxBytes and refuses one byte more", () => {
    const content = Buffer.from(JSON.stringify([[], {}, {}]));
    const props = { ...JSON_PROPS, headers: { task: TASK, id: ID } };
    expect(decodeTask(content, props, { maxBytes: content.length }).taskId).toBe(ID);
    expect(codeOf(() => decodeTask(content, props, { maxBytes: content.length - 1 }))).toBe("message_too_large");
  });

  it("refuses retries that are negative or not whole, in protocol 2 headers and protocol 1 bodies", () => {
    for (const retries of [-1, 1.5, "2"]) {
      expect(codeOf(() => v2([[], {}, {}], { retries })), String(retries)).toBe("malformed_message");
      const v1 = Buffer.from(JSON.stringify({ task: TASK, id: ID, args: [], kwargs: {}, retries }));
      expect(codeOf(() => decodeTask(v1, JSON_PROPS, { maxBytes: 4096 })), String(retries)).toBe("malformed_message");
    }
    expect(v2([[], {}, {}], { retries: 0 }).retries).toBe(0);
  });

  it("takes a protocol 2 body of 2 or 3 items and refuses 1 or 4", () => {
    expect(v2([[1], {}]).args).toEqual([1]);
    expect(v2([[1], {}, null]).embed).toBeNull();
    expect(codeOf(() => v2([[1]]))).toBe("malformed_message");
    expect(codeOf(() => v2([[1], {}, {}, {}]))).toBe("malformed_message");
  });

  it("refuses an embed that is not a mapping", () => {
    for (const embed of [[], "x", 5]) expect(codeOf(() => v2([[], {}, embed])), JSON.stringify(embed)).toBe("malformed_message");
  });

  it("refuses a blank task id and a task id over 255 bytes; takes one of exactly 255", () => {
    expect(codeOf(() => v2([[], {}, {}], { id: "   " }))).toBe("missing_task_id");
    expect(codeOf(() => v2([[], {}, {}], { task: "  " }))).toBe("missing_task_name");
    const longest = "é".repeat(127) + "a"; // 255 bytes
    expect(v2([[], {}, {}], { id: longest }).taskId).toBe(longest);
    expect(codeOf(() => v2([[], {}, {}], { id: `${longest}a` }))).toBe("invalid_task_id");
  });
});

describe("isTaskId", () => {
  it("is a non-blank string of at most 255 UTF-8 bytes", () => {
    expect(MAX_TASK_ID_BYTES).toBe(255);
    expect(isTaskId(ID)).toBe(true);
    expect(isTaskId("a".repeat(255))).toBe(true);
    expect(isTaskId("a".repeat(256))).toBe(false);
    expect(isTaskId("é".repeat(128))).toBe(false);
    expect(isTaskId("")).toBe(false);
    expect(isTaskId(" \t ")).toBe(false);
    expect(isTaskId(42)).toBe(false);
  });
});
