/**
 * A forwarded canvas keeps its numbers as the producer wrote them: Python's `json.dumps` writes a
 * float with an integral value as `1.0` and an int of any size with every digit, which JSON.parse
 * would turn into the int `1` and a rounded double.
 */
import { describe, expect, it } from "vitest";
import { planOnFailure, planOnSuccess } from "../../src/celery/canvas.js";
import { decodeTask, encodeTaskV1, encodeTaskV2, type IncomingProperties } from "../../src/celery/codec.js";
import { JsonNumberText, numberValue } from "../../src/celery/json-number.js";
import { celerySaferepr, pythonJsonDumps } from "../../src/celery/python-text.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
const context = { defaultQueue: "celery", now: Date.parse("2026-11-01T12:00:00Z") };
const decode = (content: Buffer, properties: IncomingProperties) => decodeTask(content, properties, { maxBytes: 1_048_576 });

/** A protocol 2 message whose body is written by hand, as Python's json.dumps wrote it. */
function pythonMessage(bodyText: string) {
  const shape = encodeTaskV2({ taskName: TASK, taskId: "task-1", args: [] });
  return { content: Buffer.from(bodyText, "utf8"), properties: shape.properties };
}

const LINKED =
  '[[{"external_match_id": "1"}], {}, {"callbacks": [{"task": "notify.record", "args": [1.0, 18446744073709551617, -0.0, 2.5, 1e+20, 7], "kwargs": {"ratio": 3.0}, ' +
  '"options": {"time_limit": 300.0, "soft_time_limit": 200, "priority": 5.0, "countdown": 10.0}, "subtask_type": null, "immutable": false}], ' +
  '"errbacks": [{"task": "notify.failed", "args": [0.5, 2.0], "kwargs": {}, "options": {}, "subtask_type": null, "immutable": false}], "chain": null, "chord": null}]';

describe("a canvas's numbers, forwarded", () => {
  it("a link callback is sent with its args and kwargs written as they came (1.0, every digit of 2^64 + 1, -0.0, 1e+20)", () => {
    const msg = pythonMessage(LINKED);
    const [callback] = planOnSuccess(decode(msg.content, msg.properties), { match_id: 7 }, context).followUps;
    expect(callback?.message.content.toString()).toBe('[[{"match_id": 7}, 1.0, 18446744073709551617, -0.0, 2.5, 1e+20, 7], {"ratio": 3.0}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]');
    // Celery's argsrepr of the same args.
    expect(callback?.message.properties.headers.argsrepr).toBe("[{'match_id': 7}, 1.0, 18446744073709551617, -0.0, 2.5, 1e+20, 7]");
  });

  it("options Python wrote as floats are read as numbers: time limits, priority, countdown", () => {
    const msg = pythonMessage(LINKED);
    const [callback] = planOnSuccess(decode(msg.content, msg.properties), { match_id: 7 }, context).followUps;
    const headers = decode(callback!.message.content, callback!.message.properties).headers;
    expect(headers.timelimit).toEqual([300, 200]);
    expect(headers.eta).toBe("2026-11-01T12:00:10.000+00:00");
    expect(callback?.message.properties.priority).toBe(5);
  });

  it("an errback too, and a retry or requeue (the task encoded again with its canvas) writes the canvas back byte for byte", () => {
    const msg = pythonMessage(LINKED);
    const envelope = decode(msg.content, msg.properties);
    const [errback] = planOnFailure(envelope, context).followUps;
    expect(errback?.message.content.toString()).toBe('[["task-1", 0.5, 2.0], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]');
    const again = encodeTaskV2({ taskName: TASK, taskId: "task-1", args: envelope.args, kwargs: envelope.kwargs, embed: envelope.embed });
    expect(again.content.toString()).toBe(LINKED);
  });

  it("protocol 1 keeps its canvas's numbers too", () => {
    const v1 = encodeTaskV1({ taskName: TASK, taskId: "task-1", args: [] });
    const body = '{"id": "task-1", "task": "' + TASK + '", "args": [], "kwargs": {}, "callbacks": [{"task": "notify.record", "args": [1.0], "kwargs": {}, "options": {}, "subtask_type": null, "immutable": false}]}';
    const envelope = decode(Buffer.from(body), v1.properties);
    expect(pythonJsonDumps(envelope.embed)).toBe('{"callbacks": [{"task": "notify.record", "args": [1.0], "kwargs": {}, "options": {}, "subtask_type": null, "immutable": false}]}');
  });

  it("a task without a canvas is read once, with plain numbers; a canvas the second reading refuses (a duplicate key) is kept as JSON.parse read it", () => {
    const plain = pythonMessage('[[{"score": 1.0}], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]');
    expect(decode(plain.content, plain.properties).args).toEqual([{ score: 1 }]);
    const duplicate = pythonMessage('[[], {}, {"callbacks": [{"task": "a", "task": "b", "args": [1.0]}], "errbacks": null, "chain": null, "chord": null}]');
    expect(decode(duplicate.content, duplicate.properties).embed).toEqual({ callbacks: [{ task: "b", args: [1] }], errbacks: null, chain: null, chord: null });
  });

  it("a number JS writes back the same stays a plain number", () => {
    const msg = pythonMessage('[[], {}, {"callbacks": [{"task": "a", "args": [2.5, 7, -3, 0.1, 1e-05], "kwargs": {}, "options": {}, "subtask_type": null, "immutable": false}]}]');
    const embed = decode(msg.content, msg.properties).embed as { callbacks: { args: unknown[] }[] };
    expect(embed.callbacks[0]?.args).toEqual([2.5, 7, -3, 0.1, 1e-5]);
  });
});

describe("JsonNumberText", () => {
  it("is written as its text by json.dumps and saferepr, read as a number, and shown as a number by JSON.stringify", () => {
    const n = new JsonNumberText("1.0");
    expect(pythonJsonDumps({ a: [n] })).toBe('{"a": [1.0]}');
    expect(celerySaferepr([n])).toBe("[1.0]");
    expect(numberValue(n)).toBe(1);
    expect(numberValue("1")).toBeUndefined();
    expect(JSON.stringify({ a: n })).toBe('{"a":1}');
  });
});
