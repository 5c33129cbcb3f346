/**
 * `queue status` and `queue purge` against the real RabbitMQ: counts over AMQP and from the
 * management API, the stranded-messages and dead-letter warnings, missing queues, the JSON
 * shape and exit codes of the CLI.
 */
import { connect, type ChannelModel, type ConfirmChannel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import type { QueueRow, QueueStatusReport } from "../../src/ops/queue-status-report.js";
import { queueStatus } from "../../src/ops/queue-status.js";
import { runCli, until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
let vhost: TestVhost;
let empty: TestVhost;
let amqp: ChannelModel;

/** Publishes `n` tasks, confirmed, on a channel of its own; returns the channel (still open). */
async function publishWorkOn(connection: ChannelModel, n: number): Promise<ConfirmChannel> {
  const ch = await connection.createConfirmChannel();
  for (let i = 0; i < n; i++) {
    const m = encodeTaskV2({ taskName: config.topology.taskName, taskId: `status-${i}-${Math.random()}`, args: [makeMatch("status", i)] });
    ch.publish(names.exchange, names.routingKey, m.content, m.properties);
  }
  await ch.waitForConfirms();
  return ch;
}

async function publishWork(n: number): Promise<void> {
  await (await publishWorkOn(amqp, n)).close();
}

async function publishDeadLetters(n: number): Promise<void> {
  const ch = await amqp.createConfirmChannel();
  for (let i = 0; i < n; i++) ch.publish(names.deadLetterExchange, names.deadLetterRoutingKey, Buffer.from("{}"), { contentType: "application/json", headers: { "x-matchflow-error-code": "test" } });
  await ch.waitForConfirms();
  await ch.close();
}

function work(report: QueueStatusReport): QueueRow {
  return report.queues.find((q) => q.role === "work") as QueueRow;
}

beforeAll(async () => {
  vhost = await createVhost("opsstatus");
  empty = await createVhost("opsempty");
  amqp = await connect(vhost.url);
  await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
});

afterAll(async () => {
  await amqp?.close();
  await vhost?.drop();
  await empty?.drop();
});

/**
 * Attaches a consumer (prefetch 1) and resolves once it holds one message unacked. The consumer
 * closes when the calling test ends, pass or fail, which puts the message back (the broker
 * requeues before it confirms the close): no later test ever counts 6 ready instead of 7.
 */
async function holdOneMessage(connection: ChannelModel = amqp): Promise<void> {
  const ch = await connection.createChannel();
  onTestFinished(() => ch.close());
  await ch.prefetch(1);
  await new Promise<void>((resolve) => void ch.consume(names.queue, () => resolve(), { noAck: false }));
}

/** A vhost with the topology and an open connection, both gone when the calling test ends. */
async function vhostOfThisTest(name: string): Promise<{ own: TestVhost; connection: ChannelModel }> {
  const own = await createVhost(name);
  const connection = await connect(own.url);
  onTestFinished(async () => {
    await connection.close();
    await own.drop();
  });
  await declareTopology(connection, names, { queueType: "classic", log: silentLogger });
  return { own, connection };
}

describe("queue status", () => {
  it("over AMQP: counts waiting messages and warns when nobody consumes them", async () => {
    await publishWork(7);
    const report = await queueStatus({ names, amqpUrl: vhost.url, log: silentLogger });
    expect(report.source).toBe("amqp");
    expect(report.queues.map((q) => q.name)).toEqual([names.queue, names.deadLetterQueue, ...names.delayQueues.map((d) => d.name), ...names.etaDelayQueues.map((d) => d.name)]);
    expect(report.queues.filter((q) => q.role === "eta").every((q) => q.exists && q.ready === 0)).toBe(true);
    expect(work(report)).toMatchObject({ exists: true, ready: 7, consumers: 0, unacked: null });
    expect(report.warnings).toEqual([expect.stringMatching(/^7 messages wait in matches with no consumer/)]);
  });

  it("no stranded warning once a consumer is attached", async () => {
    await holdOneMessage();
    const report = await queueStatus({ names, amqpUrl: vhost.url, log: silentLogger });
    expect(work(report)).toMatchObject({ ready: 6, consumers: 1 });
    expect(report.warnings).toEqual([]);
  });

  it("from the management API: unacked counts and rates too", async () => {
    // A vhost of its own, and the publishing and consuming channels stay open until the API has
    // sampled them: RabbitMQ may drop the statistics of a channel that closes before its next
    // sample (seen here: a queue whose message_stats had no publish count at all, 1 run in 8,
    // when the publishes came from an earlier test's closed channel).
    const { own, connection } = await vhostOfThisTest("opsmgmt");
    await publishWorkOn(connection, 7);
    await holdOneMessage(connection);
    // The management API shows the broker's statistics samples, taken every few seconds, and the
    // queue's counts, its publish statistics and its delivery statistics are each sampled on
    // their own timer: the counts can read 6/1/1 while no delivery has been sampled yet (no
    // deliver rate). Wait until the API has sampled all three, then read them through queueStatus.
    await until(
      async () => {
        const q = await own.queue(names.queue);
        return q?.messages_ready === 6 && q.messages_unacknowledged === 1 && q.consumers === 1 && q.message_stats?.publish === 7 && (q.message_stats.deliver_get ?? 0) >= 1;
      },
      60_000,
      "management samples of the work queue's counts, publishes and deliveries",
    );
    const report = await queueStatus({ names, amqpUrl: own.url, managementUrl: own.managementUrl, log: silentLogger });
    expect(report.source).toBe("management");
    expect(work(report)).toMatchObject({ exists: true, ready: 6, unacked: 1, consumers: 1 });
    expect(work(report).publishRate).toEqual(expect.any(Number));
    expect(work(report).deliverRate).toEqual(expect.any(Number));
    expect(report.queues.every((q) => q.exists)).toBe(true);
  });

  it("from the management API: also the retry queues of an earlier RETRY_* schedule, with a warning when they hold messages", async () => {
    const { own, connection } = await vhostOfThisTest("opsoldretry");
    // Left by a worker that ran with RETRY_BASE_DELAY=2s: still holding a task on its way back.
    const old = `${names.queue}.retry.2000ms`;
    const ch = await connection.createConfirmChannel();
    await ch.assertQueue(old, { durable: true });
    ch.sendToQueue(old, Buffer.from("{}"), { contentType: "application/json" });
    await ch.waitForConfirms();
    await until(async () => (await own.queue(old))?.messages_ready === 1, 60_000, "the management sample of the old retry queue");
    const report = await queueStatus({ names, amqpUrl: own.url, managementUrl: own.managementUrl, log: silentLogger });
    expect(report.queues.find((q) => q.name === old)).toMatchObject({ role: "retry", delayMs: 2000, unused: true, exists: true, ready: 1 });
    expect(report.warnings).toContain(`1 message in ${old}, a retry queue of an earlier RETRY_* schedule: they return to the work queue when their delay runs out; delete the queue once it is empty`);
  });

  it("warns when the dead-letter queue is not empty", async () => {
    await publishDeadLetters(2);
    const report = await queueStatus({ names, amqpUrl: vhost.url, log: silentLogger });
    expect(report.warnings).toContain("dead-letter queue matches.dead_letter holds 2 messages: see matchflow dlq list");
  });

  it("falls back to AMQP, with a note, when the management API does not answer", async () => {
    const report = await queueStatus({ names, amqpUrl: vhost.url, managementUrl: "http://127.0.0.1:1", log: silentLogger });
    expect(report.source).toBe("amqp");
    expect(report.notes).toEqual([expect.stringMatching(/management API at http:\/\/127\.0\.0\.1:1\/api is unreachable/)]);
    expect(work(report).ready).toBe(7);
  });

  it("falls back to AMQP when the management API refuses the credentials, saying so", async () => {
    const wrong = new URL(vhost.managementUrl);
    wrong.username = "nobody";
    wrong.password = "wrong";
    const report = await queueStatus({ names, amqpUrl: vhost.url, managementUrl: wrong.toString(), log: silentLogger });
    expect(report.source).toBe("amqp");
    expect(report.notes).toEqual([expect.stringMatching(/answered HTTP 401 \(check the user name and password\)/)]);
  });

  it("reports missing queues as missing, over AMQP and from the management API", async () => {
    for (const managementUrl of [undefined, empty.managementUrl]) {
      const report = await queueStatus({ names, amqpUrl: empty.url, managementUrl, log: silentLogger });
      expect(report.queues.every((q) => !q.exists && q.ready === null)).toBe(true);
      expect(report.warnings).toEqual([expect.stringMatching(/^queues matches, matches\.dead_letter, .* do not exist/)]);
    }
  });
});

describe("queue CLI", () => {
  it("`queue status --json` prints the report and exits 0", async () => {
    const { code, stdout } = await runCli(["queue", "status", "--json"], { RABBITMQ_URL: vhost.url });
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as QueueStatusReport;
    expect(report).toMatchObject({ source: "amqp", broker: `127.0.0.1:5672 vhost ${vhost.name}`, notes: [] });
    expect(report.queues[0]).toEqual({ name: "matches", role: "work", exists: true, ready: 7, unacked: null, consumers: 0, publishRate: null, deliverRate: null });
    expect(report.warnings).toHaveLength(2);
  });

  it("`queue status` on a missing topology (a mistyped MATCHES_QUEUE, another vhost) says so and exits 2, for scripts", async () => {
    const { code, stdout } = await runCli(["queue", "status"], { RABBITMQ_URL: empty.url, RABBITMQ_MANAGEMENT_URL: empty.managementUrl });
    expect(code).toBe(2);
    expect(stdout).toMatch(/^matches\s+work\s+missing/m);
    expect(stdout).toMatch(/^warning: queues matches, /m);
  });

  it("exits 4 with one clear line when the broker is unreachable", async () => {
    const { code, stderr } = await runCli(["queue", "status"], { RABBITMQ_URL: "amqp://guest:guest@127.0.0.1:1/" });
    expect(code).toBe(4);
    expect(stderr.trim().split("\n")).toEqual(["matchflow: cannot connect to RabbitMQ at 127.0.0.1:1 vhost /: connection refused"]);
  });

  it("exits 4 when RABBITMQ_URL is wrong even though the management API answers (it printed a healthy table, exit 0)", async () => {
    const closed = await runCli(["queue", "status"], { RABBITMQ_URL: `amqp://guest:guest@127.0.0.1:1/${vhost.name}`, RABBITMQ_MANAGEMENT_URL: vhost.managementUrl });
    expect(closed.stderr.trim().split("\n")).toEqual([`matchflow: cannot connect to RabbitMQ at 127.0.0.1:1 vhost ${vhost.name}: connection refused`]);
    expect(closed.stdout).toBe("");
    expect(closed.code).toBe(4);
    const wrongPassword = new URL(vhost.url);
    wrongPassword.password = "not-the-password";
    const refused = await runCli(["queue", "status"], { RABBITMQ_URL: wrongPassword.toString(), RABBITMQ_MANAGEMENT_URL: vhost.managementUrl });
    expect(refused.stderr).toMatch(/access refused/);
    expect(refused.stderr).not.toMatch(/not-the-password/);
    expect(refused.stdout).toBe("");
    expect(refused.code).toBe(4);
  });

  it("`queue purge` refuses without --yes (exit 2) and purges with it", async () => {
    const refused = await runCli(["queue", "purge"], { RABBITMQ_URL: vhost.url });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to purge work queue matches without --yes/);
    const ch = await amqp.createChannel();
    expect((await ch.checkQueue(names.queue)).messageCount).toBe(7);

    const purged = await runCli(["queue", "purge", "--yes"], { RABBITMQ_URL: vhost.url });
    expect(purged.code).toBe(0);
    expect(purged.stdout).toBe("purged 7 messages from matches\n");
    expect((await ch.checkQueue(names.queue)).messageCount).toBe(0);
    expect((await ch.checkQueue(names.deadLetterQueue)).messageCount).toBe(2);
    await ch.close();

    // A mistyped MATCHES_QUEUE: named, exit 2, and nothing declared under the wrong name.
    const typo = await runCli(["queue", "purge", "--yes"], { RABBITMQ_URL: vhost.url, MATCHES_QUEUE: "matchez" });
    expect(typo.code).toBe(2);
    expect(typo.stdout).toBe("");
    expect(typo.stderr).toBe("work queue matchez does not exist: check MATCHES_QUEUE and the vhost; nothing purged\n");
    expect(await vhost.queue("matchez")).toBeUndefined();
  });
});
