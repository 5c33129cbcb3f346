import { brotliCompressSync, deflateSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { amqpInt, decodeTask, ENCODED_TASK_HEADERS, encodeTaskV1, encodeTaskV2, REPR_MAX_CHARS } from "../../src/celery/codec.js";
import { MatchflowError } from "../../src/errors.js";

const TASK = "celery_tasks.match_tasks.process_match_data";
const ID = "3f0c7a52-5a43-4f7e-9b51-1f2d3c4b5a69";
const MATCH = {
  external_match_id: "dump-1",
  home_team: "Arsenal",
  away_team: "Chelsea",
  match_date: "2024-05-01",
  home_score: 2,
  away_score: 1,
  match_status: "finished",
};
// Body bytes captured verbatim from Celery 5.2.6 send_task (docs/celery-wire.md).
const CAPTURED_BODY =
  '[[{"external_match_id": "dump-1", "home_team": "Arsenal", "away_team": "Chelsea", "match_date": "2024-05-01", "home_score": 2, "away_score": 1, "match_status": "finished"}], {}, {"callbacks": null, "errbacks": null, "chain": null, "chord": null}]';
const JSON_PROPS = { contentType: "application/json", contentEncoding: "utf-8" };

function refusal(fn: () => unknown): MatchflowError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MatchflowError) return err;
    throw err;
  }
  throw new Error("expected a refusal");
}

describe("encodeTaskV2", () => {
  const msg = encodeTaskV2({ taskName: TASK, taskId: ID, args: [MATCH], origin: "gen7697@vm", replyTo: "client-1" });

  it("produces the captured Celery 5.2.6 body byte for byte", () => {
    expect(msg.content.equals(Buffer.from(CAPTURED_BODY, "utf8"))).toBe(true);
  });

  it("sets Celery's headers, in Celery's order, with Celery's types, leaving out the null ones", () => {
    expect(msg.properties.headers).toEqual({
      lang: "py",
      task: TASK,
      id: ID,
      retries: amqpInt(0),
      root_id: ID,
      argsrepr: "[{'external_match_id': 'dump-1', 'home_team': 'Arsenal', 'away_team': 'Chelsea', 'match_date': '2024-05-01', 'home_score': 2, 'away_score': 1, 'match_status': 'finished'}]",
      kwargsrepr: "{}",
      origin: "gen7697@vm",
      ignore_result: false,
    });
    // Celery's order (docs/celery-wire.md), minus shadow, eta, expires, group, group_index, timelimit and parent_id.
    expect(Object.keys(msg.properties.headers)).toEqual(["lang", "task", "id", "retries", "root_id", "argsrepr", "kwargsrepr", "origin", "ignore_result"]);
    for (const value of Object.values(msg.properties.headers)) expect(value).not.toBeNull();
  });

  it("adds eta, expires and parent_id in Celery's places when they have values", () => {
    const m = encodeTaskV2({ taskName: TASK, taskId: ID, args: [], parentId: "parent", eta: "2024-05-01T10:00:00+00:00", expires: "2024-05-01T10:01:00Z" }, { now: Date.parse("2024-05-01T10:00:00Z") });
    expect(Object.keys(m.properties.headers)).toEqual(["lang", "task", "id", "eta", "expires", "retries", "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin", "ignore_result"]);
  });

  it("owns exactly the headers ENCODED_TASK_HEADERS names (what a requeue must not carry over)", () => {
    const full = encodeTaskV2({ taskName: TASK, taskId: ID, args: [], retries: 1, rootId: "root", parentId: "parent", eta: "2024-05-01T10:00:00Z", expires: "2024-05-01T10:01:00Z", origin: "o", ignoreResult: true }, { now: Date.parse("2024-05-01T10:00:00Z") });
    expect(new Set(Object.keys(full.properties.headers))).toEqual(ENCODED_TASK_HEADERS);
  });

  it("decodes what it encodes: absent headers read as null, as Celery reads them", () => {
    const env = decodeTask(msg.content, msg.properties, { maxBytes: 1 << 20 });
    expect(env).toMatchObject({ protocol: 2, taskId: ID, eta: null, expires: null, parentId: null, rootId: ID, retries: 0 });
  });

  it("sets the AMQP properties Celery sets", () => {
    expect(msg.properties).toMatchObject({ contentType: "application/json", contentEncoding: "utf-8", correlationId: ID, replyTo: "client-1", deliveryMode: 2, priority: 0 });
    expect(msg.properties.expiration).toBeUndefined();
  });

  it("keeps root and parent ids, retries and eta when given, and turns expires into a TTL", () => {
    const m = encodeTaskV2(
      { taskName: TASK, taskId: ID, args: [], retries: 2, rootId: "root", parentId: "parent", eta: "2024-05-01T10:00:00+00:00", expires: "2024-05-01T10:01:00Z" },
      { now: Date.parse("2024-05-01T10:00:00Z") },
    );
    expect(m.properties.headers).toMatchObject({ root_id: "root", parent_id: "parent", retries: amqpInt(2), eta: "2024-05-01T10:00:00+00:00", expires: "2024-05-01T10:01:00Z" });
    expect(m.properties.expiration).toBe("60000");
  });

  it("cuts argsrepr the way Celery's saferepr does", () => {
    const m = encodeTaskV2({ taskName: TASK, taskId: ID, args: [{ notes: "word ".repeat(400) }] });
    const repr = m.properties.headers.argsrepr as string;
    expect(repr.length).toBeLessThanOrEqual(REPR_MAX_CHARS + 16);
    // Python's own output for this input ends so (the consumed "}" is Celery's quirk).
    expect(repr.endsWith(" word word word word...', ...]")).toBe(true);
  });

  it("rejects programming errors early", () => {
    expect(() => encodeTaskV2({ taskName: "", taskId: ID, args: [] })).toThrow(/taskName/);
    expect(() => encodeTaskV2({ taskName: TASK, taskId: ID, args: [], retries: -1 })).toThrow(/retries/);
  });
});

describe("encodeTaskV1", () => {
  it("writes the whole task in the body, as the seed's production scraper did", () => {
    const m = encodeTaskV1({ taskName: TASK, taskId: ID, args: [MATCH] });
    expect(m.content.toString("utf8")).toBe(
      `{"id": "${ID}", "task": "${TASK}", "args": [${CAPTURED_BODY.slice(2, CAPTURED_BODY.indexOf("}]") + 1)}], "kwargs": {}, "retries": 0, "eta": null, "expires": null}`,
    );
    expect(m.properties).toMatchObject({ contentType: "application/json", contentEncoding: "utf-8", deliveryMode: 2, headers: {} });
  });
});

describe("decodeTask", () => {
  it("decodes protocol v2 by its task header, unwrapping typed header values", () => {
    const m = encodeTaskV2({ taskName: TASK, taskId: ID, args: [MATCH], kwargs: { a: 1 }, retries: 1, replyTo: "r" });
    const env = decodeTask(m.content, m.properties, { maxBytes: 1 << 20 });
    expect(env).toMatchObject({ protocol: 2, taskName: TASK, taskId: ID, args: [MATCH], kwargs: { a: 1 }, retries: 1, eta: null, expires: null, rootId: ID, parentId: null, replyTo: "r", correlationId: ID });
    expect(env.headers.retries).toBe(1);
  });

  it("unwraps typed values nested in header tables and arrays without touching amqplib's table", () => {
    const stamp = { "!": "timestamp", value: 1_714_557_600 };
    const headers = { task: TASK, id: ID, retries: { "!": "signedint", value: 2 }, timelimit: [null, stamp], stamps: { at: stamp, plain: "x" }, lang: "py" };
    const original = structuredClone(headers);
    const env = decodeTask(Buffer.from("[[], {}, {}]"), { ...JSON_PROPS, headers }, { maxBytes: 1024 });
    expect(env.retries).toBe(2);
    expect(env.headers).toEqual({ task: TASK, id: ID, retries: 2, timelimit: [null, 1_714_557_600], stamps: { at: 1_714_557_600, plain: "x" }, lang: "py" });
    expect(headers).toEqual(original);
  });

  it("hands a header table with nothing to unwrap through as it is (no copy per delivery)", () => {
    const headers = { task: TASK, id: ID, retries: 0, timelimit: [null, null], argsrepr: "()", stamps: { a: ["b"] } };
    const env = decodeTask(Buffer.from("[[], {}, {}]"), { ...JSON_PROPS, headers }, { maxBytes: 1024 });
    expect(env.headers).toBe(headers);
  });

  it("decodes the captured Celery body with plain (py-amqp style) headers", () => {
    const env = decodeTask(Buffer.from(CAPTURED_BODY), { ...JSON_PROPS, correlationId: ID, replyTo: "", headers: { lang: "py", task: TASK, id: ID, root_id: ID, parent_id: null, retries: 0, eta: null, expires: null } }, { maxBytes: 1 << 20 });
    expect(env).toMatchObject({ protocol: 2, taskName: TASK, taskId: ID, args: [MATCH], kwargs: {}, replyTo: null });
  });

  it("decodes protocol v1 from the body", () => {
    const m = encodeTaskV1({ taskName: TASK, taskId: ID, args: [MATCH], retries: 3, eta: "2024-05-01T10:00:00Z" });
    expect(decodeTask(m.content, m.properties, { maxBytes: 1 << 20 })).toMatchObject({ protocol: 1, taskName: TASK, taskId: ID, args: [MATCH], kwargs: {}, retries: 3, eta: "2024-05-01T10:00:00Z", expires: null });
  });

  it("lists the canvas parts a task carries (none for Celery's null embed; v1 keeps callbacks, errbacks, chord in the body)", () => {
    const v2 = encodeTaskV2({ taskName: TASK, taskId: ID, args: [MATCH] });
    expect(decodeTask(v2.content, v2.properties, { maxBytes: 1 << 20 }).workflow).toEqual([]);
    const sig = { task: "notify", args: [], kwargs: {}, options: {} };
    const linked = Buffer.from(JSON.stringify([[MATCH], {}, { callbacks: [sig], errbacks: [], chain: null, chord: sig }]));
    expect(decodeTask(linked, v2.properties, { maxBytes: 1 << 20 }).workflow).toEqual(["callbacks", "chord"]);
    const v1 = Buffer.from(JSON.stringify({ task: TASK, id: ID, args: [MATCH], kwargs: {}, callbacks: null, errbacks: [sig] }));
    expect(decodeTask(v1, JSON_PROPS, { maxBytes: 1 << 20 }).workflow).toEqual(["errbacks"]);
  });

  it("accepts a missing content encoding and a charset parameter (JSON is UTF-8)", () => {
    const m = encodeTaskV1({ taskName: TASK, taskId: ID, args: [] });
    expect(decodeTask(m.content, { contentType: "application/json; charset=utf-8" }, { maxBytes: 1024 }).taskId).toBe(ID);
  });

  it("reads a hybrid message (a protocol 2 task header over a protocol 1 body) as Celery's hybrid_to_proto2 does: the body's fields, the headers winning", () => {
    const body = { task: "other.name", id: "body-id", args: [MATCH], kwargs: { k: 1 }, retries: 0, eta: null, callbacks: [{ task: "notify" }] };
    const env = decodeTask(Buffer.from(JSON.stringify(body)), { ...JSON_PROPS, headers: { task: TASK, id: ID, retries: 2, root_id: "root-1" } }, { maxBytes: 4096 });
    expect(env).toMatchObject({ protocol: 1, taskName: TASK, taskId: ID, args: [MATCH], kwargs: { k: 1 }, retries: 2, rootId: "root-1", parentId: null, workflow: ["callbacks"] });
    // Without headers of its own, the body's.
    expect(decodeTask(Buffer.from(JSON.stringify(body)), { ...JSON_PROPS, headers: { task: TASK } }, { maxBytes: 4096 })).toMatchObject({ taskName: TASK, taskId: "body-id", retries: 0 });
  });

  it("reads a JSON body as UTF-8 whatever its content encoding says, as kombu does ('binary': a body kombu published as bytes)", () => {
    const m = encodeTaskV1({ taskName: TASK, taskId: ID, args: [{ home_team: "Tréville" }] });
    for (const contentEncoding of ["binary", "latin-1", "ascii-8bit", 7]) {
      expect(decodeTask(m.content, { contentType: "application/json", contentEncoding }, { maxBytes: 1024 }).args, String(contentEncoding)).toEqual([{ home_team: "Tréville" }]);
    }
  });

  it("reads Python's NaN, Infinity and -Infinity (json.dumps writes them) as null; a string holding them stays", () => {
    const body = '[[{"home_team": "NaN", "attendance": NaN, "odds": [Infinity, -Infinity, -1], "note": "say \\"NaN\\" Infinity"}], {}, {}]';
    const env = decodeTask(Buffer.from(body), { ...JSON_PROPS, headers: { task: TASK, id: ID } }, { maxBytes: 1024 });
    expect(env.args).toEqual([{ home_team: "NaN", attendance: null, odds: [null, null, -1], note: 'say "NaN" Infinity' }]);
    // Still malformed: a NaN is not the only thing wrong.
    expect(refusal(() => decodeTask(Buffer.from("[[NaN, oops], {}, {}]"), { ...JSON_PROPS, headers: { task: TASK, id: ID } }, { maxBytes: 1024 })).code).toBe("malformed_json");
  });

  it("gives the task the text of kombu >= 5.3's tagged values (datetime, date, Decimal, UUID), in args and kwargs; other objects with __type__ stay", () => {
    const tagged = (type: string, value: string) => ({ __type__: type, __value__: value });
    const body = [[{ match_date: tagged("date", "2026-10-18"), scraped_at: tagged("datetime", "2026-10-18T06:00:00.123456+00:00"), extra: { __type__: "point", __value__: "1,2" } }], { fee: tagged("decimal", "12.50"), ids: [tagged("uuid", "0b0c8a3e-58b5-4c43-9d8e-0c8f0f5a7a11")] }, {}];
    const env = decodeTask(Buffer.from(JSON.stringify(body)), { ...JSON_PROPS, headers: { task: TASK, id: ID } }, { maxBytes: 4096 });
    expect(env.args).toEqual([{ match_date: "2026-10-18", scraped_at: "2026-10-18T06:00:00.123456+00:00", extra: { __type__: "point", __value__: "1,2" } }]);
    expect(env.kwargs).toEqual({ fee: "12.50", ids: ["0b0c8a3e-58b5-4c43-9d8e-0c8f0f5a7a11"] });
  });

  it("decompresses a body Celery compressed (zlib stream or gzip under application/x-gzip; brotli), within the size bound", () => {
    const m = encodeTaskV2({ taskName: TASK, taskId: ID, args: [MATCH] });
    const headers = (compression: string) => ({ ...m.properties, headers: { ...m.properties.headers, compression } });
    for (const [compression, body] of [
      ["application/x-gzip", deflateSync(m.content)],
      ["application/x-gzip", gzipSync(m.content)],
      [" Application/X-Brotli ", brotliCompressSync(m.content)],
    ] as const) {
      expect(decodeTask(body, headers(compression), { maxBytes: m.content.length }).args).toEqual([MATCH]);
      // The bound applies to what it expands to, not only to the compressed bytes.
      expect(refusal(() => decodeTask(body, headers(compression), { maxBytes: m.content.length - 1 })).code).toBe("message_too_large");
    }
  });

  const v1 = (body: unknown) => Buffer.from(JSON.stringify(body));
  const v2Compressed = (compression: unknown, body: Buffer) => () => decodeTask(body, { ...JSON_PROPS, headers: { task: TASK, id: ID, compression } }, { maxBytes: 1024 });
  const cases: [string, () => unknown][] = [
    ["unsupported_compression", v2Compressed("application/x-bz2", Buffer.from("BZh91AY&SY"))],
    ["unsupported_compression", v2Compressed("zlib", deflateSync("[[], {}, {}]"))],
    ["unsupported_compression", v2Compressed(5, deflateSync("[[], {}, {}]"))],
    ["message_too_large", v2Compressed("application/x-gzip", deflateSync(Buffer.alloc(1 << 18, 0x20)))], // 278 bytes, 256 KiB once inflated
    ["malformed_message", v2Compressed("application/x-gzip", Buffer.from("[[], {}, {}]"))],
    ["malformed_json", v2Compressed("application/x-gzip", deflateSync("{not json"))],
    ["unsupported_content_type", () => decodeTask(Buffer.from("\x80\x04"), { contentType: "application/x-python-serialize", contentEncoding: "binary" }, { maxBytes: 1024 })],
    ["unsupported_content_type", () => decodeTask(v1({ task: TASK, id: ID }), {}, { maxBytes: 1024 })],
    ["unsupported_content_type", () => decodeTask(v1({ task: TASK, id: ID }), { contentType: "application/x-yaml", contentEncoding: "utf-8" }, { maxBytes: 1024 })],
    ["message_too_large", () => decodeTask(Buffer.alloc(2048, 0x20), JSON_PROPS, { maxBytes: 1024 })],
    ["malformed_json", () => decodeTask(Buffer.from("{not json"), JSON_PROPS, { maxBytes: 1024 })],
    ["malformed_json", () => decodeTask(Buffer.from([0x22, 0xff, 0xfe, 0x22]), JSON_PROPS, { maxBytes: 1024 })],
    ["malformed_message", () => decodeTask(Buffer.from('{"kwargs": {}}'), { ...JSON_PROPS, headers: { task: TASK, id: ID } }, { maxBytes: 1024 })],
    ["malformed_message", () => decodeTask(Buffer.from('{"args": 5}'), { ...JSON_PROPS, headers: { task: TASK, id: ID } }, { maxBytes: 1024 })],
    ["malformed_message", () => decodeTask(Buffer.from('[{"a": 1}, {}, {}]'), { ...JSON_PROPS, headers: { task: TASK, id: ID } }, { maxBytes: 1024 })],
    ["malformed_message", () => decodeTask(Buffer.from('[[], [], {}]'), { ...JSON_PROPS, headers: { task: TASK, id: ID } }, { maxBytes: 1024 })],
    ["malformed_message", () => decodeTask(Buffer.from("[[], {}, {}]"), { ...JSON_PROPS, headers: { task: TASK, id: ID, retries: "many" } }, { maxBytes: 1024 })],
    ["malformed_message", () => decodeTask(v1([1, 2]), JSON_PROPS, { maxBytes: 1024 })],
    ["malformed_message", () => decodeTask(v1({ task: TASK, id: ID, args: "x" }), JSON_PROPS, { maxBytes: 1024 })],
    ["malformed_message", () => decodeTask(v1({ task: TASK, id: ID, eta: 5 }), JSON_PROPS, { maxBytes: 1024 })],
    ["missing_task_name", () => decodeTask(v1({ id: ID, args: [] }), JSON_PROPS, { maxBytes: 1024 })],
    ["missing_task_name", () => decodeTask(Buffer.from("[[], {}, {}]"), { ...JSON_PROPS, headers: { task: "", id: ID } }, { maxBytes: 1024 })],
    ["missing_task_id", () => decodeTask(v1({ task: TASK, args: [] }), JSON_PROPS, { maxBytes: 1024 })],
    ["missing_task_id", () => decodeTask(Buffer.from("[[], {}, {}]"), { ...JSON_PROPS, headers: { task: TASK } }, { maxBytes: 1024 })],
    // Longer than an AMQP correlation id: neither a retry copy nor an rpc reply could carry it.
    ["invalid_task_id", () => decodeTask(v1({ id: "x".repeat(256), task: TASK, args: [] }), JSON_PROPS, { maxBytes: 4096 })],
    ["invalid_task_id", () => decodeTask(Buffer.from("[[], {}, {}]"), { ...JSON_PROPS, headers: { task: TASK, id: "é".repeat(128) } }, { maxBytes: 1024 })],
  ];
  for (const [code, run] of cases) {
    it(`refuses with ${code}: ${run.toString().slice(6, 110)}`, () => {
      const err = refusal(run);
      expect(err.code).toBe(code);
      expect(err.kind).toBe("permanent");
    });
  }

  it("checks the size before anything else", () => {
    expect(refusal(() => decodeTask(Buffer.alloc(2048), { contentType: "text/plain" }, { maxBytes: 1024 })).code).toBe("message_too_large");
  });
});
