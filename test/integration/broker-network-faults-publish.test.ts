/**
 * The network between a publisher and RabbitMQ fails mid-stream (test/helpers/tcp-proxy.ts): a
 * cut (reset) or a silent partition. At-least-once for the producer: afterwards every match is
 * in the queue or reported failed (a duplicate in the queue is fine, the worker's upsert makes
 * it harmless; a match neither queued nor reported is a loss), the process ends in a bounded
 * time, and its summary and exit code say what happened.
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { connect } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { MatchQueueClient, connectOptionsFrom } from "../../src/broker/publisher.js";
import { decodeTask } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import { trackSpawned, until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";
import { startTcpProxy, viaProxy, type TcpProxy } from "../helpers/tcp-proxy.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const HEARTBEAT_S = 2;
let vhost: TestVhost;
let proxy: TcpProxy;

beforeAll(async () => {
  vhost = await createVhost("netpub");
});
afterEach(async () => {
  await proxy?.close();
});
afterAll(async () => vhost?.drop());

async function proxiedUrl(): Promise<string> {
  proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(vhost.url).port || 5672) });
  return viaProxy(vhost.url, proxy, { heartbeat: String(HEARTBEAT_S) });
}

/** Takes every message out of the work queue (directly, not through the proxy): their external ids. */
async function drainTasks(): Promise<{ externalMatchId: string; taskId: string }[]> {
  const conn = await connect(vhost.url);
  try {
    const ch = await conn.createChannel();
    const tasks: { externalMatchId: string; taskId: string }[] = [];
    for (let m = await ch.get("matches", { noAck: true }); m; m = await ch.get("matches", { noAck: true })) {
      const task = decodeTask(m.content, m.properties, { maxBytes: 1 << 20 });
      tasks.push({ externalMatchId: (task.args[0] as { external_match_id: string }).external_match_id, taskId: task.taskId });
    }
    return tasks;
  } finally {
    await conn.close();
  }
}
const drainIds = async (): Promise<string[]> => (await drainTasks()).map((t) => t.externalMatchId);

/** Messages in the work queue, directly (0 before the publisher has declared it). */
async function queuedCount(): Promise<number> {
  const conn = await connect(vhost.url);
  conn.on("error", () => undefined);
  try {
    const ch = await conn.createChannel();
    ch.on("error", () => undefined);
    return (await ch.checkQueue("matches")).messageCount;
  } catch {
    return 0;
  } finally {
    await conn.close().catch(() => undefined);
  }
}

async function proxiedClient(url: string): Promise<MatchQueueClient> {
  const config = loadConfig({ RABBITMQ_URL: url, PUBLISH_CONFIRM_WINDOW: "200" });
  return MatchQueueClient.connect(connectOptionsFrom(config, url, silentLogger));
}

describe("network faults between a publisher and RabbitMQ", () => {
  it("connections cut mid-stream: what was not confirmed is published again, every match queued", async () => {
    const n = 3000;
    const client = await proxiedClient(await proxiedUrl());
    const acceptedBefore = proxy.accepted;
    let cut = false;
    const report = await client.submitMatches(
      Array.from({ length: n }, (_, i) => makeMatch("pcut", i)),
      {
        onProgress: (done) => {
          if (done === 500 && !cut) {
            cut = true;
            proxy.sever();
          }
        },
      },
    );
    await client.close();
    expect(cut).toBe(true);
    expect(proxy.accepted).toBeGreaterThan(acceptedBefore); // it really reconnected
    expect(report.failed).toEqual([]);
    expect(report.submitted).toHaveLength(n);
    const queued = await drainIds();
    expect(new Set(queued).size).toBe(n);
    expect(queued.every((id) => id.startsWith("pcut-"))).toBe(true);
  });

  it("a silent partition mid-stream, healed once noticed: the heartbeat ends the wait, everything is published again", async () => {
    const n = 3000;
    const client = await proxiedClient(await proxiedUrl());
    let cut = false;
    const submitting = client.submitMatches(
      Array.from({ length: n }, (_, i) => makeMatch("phole", i)),
      {
        onProgress: (done) => {
          if (done === 500 && !cut) {
            cut = true;
            proxy.blackhole();
          }
        },
      },
    );
    try {
      await until(() => cut, 60_000, "the partition");
      await until(async () => !(await client.checkConnection()), (4 * HEARTBEAT_S + 5) * 1000, "the heartbeat noticing the partition");
    } finally {
      proxy.heal();
    }
    const report = await submitting;
    await client.close();
    expect(report.failed).toEqual([]);
    expect(report.submitted).toHaveLength(n);
    expect(new Set(await drainIds()).size).toBe(n);
  });

  it("`matchflow publish` through a partition that does not heal: ends in bounded time, every match queued or reported failed, exit 4", async () => {
    const n = 3000;
    const url = await proxiedUrl();
    const child = spawn(process.execPath, ["--import", "tsx", path.join(ROOT, "src/cli/main.ts"), "publish"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: "warn", RABBITMQ_URL: url, PUBLISH_CONFIRM_WINDOW: "200" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    trackSpawned(child);
    // A child killed after a failure (kill-spawned.ts) must not turn our last write into an uncaught EPIPE.
    child.stdin.on("error", () => undefined);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const lines = Array.from({ length: n }, (_, i) => `${JSON.stringify(makeMatch("pcli", i))}\n`);
    // NDJSON is published as it is read: the first third goes through, then the link goes silent.
    child.stdin.write(lines.slice(0, 1000).join(""));
    await until(async () => (await queuedCount()) >= 500, 60_000, "500 queued before the partition");
    proxy.blackhole();
    const cutAt = Date.now();
    child.stdin.end(lines.slice(1000).join(""));
    const code = await exited;
    const tookMs = Date.now() - cutAt;

    const summary = /^(\d+) submitted, (\d+) invalid, (\d+) failed$/m.exec(stdout);
    expect(summary, `stdout: ${stdout}\nstderr: ${stderr.slice(-2000)}`).not.toBeNull();
    const [submitted, invalid, failed] = (summary as RegExpExecArray).slice(1).map(Number) as [number, number, number];
    expect(invalid).toBe(0);
    expect(submitted + failed).toBe(n);
    expect(failed).toBeGreaterThan(0); // the partition really cut it short
    expect(code).toBe(4);
    // Each failed line names the match and the task id it was sent with.
    const failedTasks = new Map([...stderr.matchAll(/^match \d+ \((pcli-\d+)\): failed: .* \(task ([0-9a-f-]{36})\)$/gm)].map((m) => [m[1] as string, m[2] as string]));
    expect(failedTasks.size).toBe(failed);
    // No silent loss: every match is queued or reported failed (a failed one may be queued too:
    // its confirm was lost in the partition; then under the task id the line gave).
    const queuedTasks = await drainTasks();
    const queued = new Set(queuedTasks.map((t) => t.externalMatchId));
    expect(queued.size).toBeGreaterThanOrEqual(submitted);
    const lost = Array.from({ length: n }, (_, i) => `pcli-${i}`).filter((id) => !queued.has(id) && !failedTasks.has(id));
    expect(lost).toEqual([]);
    const queuedButFailed = queuedTasks.filter((t) => failedTasks.has(t.externalMatchId));
    expect(queuedButFailed.filter((t) => failedTasks.get(t.externalMatchId) !== t.taskId)).toEqual([]);
    // The heartbeat notices in 4-6 s, then the connection's ready timeout (60 s, counted from the
    // loss) fails what is in flight and, at once, the rest. Before, each confirm window's worth
    // waited its own 60 s: 3,000 matches, window 200, a quarter of an hour.
    expect(tookMs).toBeLessThan(90_000);
  }, 150_000);
});
