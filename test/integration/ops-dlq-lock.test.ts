/**
 * dlq commands take turns on the real RabbitMQ: a peek holds the dead letters it read unacked
 * (invisible to anyone else) until its channel closes, so two commands at once used to report a
 * wrong total, "not found" or "requeued 0". Each now holds the exclusive queue
 * `<dead-letter-queue>.lock` while it works; the others wait for it, then see everything.
 */
import { connect, type Channel, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { exitCodeFor } from "../../src/cli/exit-codes.js";
import { MF_HEADERS } from "../../src/broker/headers.js";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import { lockQueueName, withDeadLetterLock } from "../../src/ops/dead-letter-lock.js";
import { listDeadLetters, showDeadLetter, type DeadLetterListing } from "../../src/ops/dead-letters.js";
import { requeueDeadLetters } from "../../src/ops/dead-letter-requeue.js";
import { spawnCli, until } from "../helpers/cli.js";
import { createVhost, managementApi, type TestVhost } from "../helpers/rabbit.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const MAX = config.maxMessageBytes;
const N = 400;
const LOCK = lockQueueName(names.deadLetterQueue);
let vhost: TestVhost;
let amqp: ChannelModel;

/** A connection of its own per command: the lock excludes other connections, as other processes. */
async function connection(): Promise<ChannelModel> {
  const model = await connect(vhost.url);
  onTestFinished(() => model.close().catch(() => undefined));
  return model;
}

/** Takes the lock the way a dlq command does, from a connection of the test's; resolves its channel. */
async function holdLock(model: ChannelModel): Promise<Channel> {
  const ch = await model.createChannel();
  await ch.assertQueue(LOCK, { exclusive: true, autoDelete: true, durable: false, arguments: { "x-queue-type": "classic" } });
  return ch;
}

async function dlqCount(): Promise<number> {
  const ch = await amqp.createChannel();
  try {
    return (await ch.checkQueue(names.deadLetterQueue)).messageCount;
  } finally {
    await ch.close();
  }
}

beforeAll(async () => {
  vhost = await createVhost("opsdlqlock");
  amqp = await connect(vhost.url);
  await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
  const ch = await amqp.createConfirmChannel();
  for (let i = 0; i < N; i++) {
    const m = encodeTaskV2({ taskName: config.topology.taskName, taskId: `lock-${i}`, args: [{ external_match_id: `lock-${i}` }] });
    ch.publish(names.deadLetterExchange, names.deadLetterRoutingKey, m.content, { ...m.properties, headers: { ...m.properties.headers, [MF_HEADERS.errorCode]: "db_lock_timeout" } });
  }
  await ch.waitForConfirms();
  await ch.close();
});

afterAll(async () => {
  await amqp?.close();
  await vhost?.drop();
});

describe("dlq commands at the same time", () => {
  it("two listings, a show and a requeue of an unknown id each see every dead letter", async () => {
    const [a, b, c, d] = await Promise.all([connection(), connection(), connection(), connection()]);
    const [first, second, shown, requeued] = await Promise.all([
      listDeadLetters(a, names, { limit: 1000, maxBytes: MAX }),
      listDeadLetters(b, names, { limit: 1000, maxBytes: MAX }),
      showDeadLetter(c, names, `lock-${N - 1}`, { maxBytes: MAX }),
      requeueDeadLetters(d, names, { taskIds: ["not-there"] }, { maxBytes: MAX }),
    ]);
    for (const listing of [first, second]) {
      expect(listing).toMatchObject({ total: N, cutShort: false });
      expect(listing.items).toHaveLength(N);
    }
    expect(shown.found.map((s) => s.taskId)).toEqual([`lock-${N - 1}`]);
    expect(requeued).toMatchObject({ requeued: [], notFound: ["not-there"], scanned: N, cutShort: false });
    expect(await dlqCount()).toBe(N);
  });

  it("a command waits for the lock, says so once on stderr, and goes on when it is released", async () => {
    const holder = await connection();
    const lockCh = await holdLock(holder);
    const list = spawnCli(["dlq", "list", "--json", "--limit", "1000"], { RABBITMQ_URL: vhost.url });
    onTestFinished(() => list.kill("SIGKILL"));
    await until(() => list.stderr().includes("waiting for another dlq command") || list.proc.exitCode !== null, 60_000, "the listing waiting for the lock");
    expect(list.stderr()).toBe(`waiting for another dlq command to finish (it holds queue ${LOCK}; up to 30 s)\n`);
    await lockCh.deleteQueue(LOCK);
    const { code } = await list.exited;
    expect(code).toBe(0);
    const listing = JSON.parse(list.stdout()) as DeadLetterListing;
    expect(listing).toMatchObject({ total: N, cutShort: false });
    expect(listing.items).toHaveLength(N);
  });

  it("gives up with dlq_busy when the lock is not released in time", async () => {
    const holder = await connection();
    await holdLock(holder);
    const waiter = await connection();
    let told = 0;
    const failure: unknown = await withDeadLetterLock(waiter, names.deadLetterQueue, { waitMs: 300, retryMs: 50, onWait: () => told++ }, () => Promise.resolve("ran")).catch((err: unknown) => err);
    expect(failure).toMatchObject({ code: "dlq_busy", kind: "transient" });
    expect(exitCodeFor(failure)).toBe(1);
    expect((failure as Error).message).toMatch(/^another dlq command has been working on matches\.dead_letter for more than 0.3 s \(it holds queue matches\.dead_letter\.lock\); try again when it is done$/);
    expect(told).toBe(1);
  });

  it("the lock is never bound (takes no message) and disappears with its holder's connection", async () => {
    const holder = await connect(vhost.url);
    await holdLock(holder);
    const bindings = (await (await managementApi("GET", `/queues/${encodeURIComponent(vhost.name)}/${encodeURIComponent(LOCK)}/bindings`)).json()) as { source: string }[];
    // Only the default exchange's implicit binding, which nothing of ours publishes to.
    expect(bindings.map((b) => b.source)).toEqual([""]);
    expect(await vhost.queue(LOCK)).toMatchObject({ exclusive: true, durable: false });
    await holder.close();
    await until(async () => (await vhost.queue(LOCK)) === undefined, 30_000, "the lock queue gone with its connection");
    const free = await connection();
    await expect(withDeadLetterLock(free, names.deadLetterQueue, { waitMs: 0 }, () => Promise.resolve("ran"))).resolves.toBe("ran");
  });
});
