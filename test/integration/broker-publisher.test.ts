/**
 * MatchQueueClient against a real RabbitMQ: confirmed submits, validation before publishing,
 * at-least-once across a connection the broker kills mid-stream, and clear startup failures.
 */
import { connect, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MatchQueueClient } from "../../src/broker/publisher.js";
import { decodeTask, REPR_MAX_CHARS } from "../../src/celery/codec.js";
import { celerySaferepr } from "../../src/celery/python-text.js";
import { loadConfig } from "../../src/config.js";
import { validateForConsumer } from "../../src/contract/index.js";
import { MatchflowError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { createVhost, managementApi, type TestVhost } from "../helpers/rabbit.js";

const config = loadConfig({ PUBLISH_CONFIRM_WINDOW: "50" });

function match(i: number): Record<string, unknown> {
  return { home_team: `Home ${i}`, away_team: `Away ${i}`, match_date: "2025-09-06", age_group: "U14", match_type: "League", external_match_id: `m-${i}` };
}

let vhost: TestVhost;
let reader: ChannelModel;

async function clientFor(v: TestVhost, protocol: 1 | 2 = 2): Promise<MatchQueueClient> {
  return MatchQueueClient.connect({
    url: v.url,
    queueType: "classic",
    topology: config.topology,
    retry: config.retry,
    publish: { ...config.publish, protocol },
    maxMessageBytes: config.maxMessageBytes,
    log: silentLogger,
  });
}

/** Drains the work queue, decoding each message the way the worker does. */
async function drain(model: ChannelModel): Promise<{ taskId: string; externalId: string; protocol: number }[]> {
  const ch = await model.createChannel();
  const out: { taskId: string; externalId: string; protocol: number }[] = [];
  for (;;) {
    const msg = await ch.get("matches", { noAck: true });
    if (!msg) break;
    const env = decodeTask(msg.content, msg.properties, { maxBytes: config.maxMessageBytes });
    const valid = validateForConsumer(env.args[0]);
    if (!valid.ok) throw new Error(`consumer refused a published match: ${JSON.stringify(valid.issues)}`);
    out.push({ taskId: env.taskId, externalId: valid.match.external_match_id, protocol: env.protocol });
  }
  await ch.close();
  return out;
}


/** Publishes one match with this argsrepr budget and takes it back: its argsrepr header and args. */
async function publishOne(m: Record<string, unknown>, argsreprMax: number, url = vhost.url): Promise<{ argsrepr: string; args: unknown[] }> {
  const client = await MatchQueueClient.connect({
    url,
    queueType: "classic",
    topology: config.topology,
    retry: config.retry,
    publish: { ...config.publish, argsreprMax },
    maxMessageBytes: config.maxMessageBytes,
    log: silentLogger,
  });
  try {
    await client.submitMatch(m);
  } finally {
    await client.close();
  }
  const ch = await reader.createChannel();
  const msg = await ch.get("matches", { noAck: true });
  await ch.close();
  if (!msg) throw new Error("nothing queued");
  const env = decodeTask(msg.content, msg.properties, { maxBytes: config.maxMessageBytes });
  return { argsrepr: msg.properties.headers?.argsrepr as string, args: env.args };
}

beforeAll(async () => {
  vhost = await createVhost("pub");
  reader = await connect(vhost.url);
});

afterAll(async () => {
  await reader?.close().catch(() => undefined);
  await vhost?.drop();
});

describe("MatchQueueClient on RabbitMQ", () => {
  it("submits valid matches with confirms and never queues invalid ones", async () => {
    const client = await clientFor(vhost);
    expect(await client.checkConnection()).toBe(true);
    const input: unknown[] = Array.from({ length: 300 }, (_, i) => match(i));
    input.splice(10, 0, { home_team: "only one team" });
    input.splice(20, 0, "not an object");
    const progress: number[] = [];
    const report = await client.submitMatches(input, { onProgress: (done) => progress.push(done) });
    await client.close();
    expect(await client.checkConnection()).toBe(false);

    expect(report.submitted).toHaveLength(300);
    expect(report.invalid.map((i) => i.index)).toEqual([10, 20]);
    expect(report.invalid[0]?.errors.some((e) => e.field === "away_team")).toBe(true);
    expect(report.failed).toEqual([]);
    expect(progress.at(-1)).toBe(302);

    const queued = await drain(reader);
    expect(queued).toHaveLength(300);
    expect(new Set(queued.map((q) => q.externalId))).toEqual(new Set(report.submitted.map((s) => s.externalMatchId)));
    expect(new Set(queued.map((q) => q.taskId))).toEqual(new Set(report.submitted.map((s) => s.taskId)));
    expect(queued.every((q) => q.protocol === 2)).toBe(true);
  });

  it("submitMatch returns the task id, fills scraped_at, throws ContractViolation for an invalid match", async () => {
    const client = await clientFor(vhost, 1);
    const taskId = await client.submitMatch(match(1));
    await expect(client.submitMatch({ home_team: "x" })).rejects.toMatchObject({ name: "ContractViolation", code: "contract_violation" });
    await client.close();
    const ch = await reader.createChannel();
    const msg = await ch.get("matches", { noAck: true });
    await ch.close();
    if (!msg) throw new Error("nothing queued");
    const env = decodeTask(msg.content, msg.properties, { maxBytes: 1 << 20 });
    expect(env).toMatchObject({ protocol: 1, taskId });
    expect(typeof (env.args[0] as { scraped_at?: unknown }).scraped_at).toBe("string");
  });

  it("cuts the argsrepr header to PUBLISH_ARGSREPR_MAX the way Celery's saferepr cuts, the match id first", async () => {
    const long = { ...match(7), location: "x".repeat(300), notes: "a long note ".repeat(40) };
    const headersFor = (argsreprMax: number) => publishOne(long, argsreprMax);
    expect(config.publish.argsreprMax).toBe(160);
    const short = await headersFor(config.publish.argsreprMax);
    // The body keeps every field; only the display header is cut.
    expect((short.args[0] as { notes?: string }).notes).toBe(long.notes.trim());
    expect(short.argsrepr).toBe(celerySaferepr(short.args, 160));
    expect(short.argsrepr.startsWith("[{'external_match_id': 'm-7', 'home_team': 'Home 7'")).toBe(true);
    expect(short.argsrepr.endsWith(", ...}]")).toBe(true);
    expect(short.argsrepr.length).toBeLessThan(200);
    // Celery's own budget, for who wants the full repr in Flower.
    const full = await headersFor(1024);
    expect(full.argsrepr).toBe(celerySaferepr(full.args, REPR_MAX_CHARS));
    expect(full.argsrepr.length).toBeGreaterThan(1000);
  });

  it("a PUBLISH_ARGSREPR_MAX larger than the broker's frame_max can carry is cut to fit: the longest match still goes (no FRAME_ERROR)", async () => {
    // ~9 KB of repr in 3-byte characters against the smallest frame_max RabbitMQ allows.
    const longest = { ...match(8), location: "\u20ac".repeat(500), notes: "\u20ac".repeat(2000), division: "\u20ac".repeat(200) };
    const got = await publishOne(longest, 65_536, `${vhost.url}?frameMax=4096`);
    expect((got.args[0] as { notes?: string }).notes).toBe(longest.notes);
    expect(got.argsrepr.startsWith("[{'external_match_id': 'm-8'")).toBe(true);
    expect(got.argsrepr.endsWith(", ...}]")).toBe(true);
    expect(Buffer.byteLength(got.argsrepr)).toBeLessThan(4096);
  });

  it("republishes what was not confirmed when the broker kills the connection (at-least-once)", async () => {
    const own = await createVhost("pubkill");
    const model = await connect(own.url);
    try {
      const client = await clientFor(own);
      await client.submitMatch(match(-1));
      // Find the publisher's connection in the management API (listed a little after it opens).
      let connectionName: string | undefined;
      for (let i = 0; i < 400 && !connectionName; i++) {
        const res = await managementApi("GET", `/vhosts/${encodeURIComponent(own.name)}/connections`);
        const conns = res.ok ? ((await res.json()) as { name: string; client_properties?: { connection_name?: string } }[]) : [];
        connectionName = conns.find((c) => c.client_properties?.connection_name === "matchflow publisher")?.name;
        if (!connectionName) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      if (!connectionName) throw new Error("the publisher connection never showed up in the management API");
      const name = connectionName;

      const total = 10_000;
      let kill: Promise<Response> | undefined;
      let doneAtKill = -1;
      const report = await client.submitMatches(
        Array.from({ length: total }, (_, i) => match(i)),
        {
          onProgress: (done) => {
            // Mid-stream: plenty sent, plenty still to send, some awaiting confirms.
            if (done === 500 && !kill) {
              doneAtKill = done;
              kill = managementApi("DELETE", `/connections/${encodeURIComponent(name)}`);
            }
          },
        },
      );
      await client.close();
      expect((await kill)?.ok).toBe(true);
      expect(doneAtKill).toBe(500);
      expect(report.failed.slice(0, 3)).toEqual([]);
      expect(report.submitted).toHaveLength(total);
      const queued = (await drain(model)).filter((q) => q.externalId !== "m--1");
      // Every confirmed match is there at least once; a duplicate keeps its task id.
      expect(new Set(queued.map((q) => q.externalId)).size).toBe(total);
      const idsByMatch = new Map(report.submitted.map((s) => [s.externalMatchId, s.taskId]));
      for (const q of queued) expect(q.taskId).toBe(idsByMatch.get(q.externalId));
    } finally {
      await model.close().catch(() => undefined);
      await own.drop();
    }
  });

  it("reports a match as failed, not submitted, when no queue takes it (queue deleted under the publisher)", async () => {
    const own = await createVhost("pubgone");
    const model = await connect(own.url);
    try {
      const client = await clientFor(own);
      const ch = await model.createChannel();
      await ch.deleteQueue("matches");
      await ch.close();
      await expect(client.submitMatch(match(1))).rejects.toMatchObject({ code: "unroutable" });
      const report = await client.submitMatches([match(2), match(3)]);
      expect(report.submitted).toEqual([]);
      expect(report.failed.map((f) => f.externalMatchId)).toEqual(["m-2", "m-3"]);
      // Each with the task id it was sent under (distinct, UUIDs ordered by time: celery/task-id.ts).
      expect(new Set(report.failed.map((f) => f.taskId)).size).toBe(2);
      for (const f of report.failed) expect(f.taskId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(report.failed[0]?.error).toMatch(/no queue is bound to exchange "matches" with routing key "matches.process"/);
      await client.close();
    } finally {
      await model.close().catch(() => undefined);
      await own.drop();
    }
  });

  it("fails fast with broker_unreachable naming host, port and vhost, never the password", async () => {
    const err = await MatchQueueClient.connect({
      url: "amqp://guest:s3cret@127.0.0.1:1/nowhere",
      queueType: "classic",
      topology: config.topology,
      retry: config.retry,
      publish: config.publish,
      maxMessageBytes: config.maxMessageBytes,
      log: silentLogger,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MatchflowError);
    expect((err as MatchflowError).code).toBe("broker_unreachable");
    expect((err as MatchflowError).kind).toBe("transient");
    expect((err as Error).message).toContain("127.0.0.1:1 vhost nowhere");
    expect((err as Error).message).not.toContain("s3cret");
  });
});
