/**
 * The dead-letter round trip the operations issue asks for, with the real worker process:
 * a database outage (a locked table) exhausts the retries and dead-letters every match; once
 * the lock is gone, `matchflow dlq requeue --all` sends them back and every match ends in the
 * database. A poison message dead-lettered by the worker stays a dead letter (requeued once,
 * refused again, still reporting its first failure), and the scan does not loop on it.
 */
import { connect, type ChannelModel } from "amqplib";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MatchQueueClient } from "../../src/broker/publisher.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import type { DeadLetterListing } from "../../src/ops/dead-letters.js";
import { runCli, spawnCli, until, type CliProcess } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createTestDatabase, testPool, type TestDatabase } from "../helpers/pg.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";

const N = 12;
let vhost: TestVhost;
let db: TestDatabase;
let sql: pg.Pool;
let amqp: ChannelModel;
let worker: CliProcess | undefined;

function env(): Record<string, string> {
  return { RABBITMQ_URL: vhost.url, DATABASE_URL: db.url, RETRY_MAX: "1", RETRY_BASE_DELAY: "200ms", RETRY_MAX_DELAY: "200ms", DB_LOCK_TIMEOUT: "150ms" };
}

async function dlqCount(): Promise<number> {
  const ch = await amqp.createChannel();
  try {
    return (await ch.checkQueue("matches.dead_letter")).messageCount;
  } finally {
    await ch.close();
  }
}

async function rowCount(): Promise<number> {
  const r = await sql.query<{ n: string }>("SELECT count(*) AS n FROM matches WHERE external_match_id LIKE 'trip-%'");
  return Number(r.rows[0]?.n);
}

beforeAll(async () => {
  vhost = await createVhost("opstrip");
  db = await createTestDatabase({ migrated: true });
  sql = testPool(db.url, 2);
  amqp = await connect(vhost.url);
  worker = spawnCli(["worker", "--metrics-port", "0", "--batch-size", "4"], env());
  await worker.waitForLog((l) => l.msg === "worker consuming");
});

afterAll(async () => {
  if (worker) {
    worker.kill("SIGTERM");
    await worker.exited;
  }
  await amqp?.close();
  await sql?.end();
  await db?.drop();
  await vhost?.drop();
});

describe("dead-letter requeue round trip", () => {
  it("ends with every match in the database", async () => {
    const config = loadConfig({ RABBITMQ_URL: vhost.url });
    const locker = await sql.connect();
    try {
      await locker.query("BEGIN; LOCK TABLE matches IN ACCESS EXCLUSIVE MODE");
      const client = await MatchQueueClient.connect({ url: vhost.url, topology: config.topology, retry: config.retry, publish: config.publish, maxMessageBytes: config.maxMessageBytes, queueType: "classic", log: silentLogger });
      try {
        const report = await client.submitMatches(Array.from({ length: N }, (_, i) => makeMatch("trip", i)));
        expect(report.submitted).toHaveLength(N);
      } finally {
        await client.close();
      }
      const poison = encodeTaskV2({ taskName: config.topology.taskName, taskId: "trip-poison", args: [{ home_team: "IFA", match_date: "2026-10-01", external_match_id: "trip-poison-match" }] });
      const ch = await amqp.createConfirmChannel();
      ch.publish("matches", "matches.process", poison.content, poison.properties);
      await ch.waitForConfirms();
      await ch.close();
      await until(async () => (await dlqCount()) === N + 1, 60_000, "every message dead-lettered");
    } finally {
      await locker.query("ROLLBACK").catch(() => undefined);
      locker.release();
    }
    expect(await rowCount()).toBe(0);

    const listed = await runCli(["dlq", "list", "--json", "--limit", "100"], { RABBITMQ_URL: vhost.url });
    expect(listed.code).toBe(0);
    const listing = JSON.parse(listed.stdout) as DeadLetterListing;
    expect(listing.total).toBe(N + 1);
    const byCode = new Map<string, number>();
    for (const d of listing.items) byCode.set(String(d.errorCode), (byCode.get(String(d.errorCode)) ?? 0) + 1);
    expect(Object.fromEntries(byCode)).toEqual({ db_lock_timeout: N, contract_violation: 1 });
    expect(listing.items.filter((d) => d.errorCode === "db_lock_timeout").every((d) => d.attempts === 2 && d.externalMatchId?.startsWith("trip-"))).toBe(true);
    expect(listing.items.find((d) => d.errorCode === "contract_violation")).toMatchObject({ taskId: "trip-poison", externalMatchId: "trip-poison-match", attempts: 1 });
    const firstPoison = listing.items.find((d) => d.taskId === "trip-poison");
    expect(firstPoison?.firstFailedAt).toBe(firstPoison?.failedAt);

    const requeued = await runCli(["dlq", "requeue", "--all"], { RABBITMQ_URL: vhost.url });
    expect(requeued.stderr).toBe("");
    expect(requeued.code).toBe(0);
    expect(requeued.stdout).toBe(`requeued ${N + 1} dead letters to exchange matches (routing key matches.process)\n`);

    await until(async () => (await rowCount()) === N, 60_000, "every match in the database");
    // The poison message went round once more and was refused again with the same reason.
    const w = worker as CliProcess;
    const poisonRefusals = () => w.logs.filter((l) => l.taskId === "trip-poison" && l.outcome === "dead_lettered" && l.code === "contract_violation").length;
    await until(() => poisonRefusals() === 2, 30_000, "the poison message dead-lettered a second time");
    await until(async () => (await dlqCount()) === 1, 30_000, "only the poison message left");
    const after = await runCli(["dlq", "list", "--json"], { RABBITMQ_URL: vhost.url });
    const afterItems = (JSON.parse(after.stdout) as DeadLetterListing).items;
    expect(afterItems.map((d) => [d.taskId, d.errorCode, d.attempts])).toEqual([["trip-poison", "contract_violation", 1]]);
    // Dead-lettered again after the requeue: the first failure is still the first one.
    expect(afterItems[0]?.firstFailedAt).toBe(firstPoison?.firstFailedAt);
    expect(afterItems[0]?.failedAt).not.toBe(firstPoison?.failedAt);
  });
});
