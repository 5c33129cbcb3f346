import { describe, expect, it } from "vitest";
import { encodeRpcResult } from "../../src/celery/result.js";

describe("encodeRpcResult", () => {
  it("builds a SUCCESS reply as Celery's rpc backend does", () => {
    const m = encodeRpcResult({ taskId: "t1", status: "SUCCESS", result: { status: "inserted" }, dateDone: new Date("2024-05-01T10:00:00.123Z") });
    expect(m.content.toString()).toBe('{"task_id": "t1", "status": "SUCCESS", "result": {"status": "inserted"}, "traceback": null, "children": [], "date_done": "2024-05-01T10:00:00.123"}');
    expect(m.properties).toMatchObject({ contentType: "application/json", contentEncoding: "utf-8", correlationId: "t1", deliveryMode: 1 });
  });

  it("builds a FAILURE reply with exc_type, exc_message and exc_module", () => {
    const m = encodeRpcResult({ taskId: "t2", status: "FAILURE", result: { exc_type: "ValueError", exc_message: ["bad date"], exc_module: "builtins" }, traceback: "tb", dateDone: "2024-05-01T10:00:00" });
    expect(JSON.parse(m.content.toString())).toEqual({ task_id: "t2", status: "FAILURE", result: { exc_type: "ValueError", exc_message: ["bad date"], exc_module: "builtins" }, traceback: "tb", children: [], date_done: "2024-05-01T10:00:00" });
  });
});
