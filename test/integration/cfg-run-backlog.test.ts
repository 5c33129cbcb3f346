/**
 * `matchflow run` on RabbitMQ stores what was already queued too (what a stopped run left, a
 * `scrape` published with no worker running): its report says so, apart from this run's
 * figures. It said nothing, and the database held more matches than the report accounted for.
 */
import { connect } from "amqplib";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { createTestDatabase, type TestDatabase } from "../helpers/pg.js";
import { createVhost, messageCount, type TestVhost } from "../helpers/rabbit.js";

const SAMPLE = ["--source-dir", "samples/mlsnext", "--season", "2026"];
let vhost: TestVhost;
let db: TestDatabase;

beforeAll(async () => {
  vhost = await createVhost("cfgbacklog");
  db = await createTestDatabase({ migrated: true });
});
afterAll(async () => {
  await vhost?.drop();
  await db?.drop();
});

async function storedMatches(): Promise<number> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>("SELECT count(*) AS n FROM matches")).rows[0]?.n);
  } finally {
    await client.end();
  }
}

/** Messages in the work queue, exact (read over AMQP; the management API's figures are samples). */
async function queuedMessages(): Promise<number> {
  const conn = await connect(vhost.url);
  try {
    return await messageCount(conn, "matches");
  } finally {
    await conn.close();
  }
}

describe("run with matches queued before it", () => {
  it("reports the queued matches its worker stored apart from its own, and the two add up to what the database holds", async () => {
    const env = { RABBITMQ_URL: vhost.url, DATABASE_URL: db.url };
    const scraped = await runCli(["scrape", ...SAMPLE, "--league", "Academy", "--quiet"], env);
    expect(scraped.code).toBe(0);
    const queued = await queuedMessages();
    expect(queued).toBeGreaterThan(0);

    const r = await runCli(["run", ...SAMPLE, "--league", "Flex", "--json"], env);
    expect(r.code).toBe(0);
    type Outcomes = { created: number; updated: number; unchanged: number; dead_lettered: number };
    const report = JSON.parse(r.stdout) as { outcomes: Outcomes; queuedBefore: Outcomes; submit: { submitted: unknown[] } };
    expect(report.outcomes.created).toBe(report.submit.submitted.length);
    expect(report.queuedBefore.created).toBe(queued);
    expect(report.queuedBefore).toMatchObject({ updated: 0, unchanged: 0, dead_lettered: 0 });
    expect(await storedMatches()).toBe(report.outcomes.created + report.queuedBefore.created);

    // Said in the text report too; a run with nothing queued before it says nothing of it.
    const again = await runCli(["run", ...SAMPLE, "--league", "Flex"], env);
    expect(again.stdout).not.toContain("queued before this run");
    await runCli(["scrape", ...SAMPLE, "--league", "Academy", "--quiet"], env);
    const text = await runCli(["run", ...SAMPLE, "--league", "Flex"], env);
    expect(text.stdout).toContain(`\nalso processed ${report.queuedBefore.created} matches queued before this run: 0 created, 0 updated, ${report.queuedBefore.created} unchanged, 0 dead-lettered\n`);
  });
});
