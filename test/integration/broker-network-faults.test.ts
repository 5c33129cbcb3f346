/**
 * The network between the worker and RabbitMQ fails, not the broker (test/serial/
 * worker-broker-restart.test.ts restarts the broker): the worker reaches RabbitMQ through a TCP
 * proxy (test/helpers/tcp-proxy.ts) that cuts every connection (reset) or partitions the link
 * silently (a blackhole: only the AMQP heartbeat can tell). In both cases the worker must stay
 * up, reconnect once the link is back and end with every match exactly once in the table,
 * nothing dead-lettered and the queue drained.
 */
import { connect } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { CliProcess } from "../helpers/cli.js";
import { until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { startTcpProxy, viaProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

let t: WorkerEnv;
let proxy: TcpProxy;

// Small, so that a partition is noticed within seconds: amqplib closes the connection after two
// heartbeat intervals without a byte from the broker (the default, 30 s, would take a minute).
const HEARTBEAT_S = 2;

beforeAll(async () => {
  t = await createWorkerEnv("netfault");
});
afterEach(async () => {
  await t.killAll();
  await proxy?.close();
});
afterAll(async () => t?.teardown());

/** A worker reaching RabbitMQ through a fresh proxy; `heartbeat` false keeps matchflow's default (30 s). */
async function startProxiedWorker(options: { heartbeat?: boolean; env?: Record<string, string> } = {}): Promise<{ w: CliProcess; readyz: () => Promise<number> }> {
  proxy = await startTcpProxy({ host: "127.0.0.1", port: Number(new URL(t.vhost.url).port || 5672) });
  const url = viaProxy(t.vhost.url, proxy, options.heartbeat === false ? {} : { heartbeat: String(HEARTBEAT_S) });
  const w = await t.startWorker({ RABBITMQ_URL: url, ...options.env }, ["--batch-size", "25", "--concurrency", "2"]);
  const port = Number((await w.waitForLog((l) => l.msg === "ops HTTP server listening (/metrics, /healthz, /readyz)")).port);
  return { w, readyz: async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status };
}

/** The index of the first log line matching after line `from`, waiting for it. */
async function logAfter(w: CliProcess, from: number, msg: string, timeoutMs: number): Promise<number> {
  const line = await w.waitForLog((l) => l.msg === msg && w.logs.indexOf(l) >= from, timeoutMs);
  return w.logs.indexOf(line);
}

/** Every match once, the queue drained (checked with the worker gone: nothing unacked then), no dead letter, no retry. */
async function expectExactlyOnce(w: CliProcess, prefix: string, n: number): Promise<void> {
  await until(async () => (await t.rows(prefix)).total === n && (await t.ready()) === 0, 120_000, `all ${n} rows`);
  expect(await t.rows(prefix)).toEqual({ total: n, distinct: n });
  // Still the first process: it neither crashed nor was restarted.
  expect(w.proc.exitCode).toBeNull();
  expect(w.logs.filter((l) => l.outcome === "retried" || l.outcome === "dead_lettered")).toEqual([]);
  await t.stopWorker(w);
  expect(await t.ready()).toBe(0);
  expect(await t.peek()).toEqual([]);
}

describe("network faults between the worker and RabbitMQ", () => {
  it("connections cut mid-stream (reset): reconnects through the same address and ends with every match exactly once", async () => {
    const n = 3000;
    await t.publish(Array.from({ length: n }, (_, i) => makeMatch("sever", i)));
    const { w, readyz } = await startProxiedWorker();
    expect(await readyz()).toBe(200);
    await until(async () => (await t.rows("sever")).total >= 300, 60_000, "300 rows");
    const from = w.logs.length;
    const acceptedBefore = proxy.accepted;
    proxy.sever();
    expect((await t.rows("sever")).total).toBeLessThan(n); // really mid-stream

    await logAfter(w, from, "broker connection lost; reconnecting", 30_000);
    await logAfter(w, from, "broker reconnected: declaring topology and consuming again", 30_000);
    expect(proxy.accepted).toBeGreaterThan(acceptedBefore);
    await expectExactlyOnce(w, "sever", n);
  });

  it("a reset on a slow link (the topology takes seconds to declare again): one consumer afterwards, not two", async () => {
    const n = 1000;
    await t.publish(Array.from({ length: n }, (_, i) => makeMatch("slow", i)));
    const { w } = await startProxiedWorker();
    await until(async () => (await t.rows("slow")).total >= 100, 60_000, "100 rows");
    // 80 ms a round trip: the reconnect's thirty-odd declarations take seconds, well past the
    // half second after which a consumer channel's close asks for a consumer of its own.
    proxy.delay(40);
    const from = w.logs.length;
    proxy.sever();
    const resumed = await logAfter(w, from, "consuming again", 60_000);
    const opened = w.logs.slice(from).filter((l) => l.msg === "consuming");
    expect(opened).toHaveLength(1);
    expect(w.logs.indexOf(opened[0] as (typeof w.logs)[number])).toBeLessThan(resumed);
    const amqp = await connect(t.vhost.url);
    try {
      const ch = await amqp.createChannel();
      expect((await ch.checkQueue("matches")).consumerCount).toBe(1);
    } finally {
      await amqp.close();
    }
    await expectExactlyOnce(w, "slow", n);
  });

  it("a silent partition longer than the heartbeat: detected, not ready meanwhile, reconnects after it heals, every match exactly once", async () => {
    const n = 3000;
    await t.publish(Array.from({ length: n }, (_, i) => makeMatch("hole", i)));
    const { w, readyz } = await startProxiedWorker();
    await until(async () => (await t.rows("hole")).total >= 300, 60_000, "300 rows");
    const from = w.logs.length;
    const cutAt = Date.now();
    proxy.blackhole();
    try {
      // Nothing is refused or reset: only the heartbeat (two intervals, checked every interval) tells.
      const lost = w.logs[await logAfter(w, from, "broker connection lost; reconnecting", (4 * HEARTBEAT_S + 5) * 1000)];
      // Our heartbeat noticed, not a close from the broker (a partition passes none).
      expect(lost?.err).toBe("Heartbeat timeout");
      const detectedMs = Date.now() - cutAt;
      expect(detectedMs).toBeLessThan(4 * HEARTBEAT_S * 1000 + 2000);
      // A lost link is not ready: a probe must not route work (or a rollout) to this worker.
      expect(await readyz()).toBe(503);
      // A reconnect through the partition is accepted by the proxy and then stalls in the AMQP
      // handshake: the connect timeout ends it, and the worker tries again (it does not hang there).
      await logAfter(w, from, "broker reconnect failed", 30_000);
      expect(await readyz()).toBe(503);
      expect(w.proc.exitCode).toBeNull();
      // No row can be acked through the partition; what committed before it is redone, harmlessly.
      expect((await t.rows("hole")).total).toBeLessThan(n);
    } finally {
      proxy.heal();
    }
    const healed = w.logs.length;
    await logAfter(w, healed, "broker reconnected: declaring topology and consuming again", 60_000);
    await until(async () => (await readyz()) === 200, 30_000, "ready again");
    await expectExactlyOnce(w, "hole", n);
  });

  it("a worker told to stop during a partition the heartbeat has not noticed exits 0 soon after the grace period", async () => {
    const n = 2000;
    await t.publish(Array.from({ length: n }, (_, i) => makeMatch("stop", i)));
    // The default heartbeat (30 s): the partition goes unnoticed for a minute or more, far past
    // the grace period. Before, the stop waited for the consumer's cancel and the channels' and
    // connection's close-ok, which never came: the forced exit (70) at grace + 10 s, nothing logged.
    const graceMs = 2000;
    const { w } = await startProxiedWorker({ heartbeat: false, env: { SHUTDOWN_GRACE: `${graceMs}ms` } });
    await until(async () => (await t.rows("stop")).total >= 200, 60_000, "200 rows");
    proxy.blackhole();
    const stopAt = Date.now();
    try {
      w.kill("SIGTERM");
      const { code } = await w.exited;
      expect(code).toBe(0);
      // grace, then at most 3 s for the polite close and 3 s for the connection's close-ok
      expect(Date.now() - stopAt).toBeLessThan(graceMs + 8000);
      expect(w.logs.some((l) => l.msg === "broker did not answer the close (network down?): dropping the connection; its unacked deliveries return to their queue")).toBe(true);
      expect(w.logs.some((l) => l.msg === "worker stopped")).toBe(true);
      expect(w.logs.some((l) => l.msg === "broker connection lost; reconnecting")).toBe(false); // the heartbeat never told
    } finally {
      proxy.heal();
    }
    // Whatever it committed but could not ack comes back and is written again, harmlessly.
    const again = await t.startWorker();
    await expectExactlyOnce(again, "stop", n);
  });
});
