/**
 * How fast the dlq commands read a long dead-letter queue, against the way they read it before:
 * one `basic.get` round trip per letter (the baseline, run here in the same process, on the same
 * queue, right before). `dlq show <id>` reads every letter, and all dlq commands hold the queue's
 * lock while they read, so this is how long the other commands wait during an incident.
 *
 *   npm run bench:dlq                     # 20,000 dead letters
 *   BENCH_DEAD_LETTERS=100000 npm run bench:dlq
 *
 * In a RabbitMQ vhost of its own, deleted afterwards.
 */
import { connect, type Channel, type ChannelModel, type GetMessage } from "amqplib";
import { declareTopology, topologyNames } from "../src/broker/topology.js";
import { encodeTaskV2 } from "../src/celery/codec.js";
import { loadConfig } from "../src/config.js";
import { TransientError } from "../src/errors.js";
import { silentLogger } from "../src/log.js";
import { describeDeadLetter } from "../src/ops/dead-letter-message.js";
import { listDeadLetters, showDeadLetter } from "../src/ops/dead-letters.js";
import { requeueDeadLetters } from "../src/ops/dead-letter-requeue.js";
import { publishDeadLetter } from "../test/helpers/dead-letters.js";
import { makeMatch } from "../test/helpers/matches.js";
import { createVhost } from "../test/helpers/rabbit.js";

const count = Number(process.env.BENCH_DEAD_LETTERS ?? 20_000);
const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const MAX = config.maxMessageBytes;
const taskId = (i: number) => `dl-${i}`;

async function seed(model: ChannelModel): Promise<void> {
  const ch = await model.createConfirmChannel();
  const outage = new TransientError("db_lock_timeout", "canceling statement due to lock timeout");
  for (let i = 0; i < count; i++) {
    publishDeadLetter(ch, names, encodeTaskV2({ taskName: config.topology.taskName, taskId: taskId(i), args: [makeMatch("dlq", i)], retries: 3 }), outage);
    if (i % 1000 === 999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await ch.close();
}

async function ready(model: ChannelModel): Promise<number> {
  const ch = await model.createChannel();
  try {
    return (await ch.checkQueue(names.deadLetterQueue)).messageCount;
  } finally {
    await ch.close();
  }
}

/** The previous `dlq show`: basic.get each letter unacked, describe it, close to put all back. */
async function showByGet(model: ChannelModel, wanted: string): Promise<number> {
  const ch: Channel = await model.createChannel();
  let found = 0;
  try {
    const total = (await ch.checkQueue(names.deadLetterQueue)).messageCount;
    for (let i = 0; i < total; i++) {
      const msg: GetMessage | false = await ch.get(names.deadLetterQueue, { noAck: false });
      if (msg === false) break;
      if (describeDeadLetter(msg, MAX).taskId === wanted) found++;
    }
  } finally {
    await ch.close();
  }
  return found;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await fn();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`bench:dlq: ${what}`);
}

async function main(): Promise<void> {
  const vhost = await createVhost("bench_dlq");
  const model = await connect(vhost.url);
  try {
    await declareTopology(model, names, { queueType: "classic", log: silentLogger });
    await seed(model);
    check((await ready(model)) === count, `expected ${count} dead letters after seeding`);
    const last = taskId(count - 1);
    const rows: { command: string; seconds: number }[] = [];

    const baseline = await timed(() => showByGet(model, last));
    check(baseline.value === 1, "the basic.get baseline did not find the last letter");
    rows.push({ command: "show <last id>, one basic.get per letter (before)", seconds: baseline.seconds });

    const show = await timed(() => showDeadLetter(model, names, last, { maxBytes: MAX }));
    check(show.value.found.length === 1 && !show.value.cutShort, "dlq show did not find the last letter");
    rows.push({ command: "show <last id> (now)", seconds: show.seconds });

    const list = await timed(() => listDeadLetters(model, names, { limit: count, maxBytes: MAX }));
    check(list.value.items.length === count && list.value.items[count - 1]?.taskId === last, "dlq list did not list every letter in order");
    rows.push({ command: `list --limit ${count} (now)`, seconds: list.seconds });

    const requeue = await timed(() => requeueDeadLetters(model, names, { taskIds: [last] }, { maxBytes: MAX }));
    check(requeue.value.requeued.length === 1 && requeue.value.scanned === count, "dlq requeue <last id> did not requeue it after reading every letter");
    rows.push({ command: "requeue <last id> (now)", seconds: requeue.seconds });
    check((await ready(model)) === count - 1, "a dlq command removed letters it should have left");

    // Last: it moves every letter to the work queue (publish, confirm, ack: a window at a time).
    const all = await timed(() => requeueDeadLetters(model, names, { all: true }, { maxBytes: MAX }));
    check(all.value.requeued.length === count - 1 && (await ready(model)) === 0, "dlq requeue --all did not requeue every letter");
    rows.push({ command: "requeue --all (now)", seconds: all.seconds });

    console.log(`\ndlq commands on ${count} dead letters, classic queue, RabbitMQ at 127.0.0.1 (vhost ${vhost.name})\n`);
    console.log("| command | seconds | letters/s |");
    console.log("|---|---:|---:|");
    for (const r of rows) console.log(`| ${r.command} | ${r.seconds.toFixed(2)} | ${Math.round(count / r.seconds)} |`);
    console.log(`\nshow now / show before (basic.get) = ${(baseline.seconds / show.seconds).toFixed(1)}x faster`);
  } finally {
    await model.close().catch(() => undefined);
    await vhost.drop();
  }
}

await main();
