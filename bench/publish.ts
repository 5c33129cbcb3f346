/**
 * Publish throughput with publisher confirms, against the local RabbitMQ:
 *   - pipelined: MatchQueueClient.submitMatches, up to PUBLISH_CONFIRM_WINDOW awaiting a confirm;
 *   - serial baseline: submitMatch one at a time, awaiting each confirm before the next.
 * Both include validation and Celery encoding, both run in this process, now, in a vhost of
 * their own that is deleted afterwards.
 *
 *   npm run bench:publish                      # 50,000 pipelined, 5,000 serial
 *   BENCH_COUNT=100000 BENCH_SERIAL_COUNT=10000 PUBLISH_CONFIRM_WINDOW=500 npm run bench:publish
 */
import { MatchQueueClient } from "../src/broker/publisher.js";
import { loadConfig } from "../src/config.js";
import { silentLogger } from "../src/log.js";
import { createVhost } from "../test/helpers/rabbit.js";

const count = Number(process.env.BENCH_COUNT ?? 50_000);
const serialCount = Number(process.env.BENCH_SERIAL_COUNT ?? 5_000);
const config = loadConfig({ PUBLISH_CONFIRM_WINDOW: process.env.PUBLISH_CONFIRM_WINDOW ?? "1000" });

function matches(n: number, prefix: string): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    home_team: `Home Academy ${i % 97}`,
    away_team: `Away Academy ${i % 89}`,
    match_date: `2025-${String((i % 9) + 1).padStart(2, "0")}-${String((i % 28) + 1).padStart(2, "0")}`,
    age_group: ["U13", "U14", "U15", "U16", "U17", "U19"][i % 6],
    match_type: "League",
    league: "Homegrown",
    division: "Northeast",
    home_score: i % 5,
    away_score: (i * 7) % 4,
    external_match_id: `${prefix}-${i}`,
    location: "Training Ground 3",
    scraped_at: "2025-09-06T20:00:00Z",
  }));
}

interface Row {
  mode: string;
  messages: number;
  seconds: number;
  perSecond: number;
}

async function main(): Promise<void> {
  const vhost = await createVhost("bench_publish");
  const client = await MatchQueueClient.connect({
    url: vhost.url,
    queueType: config.topology.queueType,
    topology: config.topology,
    retry: config.retry,
    publish: config.publish,
    maxMessageBytes: config.maxMessageBytes,
    log: silentLogger,
  });
  const rows: Row[] = [];
  try {
    // Warm-up: JIT, channel, queue.
    await client.submitMatches(matches(500, "warm"));

    const serial = matches(serialCount, "serial");
    let start = process.hrtime.bigint();
    for (const m of serial) await client.submitMatch(m);
    let seconds = Number(process.hrtime.bigint() - start) / 1e9;
    rows.push({ mode: "serial confirms (await each)", messages: serialCount, seconds, perSecond: serialCount / seconds });

    const pipelined = matches(count, "pipe");
    start = process.hrtime.bigint();
    const report = await client.submitMatches(pipelined);
    seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (report.submitted.length !== count) throw new Error(`only ${report.submitted.length} of ${count} confirmed (${report.failed.length} failed, ${report.invalid.length} invalid)`);
    rows.push({ mode: `pipelined confirms (window ${config.publish.confirmWindow})`, messages: count, seconds, perSecond: count / seconds });

    const queued = await waitQueued(vhost, 500 + serialCount + count);
    console.log(`\npublish throughput, protocol ${config.publish.protocol}, ${config.topology.queueType} queue, persistent messages, RabbitMQ at 127.0.0.1 (vhost ${vhost.name})\n`);
    console.log(`| mode | messages | seconds | messages/s |`);
    console.log(`|---|---:|---:|---:|`);
    for (const r of rows) console.log(`| ${r.mode} | ${r.messages} | ${r.seconds.toFixed(2)} | ${Math.round(r.perSecond)} |`);
    const [base, piped] = rows as [Row, Row];
    console.log(`\npipelined / serial = ${(piped.perSecond / base.perSecond).toFixed(1)}x   (queue depth afterwards: ${queued ?? "unknown"})`);
  } finally {
    await client.close();
    await vhost.drop();
  }
}

/** The management API's counts lag a few seconds; report them when they catch up, or give up. */
async function waitQueued(vhost: Awaited<ReturnType<typeof createVhost>>, expected: number): Promise<number | undefined> {
  let last: number | undefined;
  for (let i = 0; i < 60; i++) {
    last = (await vhost.queue("matches"))?.messages;
    if (last === expected) return last;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return last;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
