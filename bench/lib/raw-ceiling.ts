/**
 * The raw ceiling: what RabbitMQ and PostgreSQL allow on this machine with the least work.
 * Run as two processes by throughput.ts:
 *   publish <amqp-url> <matches.ndjson>   pre-serialised JSON bodies, persistent, pipelined
 *                                          confirms (at most 1,000 unconfirmed)
 *   consume <amqp-url> <postgres-url>     prefetch 1,000, batches of up to 500 upserted with one
 *                                          statement, then one `ack(multiple)`; no validation,
 *                                          no name resolution
 */
import { readFileSync } from "node:fs";
import amqp, { type ConsumeMessage } from "amqplib";
import pg from "pg";
import { FLAT_BATCH_UPSERT_SQL } from "./flat-table.js";

// The deployed work queue's name, so the deployment's policy (classic queue storage v2,
// definitions.json `^matches$`) applies here as it does to matchflow's and Celery's runs: the
// ceiling must meet the same queue implementation (v2 was 7% faster than v1 for this run).
const QUEUE = "matches";
const WINDOW = 1000;
const PREFETCH = 1000;
const BATCH = 500;

async function publish(url: string, file: string): Promise<void> {
  const bodies = readFileSync(file, "utf8").split("\n").filter((l) => l !== "").map((l) => Buffer.from(l));
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(QUEUE, { durable: true });
  let unconfirmed = 0;
  let failed = 0;
  let wake: (() => void) | undefined;
  const settle = (err: unknown) => {
    if (err) failed++;
    unconfirmed--;
    wake?.();
  };
  for (const body of bodies) {
    while (unconfirmed >= WINDOW) await new Promise<void>((resolve) => (wake = resolve));
    unconfirmed++;
    ch.sendToQueue(QUEUE, body, { persistent: true, contentType: "application/json" }, settle);
  }
  await ch.waitForConfirms();
  await conn.close();
  if (failed > 0) throw new Error(`${failed} publishes nacked`);
}

async function consume(url: string, databaseUrl: string): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl, application_name: "bench-raw" });
  await db.connect();
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  await ch.assertQueue(QUEUE, { durable: true });
  await ch.prefetch(PREFETCH);
  const buffer: ConsumeMessage[] = [];
  let busy = false;
  const drain = async () => {
    busy = true;
    while (buffer.length > 0) {
      const batch = buffer.splice(0, BATCH);
      const rows = batch.map((m) => {
        const match = JSON.parse(m.content.toString()) as Record<string, unknown>;
        return { ...match, raw: match };
      });
      await db.query(FLAT_BATCH_UPSERT_SQL, [JSON.stringify(rows)]);
      ch.ack(batch.at(-1)!, true);
    }
    busy = false;
  };
  await ch.consume(QUEUE, (m) => {
    if (!m) return;
    buffer.push(m);
    if (!busy) void drain().catch((err: unknown) => {
      console.error(String(err));
      process.exit(1);
    });
  });
  console.log("consuming");
  process.once("SIGTERM", () => {
    void conn.close().finally(() => db.end().finally(() => process.exit(0)));
  });
}

const [mode, a, b] = process.argv.slice(2);
if (mode === "publish" && a && b) await publish(a, b);
else if (mode === "consume" && a && b) await consume(a, b);
else {
  console.error("usage: raw-ceiling.ts publish <amqp-url> <ndjson> | consume <amqp-url> <postgres-url>");
  process.exit(2);
}
