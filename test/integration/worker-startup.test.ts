/**
 * The worker's start-up when a service is not there yet (a cluster restart, RabbitMQ or
 * PostgreSQL slower than the workers): it waits instead of exiting into a crash loop, answers
 * /healthz, reports not ready, stops cleanly on a signal, and consumes once the service is back.
 *
 * "Not there yet" is real: a port where nothing listens, and later a plain TCP forwarder from
 * that port to the real RabbitMQ; a database that refuses connections (ALLOW_CONNECTIONS false).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PGLITE_LOCK_FILE } from "../../src/db/pglite-lock.js";
import { closedPort } from "../fixtures/feed-server.js";
import type { CliProcess } from "../helpers/cli.js";
import { runCli, spawnCli, until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { adminQuery, createTestDatabase } from "../helpers/pg.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

let t: WorkerEnv;
const running: CliProcess[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  t = await createWorkerEnv("startup");
});
afterEach(async () => {
  for (const w of running.splice(0)) {
    w.kill("SIGKILL");
    await w.exited;
  }
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});
afterAll(async () => t?.teardown());

/** Forwards every connection on `port` to RabbitMQ's (a broker that "comes up" on that port). */
async function forwardToRabbitMQ(port: number, target: URL): Promise<void> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = tcpConnect(Number(target.port || 5672), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("error", () => undefined);
      s.on("close", () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  const close = server.close.bind(server);
  server.close = (cb) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  };
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  servers.push(server);
}

async function countIn(url: string, prefix: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM matches WHERE external_match_id LIKE $1", [`${prefix}-%`]);
    return Number(rows[0]?.n);
  } finally {
    await client.end();
  }
}

function start(env: Record<string, string>): CliProcess {
  const w = spawnCli(["worker"], t.env(env));
  running.push(w);
  return w;
}

/** /readyz's answer (503 until the worker consumes). */
async function readiness(port: number): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  const body = (await res.json()) as Record<string, unknown>;
  expect(res.status).toBe(body.status === "ready" ? 200 : 503);
  return body;
}

async function gauges(port: number): Promise<{ broker: number; database: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
  return { broker: value("matchflow_broker_up"), database: value("matchflow_database_up") };
}

async function opsPort(w: CliProcess): Promise<number> {
  return Number((await w.waitForLog((l) => l.msg === "ops HTTP server listening (/metrics, /healthz, /readyz)")).port);
}

describe("worker start-up", () => {
  it("exits 5 at once, naming the holder, when its embedded database is held by another process (waiting would not help)", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mf-worker-pglite-"));
    const holder = spawn("sleep", ["60"], { stdio: "ignore" });
    try {
      writeFileSync(path.join(dir, PGLITE_LOCK_FILE), `${holder.pid}\n`);
      const r = await runCli(["worker", "--metrics-port", "0"], { ...t.env(), DATABASE_URL: `pglite://${dir}`, LOG_LEVEL: "info" });
      expect(r.code).toBe(5);
      expect(r.stderr).toContain(`is in use by process ${holder.pid}`);
    } finally {
      holder.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses to start without DATABASE_URL (no silent embedded database for a service)", async () => {
    const env: Record<string, string | undefined> = { ...t.env(), DATABASE_URL: undefined, LOG_LEVEL: "info" };
    const r = await runCli(["worker", "--metrics-port", "0"], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^matchflow: DATABASE_URL is not set: .*DATABASE_URL=pglite:\/\/\.\/\.matchflow\/db\n$/);
  });

  it("waits for a broker that is not there yet, reports not ready, then consumes when it comes", async () => {
    const port = await closedPort();
    const real = new URL(t.vhost.url);
    const late = new URL(t.vhost.url);
    late.port = String(port);
    const w = start({ RABBITMQ_URL: late.toString() });
    const http = await opsPort(w);
    const waiting = await w.waitForLog((l) => l.msg === "broker unreachable at start-up; waiting for it");
    expect(waiting).toMatchObject({ code: "broker_unreachable", err: "connection refused", broker: `127.0.0.1:${port} vhost ${decodeURIComponent(real.pathname.slice(1))}` });
    expect((await fetch(`http://127.0.0.1:${http}/healthz`)).status).toBe(200);
    // The database is waited for at the same time, so the probes blame the broker alone.
    await until(async () => (await readiness(http)).database === true, 30_000, "database connected while the broker is awaited");
    expect(await readiness(http)).toEqual({ status: "not ready", broker: false, database: true, starting: true });
    expect(await gauges(http)).toEqual({ broker: 0, database: 1 });

    await t.publish(Array.from({ length: 30 }, (_, i) => makeMatch("late-broker", i)));
    await forwardToRabbitMQ(port, real);
    await w.waitForLog((l) => l.msg === "worker consuming", 60_000);
    await until(async () => (await t.rows("late-broker")).total === 30, 60_000, "rows once the broker is there");
    expect(await t.rows("late-broker")).toEqual({ total: 30, distinct: 30 });
    await until(async () => (await fetch(`http://127.0.0.1:${http}/readyz`)).status === 200, 30_000, "ready");
    w.kill("SIGTERM");
    expect((await w.exited).code).toBe(0);
  });

  it("waits out refused credentials with the reason in every line, and stops cleanly on SIGTERM", async () => {
    const wrong = new URL(t.vhost.url);
    wrong.password = "not-the-password";
    const w = start({ RABBITMQ_URL: wrong.toString() });
    const http = await opsPort(w);
    await until(() => w.logs.filter((l) => l.msg === "broker unreachable at start-up; waiting for it").length >= 2, 30_000, "two attempts");
    const attempts = w.logs.filter((l) => l.msg === "broker unreachable at start-up; waiting for it");
    expect(attempts.map((l) => l.err)).toEqual(attempts.map(() => "access refused (check the user name and password)"));
    expect(attempts.map((l) => l.attempt)).toEqual(attempts.map((_, i) => i + 1));
    expect(JSON.stringify(w.logs)).not.toContain("not-the-password");
    expect((await fetch(`http://127.0.0.1:${http}/readyz`)).status).toBe(503);

    w.kill("SIGTERM");
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(w.logs.some((l) => l.msg === "worker stopped before it started")).toBe(true);
  });

  it("names a missing vhost as the reason", async () => {
    const missing = new URL(t.vhost.url);
    missing.pathname = "/matchflow-no-such-vhost";
    const w = start({ RABBITMQ_URL: missing.toString() });
    const line = await w.waitForLog((l) => l.msg === "broker unreachable at start-up; waiting for it");
    expect(line).toMatchObject({ err: "vhost not found or not permitted", broker: "127.0.0.1:5672 vhost matchflow-no-such-vhost" });
    w.kill("SIGINT");
    expect((await w.exited).code).toBe(0);
  });

  it("stops cleanly on SIGTERM while waiting for the database", async () => {
    await adminQuery(`ALTER DATABASE ${t.db.name} ALLOW_CONNECTIONS false`);
    try {
      const w = start({});
      await w.waitForLog((l) => l.msg === "database unreachable at start-up; waiting for it");
      w.kill("SIGTERM");
      expect(await w.exited).toEqual({ code: 0, signal: null });
      expect(w.logs.some((l) => l.msg === "worker stopped before it started")).toBe(true);
    } finally {
      await adminQuery(`ALTER DATABASE ${t.db.name} ALLOW_CONNECTIONS true`);
    }
  });

  it("waits for a database that refuses connections at start-up, then consumes", async () => {
    await adminQuery(`ALTER DATABASE ${t.db.name} ALLOW_CONNECTIONS false`);
    let w: CliProcess;
    try {
      w = start({});
      const http = await opsPort(w);
      await w.waitForLog((l) => l.msg === "database unreachable at start-up; waiting for it");
      expect((await fetch(`http://127.0.0.1:${http}/healthz`)).status).toBe(200);
      await until(async () => (await readiness(http)).broker === true, 30_000, "broker connected while the database is awaited");
      expect(await readiness(http)).toEqual({ status: "not ready", broker: true, database: false, starting: true });
      expect(await gauges(http)).toEqual({ broker: 1, database: 0 });
    } finally {
      await adminQuery(`ALTER DATABASE ${t.db.name} ALLOW_CONNECTIONS true`);
    }
    await t.publish(Array.from({ length: 20 }, (_, i) => makeMatch("late-db", i)));
    await w.waitForLog((l) => l.msg === "worker consuming", 60_000);
    await until(async () => (await t.rows("late-db")).total === 20, 60_000, "rows once the database is there");
    expect(await t.rows("late-db")).toEqual({ total: 20, distinct: 20 });
  });

  it("migrates an empty database itself before it consumes (the Deployment has no migrate init container)", async () => {
    const empty = await createTestDatabase({ migrated: false });
    try {
      const w = start({ DATABASE_URL: empty.url });
      await w.waitForLog((l) => l.msg === "worker consuming");
      expect(w.logs.filter((l) => l.msg === "migration applied").length).toBeGreaterThan(0);
      await t.publish(Array.from({ length: 10 }, (_, i) => makeMatch("fresh-db", i)));
      await until(async () => (await countIn(empty.url, "fresh-db")) === 10, 60_000, "rows in the migrated database");
    } finally {
      for (const w of running.splice(0)) {
        w.kill("SIGKILL");
        await w.exited;
      }
      await empty.drop();
    }
  });
});
