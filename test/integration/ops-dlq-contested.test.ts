/**
 * The dlq commands where they cannot do everything asked, on the real RabbitMQ: a letter whose
 * copy cannot be made, and letters another consumer holds unacked (invisible to every reader).
 * Each is said and fails the command (exit 1); nothing else is held up, nothing is lost.
 */
import { connect, type Channel, type ChannelModel, type ConsumeMessage } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { decodeTask, encodeTaskV1, encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { PermanentError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { confirmAcks } from "../../src/ops/broker-session.js";
import { requeueDeadLetters } from "../../src/ops/dead-letter-requeue.js";
import { runCli, until } from "../helpers/cli.js";
import { publishDeadLetter } from "../helpers/dead-letters.js";
import { makeMatch } from "../helpers/matches.js";
import { createVhost, managementApi, type TestVhost } from "../helpers/rabbit.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const MAX = config.maxMessageBytes;
const poison = new PermanentError("contract_violation", "home_team is required");
let vhost: TestVhost;
let amqp: ChannelModel;

beforeAll(async () => {
  vhost = await createVhost("opsdlqcontested");
  amqp = await connect(vhost.url);
  await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
});

afterAll(async () => {
  await amqp?.close();
  await vhost?.drop();
});

/**
 * Dead letters as the worker makes them; `deep` gets arguments nested too deep for JSON.stringify
 * (JSON.parse reads them), in a protocol 1 body: a requeue sends a protocol 2 body as it came,
 * but re-encodes a protocol 1 one (its retries are in the body), and that copy cannot be made.
 */
async function deadLetters(ids: string[], deep: string[] = []): Promise<void> {
  const ch = await amqp.createConfirmChannel();
  for (const id of [...ids, ...deep]) {
    if (!deep.includes(id)) {
      publishDeadLetter(ch, names, encodeTaskV2({ taskName: config.topology.taskName, taskId: id, args: [makeMatch("contested", ids.indexOf(id))] }), poison);
      continue;
    }
    const task = encodeTaskV1({ taskName: config.topology.taskName, taskId: id, args: ["NESTED"] });
    const content = Buffer.from(task.content.toString("utf8").replace('"NESTED"', `${"[".repeat(20_000)}${"]".repeat(20_000)}`));
    publishDeadLetter(ch, names, { content, properties: task.properties }, poison);
  }
  await ch.waitForConfirms();
  await ch.close();
}

async function taskIdsIn(queue: string, take: boolean): Promise<string[]> {
  const ch = await amqp.createChannel();
  const ids: string[] = [];
  for (let m = await ch.get(queue, { noAck: take }); m; m = await ch.get(queue, { noAck: take })) {
    ids.push(decodeTask(m.content, m.properties, { maxBytes: MAX }).taskId);
  }
  await ch.close();
  return ids;
}

const env = () => ({ RABBITMQ_URL: vhost.url });

describe("dlq commands that cannot reach every letter", () => {
  it("dlq requeue --all: a letter whose copy cannot be made stays, named, and the others are requeued (exit 1)", async () => {
    await deadLetters(["ok-1", "ok-2", "ok-3"], ["deep-1"]);
    // The deep one sits between others: it must not stop the run with copies in flight.
    const listed = await runCli(["dlq", "list"], env());
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^4 dead letters in matches\.dead_letter/);

    const run = await runCli(["dlq", "requeue", "--all"], env());
    expect(run.stderr).toMatch(/^could not requeue deep-1 \(left in matches\.dead_letter\): .*call stack/m);
    expect(run.stdout).toBe("requeued 3 dead letters to exchange matches (routing key matches.process)\n");
    expect(run.code).toBe(1);
    expect(await taskIdsIn(names.queue, true)).toEqual(["ok-1", "ok-2", "ok-3"]);
    expect(await taskIdsIn(names.deadLetterQueue, true)).toEqual(["deep-1"]);
  });

  it("an aborted requeue (Ctrl-C) reads no further letter: the copies in flight settle, their letters go, the rest stay, none out twice", async () => {
    const ids = Array.from({ length: 300 }, (_, i) => `int-${i}`);
    await deadLetters(ids);
    // Aborted as the first copy reaches the work queue (a consumer there holds the copies).
    const abort = new AbortController();
    const watch = await amqp.createChannel();
    await watch.consume(names.queue, () => abort.abort(), { noAck: false });
    const report = await requeueDeadLetters(amqp, names, { all: true }, { maxBytes: MAX, window: 1, signal: abort.signal });
    await watch.close();
    const n = report.requeued.length;
    expect(report).toMatchObject({ interrupted: true, cutShort: false, total: ids.length });
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(ids.length);
    expect(await taskIdsIn(names.queue, true)).toEqual(ids.slice(0, n));
    expect(await taskIdsIn(names.deadLetterQueue, true)).toEqual(ids.slice(n));
  });

  it("letters that cannot be copied do not starve a requeue --all past its window (they hold the consumer's slots for good)", async () => {
    const ids = Array.from({ length: 8 }, (_, i) => `w-${i}`);
    await deadLetters([], ["deep-2", "deep-3"]); // first in the queue
    await deadLetters(ids);
    // Window 2: both slots end up held by the deep letters; it hung there, copies unsettled.
    const report = await requeueDeadLetters(amqp, names, { all: true }, { maxBytes: MAX, window: 2 });
    expect(report.notRequeued.map((r) => r.key)).toEqual(["deep-2", "deep-3"]);
    expect(report.requeued.map((r) => r.taskId)).toEqual(ids);
    expect(report).toMatchObject({ total: 10, scanned: 10, cutShort: false, otherConsumers: 0 });
    expect(await taskIdsIn(names.queue, true)).toEqual(ids);
    expect(await taskIdsIn(names.deadLetterQueue, true)).toEqual(["deep-2", "deep-3"]);
  });

  it("copies the broker refuses midway: the run stops, letters whose copies it took are removed, the others stay (none out twice)", async () => {
    const ids = Array.from({ length: 10 }, (_, i) => `full-${i}`);
    await deadLetters(ids);
    // The work queue takes 4 more, then nacks every copy (max-length, reject-publish).
    const policy = await managementApi("PUT", `/policies/${encodeURIComponent(vhost.name)}/work-queue-full`, {
      pattern: "^matches$",
      definition: { "max-length": 4, overflow: "reject-publish" },
      "apply-to": "queues",
    });
    expect(policy.ok).toBe(true);
    try {
      await until(async () => (await vhost.queue(names.queue))?.effective_policy_definition?.["max-length"] === 4, 30_000, "the policy in force");
      const run = await runCli(["dlq", "requeue", "--all"], env());
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/requeue stopped after 4 message\(s\): .*the rest are still in matches\.dead_letter/);
    } finally {
      await managementApi("DELETE", `/policies/${encodeURIComponent(vhost.name)}/work-queue-full`);
    }
    expect(await taskIdsIn(names.queue, true)).toEqual(ids.slice(0, 4));
    expect(await taskIdsIn(names.deadLetterQueue, true)).toEqual(ids.slice(4));
  });

  it("letters another consumer holds: list warns, requeue and purge say they were not reached (exit 1); none is lost", async () => {
    await deadLetters(["held-1", "held-2", "free-1"]);
    const other: Channel = await amqp.createChannel();
    await other.prefetch(2);
    const holding: ConsumeMessage[] = [];
    await other.consume(names.deadLetterQueue, (m) => m && holding.push(m), { noAck: false });
    await until(() => holding.length === 2, 10_000, "the other consumer to hold two letters");

    const listed = await runCli(["dlq", "list"], env());
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^1 dead letter in matches\.dead_letter/);
    expect(listed.stdout).toContain("warning: 1 other consumer (not a matchflow dlq command) reads matches.dead_letter: the dead letters it holds unacked are not seen until it stops");

    const shown = await runCli(["dlq", "show", "held-1"], env());
    expect(shown.code).toBe(1);
    expect(shown.stderr).toMatch(/no dead letter with task id held-1 .*another client/);

    // By id: a letter found is requeued; what the other client holds does not matter then (exit 0).
    await deadLetters(["by-id"]);
    expect(await runCli(["dlq", "requeue", "by-id"], env())).toMatchObject({ code: 0, stderr: "", stdout: "requeued 1 dead letter to exchange matches (routing key matches.process)\n" });
    expect(await taskIdsIn(names.queue, true)).toEqual(["by-id"]);

    const requeued = await runCli(["dlq", "requeue", "--all"], env());
    expect(requeued.stdout).toBe("requeued 1 dead letter to exchange matches (routing key matches.process)\n");
    expect(requeued.stderr).toContain("1 other consumer (not a matchflow dlq command) reads matches.dead_letter: the dead letters it holds unacked are not seen until it stops; those were not requeued");
    expect(requeued.code).toBe(1);
    expect(await taskIdsIn(names.queue, true)).toEqual(["free-1"]);

    for (const args of [["dlq", "purge", "--yes"], ["dlq", "purge", "--yes", "--code", "contract_violation"]]) {
      const purged = await runCli(args, env());
      expect(purged.stdout).toMatch(/^purged 0 dead letters/);
      expect(purged.stderr).toContain("those were not purged");
      expect(purged.code).toBe(1);
    }

    // The other client stops: its letters are back, none lost, and nobody warns any more.
    await other.close();
    const after = await runCli(["dlq", "list", "--json"], env());
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ total: 2, otherConsumers: 0, warnings: [] });
    expect(await taskIdsIn(names.deadLetterQueue, true)).toEqual(["held-1", "held-2"]);
  });

  it("an ack the broker did not take fails the command instead of reporting the letter removed", async () => {
    await deadLetters(["acked-1"]);
    const ch = await amqp.createChannel();
    ch.on("error", () => undefined);
    const msg = await ch.get(names.deadLetterQueue, { noAck: false });
    if (msg === false) throw new Error("the dead letter did not come");
    // An ack the broker refuses (unknown delivery tag) closes the channel: the real ack is lost with it.
    ch.ack({ ...msg, fields: { ...msg.fields, deliveryTag: 999 } });
    ch.ack(msg);
    await expect(confirmAcks(ch, names.deadLetterQueue, "1 dead letter(s) were purged")).rejects.toMatchObject({
      code: "broker_connection_lost",
      message: expect.stringMatching(/^1 dead letter\(s\) were purged, but the broker did not confirm it took their acks .*some may still be in matches\.dead_letter as well/) as string,
    });
    expect(await taskIdsIn(names.deadLetterQueue, true)).toEqual(["acked-1"]);
  });

  it("a missing work exchange is named before anything is read (it was a bare 'channel closed' after the first copy)", async () => {
    await deadLetters(["no-exchange-1"]);
    const ch = await amqp.createChannel();
    await ch.deleteExchange(names.exchange);
    await ch.close();
    try {
      const run = await runCli(["dlq", "requeue", "--all"], env());
      expect(run).toMatchObject({ code: 2, stdout: "" });
      expect(run.stderr.trim()).toBe("matchflow: work exchange matches does not exist; nothing was requeued (check MATCHES_EXCHANGE and the vhost; a worker declares them when it starts)");
      expect(await taskIdsIn(names.deadLetterQueue, true)).toEqual(["no-exchange-1"]);
    } finally {
      await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
    }
  });

  it("an exclusive consumer of the dead-letter queue: every dlq command says so (exit 1), not a bare 403 (exit 70)", async () => {
    await deadLetters(["excl-1", "excl-2"]); // the other client holds the first; the second is ready
    const other = await amqp.createChannel();
    await other.prefetch(1);
    await other.consume(names.deadLetterQueue, () => undefined, { noAck: false, exclusive: true });
    try {
      for (const args of [["dlq", "list"], ["dlq", "requeue", "--all"], ["dlq", "show", "excl-1"]]) {
        const run = await runCli(args, env());
        expect(run.stderr, args.join(" ")).toContain("another client consumes matches.dead_letter exclusively: no dlq command can read it until that client stops");
        expect(run.code, args.join(" ")).toBe(1);
      }
    } finally {
      await other.close();
    }
    expect(await taskIdsIn(names.deadLetterQueue, true)).toEqual(["excl-1", "excl-2"]);
  });
});
