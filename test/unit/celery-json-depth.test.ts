/**
 * A message nesting deeper than MAX_JSON_DEPTH is refused as malformed by the worker before anything walks it:
 * read as valid, a 20,000-level `extra` field threw a RangeError in the upsert's JSON.stringify,
 * which failed its whole batch on every retry and dead-lettered its neighbours with it.
 */
import { describe, expect, it } from "vitest";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../../src/celery/json-depth.js";
import { prepareMessage } from "../../src/worker/prepare.js";
import type { InboundMessage } from "../../src/worker/transport.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
const match = { home_team: "IFA", away_team: "NEFC", match_date: "2026-10-18", age_group: "U14", match_type: "League", external_match_id: "deep-1" };

function nested(levels: number): unknown {
  let v: unknown = 1;
  for (let i = 1; i < levels; i++) v = i % 2 === 0 ? [v] : { v };
  return v;
}

/** A Celery v2 message whose match has `extra` nested `levels` deep (written as text: no encoder walks that deep). */
function inbound(levels: number): InboundMessage {
  const m = encodeTaskV2({ taskName: TASK, taskId: "t-deep", args: [match] });
  const extra = `${"[".repeat(levels - 1)}1${"]".repeat(levels - 1)}`;
  const content = Buffer.from(`[[${JSON.stringify(match).slice(0, -1)},"extra":${extra}}],{},{"callbacks":null,"errbacks":null,"chain":null,"chord":null}]`);
  return { content, properties: m.properties, exchange: "matches", routingKey: "matches.process", redelivered: false, receivedAt: 0, token: 1 };
}

describe("nestsDeeperThan", () => {
  it("counts arrays and objects as levels, scalars as none", () => {
    expect(nestsDeeperThan(1, 0)).toBe(false);
    expect(nestsDeeperThan({ a: [1] }, 2)).toBe(false);
    expect(nestsDeeperThan({ a: [1] }, 1)).toBe(true);
    expect(nestsDeeperThan({ a: 1, b: [{ c: [] }] }, 3)).toBe(true);
  });

  it("walks a value far deeper than the stack allows without overflowing", () => {
    const deep = nested(200_000);
    expect(nestsDeeperThan(deep, MAX_JSON_DEPTH)).toBe(true);
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
  });
});

describe("prepareMessage and deep nesting", () => {
  it("refuses a body nested deeper than the limit as malformed_message, recording its text (not the value, which cannot be written)", () => {
    const p = prepareMessage(inbound(20_000), { taskName: TASK, maxMessageBytes: 1_048_576, now: 0 });
    expect(p.ok).toBe(false);
    if (p.ok) return;
    expect(p.error).toMatchObject({ code: "malformed_message", kind: "permanent", message: `task arguments nest arrays or objects more than ${MAX_JSON_DEPTH} levels deep` });
    expect(typeof p.failure.raw).toBe("string");
    expect(p.failure.taskId).toBe("t-deep");
  });

  it("takes a match whose unknown field nests within the limit (the body adds its own levels)", () => {
    const p = prepareMessage(inbound(MAX_JSON_DEPTH - 5), { taskName: TASK, maxMessageBytes: 1_048_576, now: 0 });
    expect(p.ok).toBe(true);
    expect(p.ok && p.item.raw).toMatchObject({ external_match_id: "deep-1" });
  });
});
