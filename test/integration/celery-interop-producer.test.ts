/**
 * Python producers -> matchflow: Celery's `send_task` (protocol 2) and the seed's raw protocol-1
 * JSON publish both decode (decodeTask + validateForConsumer) into the same MatchData; our
 * protocol-2 encoding of the same task is byte-identical to Celery's; and a Celery producer
 * declaring after matchflow works.
 */
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type ChannelModel, type GetMessage } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { amqpInt, decodeTask, encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { validateForConsumer, type MatchData } from "../../src/contract/index.js";
import { silentLogger } from "../../src/log.js";
import { prepareMessage } from "../../src/worker/prepare.js";
import { schemaErrors } from "../helpers/json-schema.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";
import { runCeleryProducer } from "../interop/celery-process.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const dir = mkdtempSync(join(tmpdir(), "mf-producer-"));
const MATCHES = [
  { home_team: "Société Ñandú 'FC'", away_team: 'Away "B"', match_date: "2025-09-06", age_group: "U14", match_type: "League", home_score: 2, away_score: 0, external_match_id: "py-1" },
  { home_team: "Home", away_team: "Away", match_date: "2025-10-11", age_group: "U17", match_type: "League", league: "Academy", match_status: "scheduled", external_match_id: "py-2" },
];

let vhost: TestVhost;
let model: ChannelModel;

beforeAll(async () => {
  vhost = await createVhost("cprod");
  model = await connect(vhost.url);
  writeFileSync(join(dir, "matches.json"), JSON.stringify(MATCHES));
});

afterAll(async () => {
  await model?.close().catch(() => undefined);
  await vhost?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function takeAll(n: number): Promise<GetMessage[]> {
  const ch = await model.createChannel();
  const out: GetMessage[] = [];
  for (let i = 0; i < 400 && out.length < n; i++) {
    const msg = await ch.get("matches", { noAck: true });
    if (msg) out.push(msg);
    else await new Promise((resolve) => setTimeout(resolve, 25));
  }
  await ch.close();
  return out;
}

function decodeMatch(msg: GetMessage): { taskId: string; protocol: number; match: MatchData; raw: unknown } {
  const env = decodeTask(msg.content, msg.properties, { maxBytes: config.maxMessageBytes });
  expect(env.taskName).toBe("celery_tasks.match_tasks.process_match_data");
  const valid = validateForConsumer(env.args[0]);
  if (!valid.ok) throw new Error(JSON.stringify(valid.issues));
  // What a Python producer really sent, held against the published JSON Schema too.
  expect(schemaErrors(env.args[0])).toEqual([]);
  expect(valid.unknownFields).toEqual([]);
  return { taskId: env.taskId, protocol: env.protocol, match: valid.match, raw: env.args[0] };
}

describe("Python Celery producers -> matchflow decoding", () => {
  it("matchflow declares, then a Celery producer declares the same queue without error", async () => {
    expect((await declareTopology(model, names, { queueType: "classic", log: silentLogger })).warnings).toEqual([]);
    await expect(runCeleryProducer(vhost.url, "declare")).resolves.toEqual([]);
  });

  it("send_task(countdown=30) carries an eta that the worker reads as the task's due time", async () => {
    const before = Date.now();
    const [taskId] = await runCeleryProducer(vhost.url, "v2-countdown", join(dir, "matches.json"), 30);
    const after = Date.now();
    const [msg] = await takeAll(2); // both matches, with the same countdown
    const message = { content: msg!.content, properties: msg!.properties, exchange: "matches", routingKey: "matches.process", redelivered: false, receivedAt: after, token: 1 };
    const prepared = prepareMessage(message, { taskName: names.taskName, maxMessageBytes: config.maxMessageBytes, now: after });
    expect(prepared.ok && prepared.envelope.taskId).toBe(taskId);
    const dueAt = prepared.ok ? prepared.dueAt : undefined;
    // Celery computes now + countdown at send time, with microseconds and a UTC offset.
    expect(dueAt).toBeGreaterThanOrEqual(before + 30_000 - 1);
    expect(dueAt).toBeLessThanOrEqual(after + 30_000);
  });

  it("a link callback and a chain from Celery's canvas are seen as the task's workflow parts, the match intact", async () => {
    const ids = await runCeleryProducer(vhost.url, "v2-workflow", join(dir, "matches.json"));
    const msgs = await takeAll(2);
    const envelopes = msgs.map((m) => decodeTask(m.content, m.properties, { maxBytes: config.maxMessageBytes }));
    expect(envelopes.map((e) => e.taskId).sort()).toEqual([...ids].sort());
    const byMatch = new Map(envelopes.map((e) => [(e.args[0] as { external_match_id: string }).external_match_id, e]));
    expect(byMatch.get("py-1")?.workflow).toEqual(["callbacks"]);
    expect(byMatch.get("py-2")?.workflow).toEqual(["chain"]);
    for (const m of msgs) expect(decodeMatch(m).match.external_match_id).toMatch(/^py-[12]$/);
  });

  it("send_task(compression=...): zlib (Celery's default method) decodes into the same match; bz2 is refused by name", async () => {
    const zlibIds = await runCeleryProducer(vhost.url, "v2-compressed", join(dir, "matches.json"), "zlib");
    const zlib = await takeAll(2);
    expect(zlib.map((m) => (m.properties.headers as Record<string, unknown>).compression)).toEqual(["application/x-gzip", "application/x-gzip"]);
    const decoded = zlib.map(decodeMatch);
    expect(decoded.map((d) => d.taskId)).toEqual(zlibIds);
    expect(decoded.map((d) => d.raw)).toEqual(MATCHES);

    await runCeleryProducer(vhost.url, "v2-compressed", join(dir, "matches.json"), "bzip2");
    const bz2 = await takeAll(2);
    expect(bz2).toHaveLength(2);
    for (const m of bz2) {
      const decode = () => decodeTask(m.content, m.properties, { maxBytes: config.maxMessageBytes });
      expect(decode).toThrow(/compression "application\/x-bz2" is not supported/);
      expect(decode).toThrow(expect.objectContaining({ code: "unsupported_compression" }) as Error);
    }
  });

  it("reads a Celery producer's integer headers of every size (py-amqp's 'L', signed 64-bit, closed the connection)", async () => {
    const ids = await runCeleryProducer(vhost.url, "v2-headers", join(dir, "matches.json"));
    const got = await takeAll(2);
    expect(got.map((m) => decodeMatch(m).taskId)).toEqual(ids);
    expect(got[0]!.properties.headers).toMatchObject({ sent_at_ms: 1764680000123, below: -(2 ** 40), small: 200, negative: -5 });
  });

  it("a body kombu published as bytes (content_encoding 'binary') with Python's NaN in a field decodes as Celery's worker reads it: the NaN as null", async () => {
    const ids = await runCeleryProducer(vhost.url, "v1-bytes", join(dir, "matches.json"));
    const got = await takeAll(2);
    expect(got.map((m) => String(m.properties.contentEncoding))).toEqual(["binary", "binary"]);
    expect(got.map((m) => m.content.toString("utf8").includes('"attendance": NaN'))).toEqual([true, true]);
    const decoded = got.map((m) => decodeTask(m.content, m.properties, { maxBytes: config.maxMessageBytes }));
    expect(decoded.map((d) => d.taskId)).toEqual(ids);
    expect(decoded.map((d) => d.args[0])).toEqual(MATCHES.map((m) => ({ ...m, attendance: null })));
    expect(decoded.map((d) => validateForConsumer(d.args[0]).ok)).toEqual([true, true]);
  });

  it("send_task (v2) and a raw v1 publish decode into the same MatchData", async () => {
    const v2Ids = await runCeleryProducer(vhost.url, "v2", join(dir, "matches.json"));
    const v2 = (await takeAll(2)).map((m) => ({ msg: m, ...decodeMatch(m) }));
    const v1Ids = await runCeleryProducer(vhost.url, "v1", join(dir, "matches.json"));
    const v1 = (await takeAll(2)).map(decodeMatch);

    expect(v2.map((d) => d.protocol)).toEqual([2, 2]);
    expect(v1.map((d) => d.protocol)).toEqual([1, 1]);
    expect(v2.map((d) => d.taskId)).toEqual(v2Ids);
    expect(v1.map((d) => d.taskId)).toEqual(v1Ids);
    expect(v1.map((d) => d.match)).toEqual(v2.map((d) => d.match));
    expect(v2.map((d) => d.raw)).toEqual(MATCHES);
    expect(v2[0]!.match).toMatchObject({ home_team: "Société Ñandú 'FC'", season: "2025-26", match_status: "completed" });

    // Our encoder, given what Celery chose (task id, origin, reply_to), reproduces Celery's message,
    // less the headers whose value is null (Celery reads an absent header as null).
    const celery = v2[0]!.msg;
    const headers = celery.properties.headers as Record<string, unknown>;
    const ours = encodeTaskV2({
      taskName: String(headers.task),
      taskId: String(headers.id),
      args: [MATCHES[0]],
      origin: String(headers.origin),
      replyTo: String(celery.properties.replyTo),
    });
    expect(ours.content.toString("utf8")).toBe(celery.content.toString("utf8"));
    const isNull = (v: unknown) => v === null || (Array.isArray(v) && v.every((x) => x === null));
    const celeryNonNull = Object.fromEntries(Object.entries(headers).filter(([, v]) => !isNull(v)));
    expect(Object.keys(headers).filter((k) => isNull(headers[k])).sort()).toEqual(["eta", "expires", "group", "group_index", "parent_id", "shadow", "timelimit"]);
    expect({ ...ours.properties.headers, retries: 0 }).toEqual(celeryNonNull);
    expect(Object.keys(ours.properties.headers)).toEqual(Object.keys(headers).filter((k) => k in celeryNonNull));
    expect(ours.properties.headers.retries).toEqual(amqpInt(0));
    const theirs = celery.properties as unknown as Record<string, unknown>;
    expect(ours.properties).toMatchObject({
      contentType: theirs.contentType,
      contentEncoding: theirs.contentEncoding,
      correlationId: theirs.correlationId,
      deliveryMode: theirs.deliveryMode,
      priority: theirs.priority,
    });
  });
});
