/** Shared setup for tests that run the real worker process against a vhost and a database. */
import { connect, type MessageProperties } from "amqplib";
import type pg from "pg";
import { expect } from "vitest";
import { connectOptionsFrom, MatchQueueClient } from "../../src/broker/publisher.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import { spawnCli, type CliProcess } from "./cli.js";
import { createTestDatabase, testPool, type TestDatabase } from "./pg.js";
import { createVhost, type TestVhost } from "./rabbit.js";

export interface WorkerEnv {
  vhost: TestVhost;
  db: TestDatabase;
  sql: pg.Pool;
  env(extra?: Record<string, string>): Record<string, string>;
  startWorker(extra?: Record<string, string>, args?: string[], nodeArgs?: string[]): Promise<CliProcess>;
  publish(matches: unknown[]): Promise<string[]>;
  rows(prefix: string): Promise<{ total: number; distinct: number }>;
  /** Messages ready in a queue, exact (AMQP passive declare; the management API lags by seconds). */
  ready(queue?: string): Promise<number>;
  /** Every message of a queue (default the dead-letter queue), read unacked: they go back when the read ends. */
  peek(queue?: string): Promise<{ headers: Record<string, unknown>; properties: MessageProperties; content: Buffer }[]>;
  /** The worker's /readyz: status and body (the port from its "ops HTTP server listening" line; METRICS_PORT=0). */
  readyz(w: CliProcess): Promise<{ status: number; body: Record<string, unknown> }>;
  /** SIGTERM, and the graceful stop's exit code 0. */
  stopWorker(w: CliProcess): Promise<void>;
  /** Kills every worker still running and drops the vhost and database. */
  teardown(): Promise<void>;
  killAll(): Promise<void>;
  /**
   * Stops every worker still running with SIGTERM, so that what they stored is acked (a SIGKILL
   * right after the last commit can come before that commit's acks leave, and the queue then gets
   * those deliveries back: a later test of the file would count them). SIGKILL after 30 s.
   */
  stopAll(): Promise<void>;
}

export async function createWorkerEnv(name: string, base: Record<string, string> = {}): Promise<WorkerEnv> {
  const vhost = await createVhost(name);
  const db = await createTestDatabase({ migrated: true });
  const sql = testPool(db.url, 3);
  const workers: CliProcess[] = [];
  // LOG_LEVEL=debug: the worker logs one "task done" line per task only at debug.
  const env = (extra: Record<string, string> = {}) => ({ RABBITMQ_URL: vhost.url, DATABASE_URL: db.url, METRICS_PORT: "0", LOG_LEVEL: "debug", ...base, ...extra });
  const killAll = async () => {
    for (const w of workers.splice(0)) {
      w.kill("SIGKILL");
      await w.exited;
    }
  };
  const stopAll = async () => {
    for (const w of workers.splice(0)) {
      w.kill("SIGTERM");
      const timer = setTimeout(() => w.kill("SIGKILL"), 30_000);
      await w.exited;
      clearTimeout(timer);
    }
  };
  return {
    vhost,
    db,
    sql,
    env,
    async startWorker(extra = {}, args = [], nodeArgs = []) {
      const w = spawnCli(["worker", ...args], env(extra), { nodeArgs });
      workers.push(w);
      await w.waitForLog((l) => l.msg === "worker consuming");
      return w;
    },
    async publish(matches) {
      const config = loadConfig({ RABBITMQ_URL: vhost.url });
      const client = await MatchQueueClient.connect(connectOptionsFrom(config, vhost.url, silentLogger));
      try {
        const report = await client.submitMatches(matches);
        expect(report.invalid).toEqual([]);
        expect(report.failed).toEqual([]);
        return report.submitted.map((s) => s.taskId);
      } finally {
        await client.close();
      }
    },
    async rows(prefix) {
      const r = await sql.query<{ total: string; distinct: string }>("SELECT count(*) AS total, count(DISTINCT external_match_id) AS distinct FROM matches WHERE external_match_id LIKE $1", [`${prefix}-%`]);
      return { total: Number(r.rows[0]?.total), distinct: Number(r.rows[0]?.distinct) };
    },
    async ready(queue = "matches") {
      const conn = await connect(vhost.url);
      try {
        const ch = await conn.createChannel();
        return (await ch.checkQueue(queue)).messageCount;
      } finally {
        await conn.close();
      }
    },
    async peek(queue = "matches.dead_letter") {
      const conn = await connect(vhost.url);
      try {
        const ch = await conn.createChannel();
        const out = [];
        for (let m = await ch.get(queue, { noAck: false }); m; m = await ch.get(queue, { noAck: false })) {
          out.push({ headers: (m.properties.headers ?? {}) as Record<string, unknown>, properties: m.properties, content: m.content });
        }
        return out;
      } finally {
        await conn.close(); // the unacked gets return to the queue
      }
    },
    async readyz(w) {
      const port = Number((await w.waitForLog((l) => l.msg === "ops HTTP server listening (/metrics, /healthz, /readyz)")).port);
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    async stopWorker(w) {
      w.kill("SIGTERM");
      const { code } = await w.exited;
      expect(code).toBe(0);
    },
    killAll,
    stopAll,
    async teardown() {
      await killAll();
      await sql.end();
      await db.drop();
      await vhost.drop();
    },
  };
}
