/**
 * An idle worker whose database goes silent (the TCP proxy's blackhole: sockets open, nothing
 * answers) says so on /readyz and `matchflow_database_up` within seconds, not after pg's read
 * timeout (65 s at the default DB_STATEMENT_TIMEOUT) plus a connect timeout.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { until } from "../helpers/cli.js";
import { startTcpProxy, type TcpProxy } from "../helpers/tcp-proxy.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

let t: WorkerEnv;
let proxy: TcpProxy;

beforeAll(async () => {
  t = await createWorkerEnv("obsdbpart");
  const u = new URL(t.db.url);
  proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
});
afterEach(async () => {
  proxy.heal();
  await t.stopAll();
});
afterAll(async () => {
  await proxy?.close();
  await t?.teardown();
});

function viaProxy(url: string): string {
  const u = new URL(url);
  u.hostname = "127.0.0.1";
  u.port = String(proxy.port);
  return u.toString();
}

describe("database silent partition, idle worker", () => {
  it("/readyz 503 and matchflow_database_up 0 within 30 s of the partition, ready again once it heals", async () => {
    const w = await t.startWorker({ DATABASE_URL: viaProxy(t.db.url) });
    const port = Number((await w.waitForLog((l) => l.msg === "ops HTTP server listening (/metrics, /healthz, /readyz)")).port);
    const probe = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return { status: res.status, databaseUp: /^matchflow_database_up (\S+)$/m.exec(metrics)?.[1] };
    };
    expect(await probe()).toEqual({ status: 200, databaseUp: "1" });
    proxy.blackhole();
    const partitionedAt = Date.now();
    // The idle check (every 10 s) pings; two unanswered pings of 5 s each are an outage.
    await until(async () => (await probe()).status === 503, 40_000, "/readyz 503 during the partition");
    expect(Date.now() - partitionedAt).toBeLessThan(30_000);
    expect(await probe()).toEqual({ status: 503, databaseUp: "0" });
    expect(w.logs.some((l) => l.msg === "database unreachable")).toBe(true);
    proxy.heal();
    await until(async () => (await probe()).status === 200, 40_000, "/readyz 200 after the partition");
    expect(await probe()).toEqual({ status: 200, databaseUp: "1" });
  }, 120_000);
});
