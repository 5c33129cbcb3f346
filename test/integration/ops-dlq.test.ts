/**
 * Dead-letter tooling against the real RabbitMQ, on dead letters shaped exactly as the worker
 * makes them (`buildDeadLetter`): non-destructive listing in order, show, selective requeue
 * (retries reset, failure headers gone, undecodable bytes intact), a refused unroutable
 * requeue that keeps the dead letter, and purge.
 */
import { connect, type ChannelModel, type GetMessage } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MF_HEADERS } from "../../src/broker/headers.js";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { decodeTask, encodeTaskV1, encodeTaskV2, type EncodedMessage } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { PermanentError, TransientError, type MatchflowError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { streamDeadLetters } from "../../src/ops/dead-letter-stream.js";
import { listDeadLetters, showDeadLetter } from "../../src/ops/dead-letters.js";
import { requeueDeadLetters } from "../../src/ops/dead-letter-requeue.js";
import { runCli, spawnCli, until } from "../helpers/cli.js";
import { publishDeadLetter } from "../helpers/dead-letters.js";
import { makeMatch } from "../helpers/matches.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const TASK = config.topology.taskName;
const MAX = config.maxMessageBytes;
const GARBAGE = Buffer.from([0x5b, 0x5b, 0xff, 0x7b]);
let vhost: TestVhost;
let amqp: ChannelModel;

async function deadLetter(msg: EncodedMessage, error: MatchflowError, attempts: number): Promise<void> {
  const ch = await amqp.createConfirmChannel();
  publishDeadLetter(ch, names, msg, error, attempts);
  await ch.waitForConfirms();
  await ch.close();
}

async function count(queue: string, model: ChannelModel = amqp): Promise<number> {
  const ch = await model.createChannel();
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close();
  }
}

async function takeAll(queue: string): Promise<GetMessage[]> {
  const ch = await amqp.createChannel();
  const out: GetMessage[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (!m) break;
    out.push(m);
  }
  await ch.close();
  return out;
}

beforeAll(async () => {
  vhost = await createVhost("opsdlq");
  amqp = await connect(vhost.url);
  await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
  const outage = new TransientError("db_lock_timeout", "canceling statement due to lock timeout");
  for (let i = 1; i <= 3; i++) await deadLetter(encodeTaskV2({ taskName: TASK, taskId: `task-${i}`, args: [makeMatch("dlq", i)], retries: 3 }), outage, 4);
  await deadLetter(encodeTaskV1({ taskName: TASK, taskId: "task-v1", args: [makeMatch("dlq", 4)], retries: 3 }), outage, 4);
  const garbage = { content: GARBAGE, properties: { contentType: "application/json", contentEncoding: "utf-8", correlationId: "task-garbage", deliveryMode: 2, priority: 0, headers: {} } } as unknown as EncodedMessage;
  await deadLetter(garbage, new PermanentError("malformed_json", "message body is not valid UTF-8"), 1);
});

afterAll(async () => {
  await amqp?.close();
  await vhost?.drop();
});

const ORDER = ["task-1", "task-2", "task-3", "task-v1", "task-garbage"];

describe("dlq list / show", () => {
  it("lists every dead letter in queue order with its reason, and leaves them all in place", async () => {
    const listing = await listDeadLetters(amqp, names, { limit: 100, maxBytes: MAX });
    expect(listing).toMatchObject({ queue: "matches.dead_letter", exists: true, total: 5 });
    expect(listing.items.map((d) => d.taskId)).toEqual(ORDER);
    expect(listing.items[0]).toMatchObject({ externalMatchId: "dlq-1", errorCode: "db_lock_timeout", errorMessage: "canceling statement due to lock timeout", attempts: 4 });
    expect(listing.items[0]?.failedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(listing.items[3]).toMatchObject({ externalMatchId: "dlq-4", protocol: 1 });
    expect(listing.items[4]).toMatchObject({ errorCode: "malformed_json", attempts: 1, externalMatchId: null });
    expect(listing.items[4]?.decodeError).toMatch(/UTF-8|JSON/);
    expect(await count(names.deadLetterQueue)).toBe(5);
    const again = await listDeadLetters(amqp, names, { limit: 100, maxBytes: MAX });
    expect(again.items.map((d) => d.taskId)).toEqual(ORDER);
  });

  it("--limit shows the first N and still reports the total", async () => {
    const listing = await listDeadLetters(amqp, names, { limit: 2, maxBytes: MAX });
    expect(listing.total).toBe(5);
    expect(listing.items.map((d) => d.taskId)).toEqual(["task-1", "task-2"]);
    expect(await count(names.deadLetterQueue)).toBe(5);
  });

  it("show gives the decoded task and the headers of one dead letter", async () => {
    const [detail] = (await showDeadLetter(amqp, names, "task-2", { maxBytes: MAX })).found;
    expect(detail?.task?.args).toEqual([makeMatch("dlq", 2)]);
    expect(detail?.task?.retries).toBe(3);
    expect(detail?.headers[MF_HEADERS.originalRoutingKey]).toBe("matches.process");
    expect(await showDeadLetter(amqp, names, "no-such-task", { maxBytes: MAX })).toEqual({ found: [], cutShort: false, missing: false, workQueueExists: null });
    expect(await count(names.deadLetterQueue)).toBe(5);
  });

  it("the CLI prints the listing (table and --json) and `dlq show`", async () => {
    const env = { RABBITMQ_URL: vhost.url };
    const table = await runCli(["dlq", "list"], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^5 dead letters in matches\.dead_letter\n/);
    expect(table.stdout).toMatch(/^task-1\s+dlq-1\s+db_lock_timeout\s+4\s+0\s+\S+\s+canceling statement/m);
    const json = await runCli(["dlq", "list", "--json", "--limit", "1"], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ total: 5, items: [{ taskId: "task-1", externalMatchId: "dlq-1", attempts: 4 }] });
    // The largest --limit: the document, written letter by letter, is still JSON.stringify(listing, null, 2)'s.
    const all = await runCli(["dlq", "list", "--json", "--limit", "1000000"], env);
    expect(all.code).toBe(0);
    const parsed = JSON.parse(all.stdout) as { total: number; items: { taskId: string | null }[] };
    expect(all.stdout).toBe(`${JSON.stringify(parsed, null, 2)}\n`);
    expect(parsed).toMatchObject({ total: 5, cutShort: false });
    expect(parsed.items).toHaveLength(5);
    const show = await runCli(["dlq", "show", "task-v1"], env);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toMatchObject([{ taskId: "task-v1", protocol: 1, task: { args: [{ external_match_id: "dlq-4" }] } }]);
    const missing = await runCli(["dlq", "show", "nope"], env);
    expect(missing.code).toBe(1);
    expect(await count(names.deadLetterQueue)).toBe(5);
  });
});

describe("dlq requeue / purge", () => {
  it("refuses an unroutable requeue and keeps the dead letter", async () => {
    const nowhere = { ...names, routingKey: "no.binding" };
    await expect(requeueDeadLetters(amqp, nowhere, { taskIds: ["task-1"] }, { maxBytes: MAX })).rejects.toMatchObject({ code: "requeue_failed" });
    expect(await count(names.deadLetterQueue)).toBe(5);
    expect(await count(names.queue)).toBe(0);
  });

  it("requeues chosen task ids with retries reset, keeping the others in order", async () => {
    const report = await requeueDeadLetters(amqp, names, { taskIds: ["task-2", "task-garbage", "missing-id"] }, { maxBytes: MAX });
    expect(report.requeued).toEqual([
      { taskId: "task-2", reencoded: true },
      { taskId: "task-garbage", reencoded: false },
    ]);
    expect(report.notFound).toEqual(["missing-id"]);
    expect((await listDeadLetters(amqp, names, { limit: 100, maxBytes: MAX })).items.map((d) => d.taskId)).toEqual(["task-1", "task-3", "task-v1"]);

    const [task2, garbage] = await takeAll(names.queue);
    const env = decodeTask(task2?.content ?? Buffer.alloc(0), task2?.properties ?? {}, { maxBytes: MAX });
    expect(env).toMatchObject({ taskId: "task-2", retries: 0, eta: null, args: [makeMatch("dlq", 2)] });
    const headers = task2?.properties.headers ?? {};
    expect(headers[MF_HEADERS.requeuedFrom]).toBe("matches.dead_letter");
    expect(headers[MF_HEADERS.errorCode]).toBeUndefined();
    expect(headers[MF_HEADERS.attempts]).toBeUndefined();
    expect(task2?.properties.deliveryMode).toBe(2);
    expect(garbage?.content.equals(GARBAGE)).toBe(true);
    expect(garbage?.properties.correlationId).toBe("task-garbage");
  });

  it("`dlq requeue` needs --all or ids; --all moves everything to the work queue", async () => {
    const env = { RABBITMQ_URL: vhost.url };
    expect((await runCli(["dlq", "requeue"], env)).code).toBe(2);
    expect((await runCli(["dlq", "requeue", "--all", "task-1"], env)).code).toBe(2);
    const all = await runCli(["dlq", "requeue", "--all"], env);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe("requeued 3 dead letters to exchange matches (routing key matches.process)\n");
    expect(await count(names.deadLetterQueue)).toBe(0);
    const moved = await takeAll(names.queue);
    expect(moved.map((m) => decodeTask(m.content, m.properties, { maxBytes: MAX }).taskId)).toEqual(["task-1", "task-3", "task-v1"]);
  });

  it("requeue --all streams the queue: in order, and it ends when letters it counted are taken by someone else", async () => {
    const queue = "stream_probe";
    const ch = await amqp.createConfirmChannel();
    await ch.assertQueue(queue, { durable: false });
    for (let i = 0; i < 6; i++) ch.sendToQueue(queue, Buffer.from(String(i)));
    await ch.waitForConfirms();
    // Another client holds the first two: the stream gets the other four, in order, then false
    // (the queue has none ready) instead of waiting for the six it might have expected.
    const thief = await amqp.createChannel();
    const held = [await thief.get(queue, { noAck: false }), await thief.get(queue, { noAck: false })];
    expect(held.map((m) => (m ? m.content.toString() : m))).toEqual(["0", "1"]);
    const reader = await amqp.createChannel();
    const stream = await streamDeadLetters(reader, queue, { window: 3, limit: 6, pick: (m) => m });
    const got: string[] = [];
    for (let m = await stream.next(); m !== false; m = await stream.next()) {
      got.push(m.content.toString());
      reader.ack(m);
    }
    expect(got).toEqual(["2", "3", "4", "5"]);
    await stream.stop();
    await thief.close(); // the two held come back
    expect(await count(queue)).toBe(2);
    await reader.deleteQueue(queue);
    await reader.close();
    await ch.close();
  });

  it.each([
    ["a consumer", undefined],
    ["a consumer, then basic.get past the most it can hold unacked (here 3)", 3],
  ])("a stream that acks nothing looks at `limit` letters at most with %s, queues only what it picks, and leaves everything in place", async (_, maxPrefetch) => {
    const queue = `stream_pick_${maxPrefetch ?? "all"}`;
    const ch = await amqp.createConfirmChannel();
    await ch.assertQueue(queue, { durable: false });
    for (let i = 0; i < 10; i++) ch.sendToQueue(queue, Buffer.from(String(i)));
    await ch.waitForConfirms();
    const reader = await amqp.createChannel();
    // Eight counted when the command started; the two behind them came later and are not seen.
    const even = (m: { content: Buffer }) => (Number(m.content.toString()) % 2 === 0 ? m.content.toString() : undefined);
    const stream = await streamDeadLetters(reader, queue, { limit: 8, pick: even, ...(maxPrefetch ? { maxPrefetch } : {}) });
    const got: string[] = [];
    for (let v = await stream.next(); v !== false; v = await stream.next()) got.push(v);
    expect(got).toEqual(["0", "2", "4", "6"]);
    expect(stream.scanned).toBe(8);
    await stream.stop();
    await reader.close(); // nothing acked: all ten back, in order
    expect((await takeAll(queue)).map((m) => m.content.toString())).toEqual(["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    await ch.deleteQueue(queue);
    await ch.close();
  });

  it("`dlq purge` refuses without --yes (exit 2) and purges with it", async () => {
    await deadLetter(encodeTaskV2({ taskName: TASK, taskId: "task-p", args: [makeMatch("dlq", 9)] }), new PermanentError("contract_violation", "bad"), 1);
    const env = { RABBITMQ_URL: vhost.url };
    const refused = await runCli(["dlq", "purge"], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/refusing to purge dead-letter queue matches\.dead_letter without --yes/);
    expect(await count(names.deadLetterQueue)).toBe(1);
    const purged = await runCli(["dlq", "purge", "--yes"], env);
    expect(purged).toMatchObject({ code: 0, stdout: "purged 1 dead letter from matches.dead_letter\n" });
    expect(await count(names.deadLetterQueue)).toBe(0);
  });
});

describe("a mistyped MATCHES_QUEUE", () => {
  it("`dlq requeue --all` declares nothing, names the missing queues and exits 2; `dlq list` suggests MATCHES_QUEUE and exits 2 too", async () => {
    const env = { RABBITMQ_URL: vhost.url, MATCHES_QUEUE: "qa_third" };
    const requeue = await runCli(["dlq", "requeue", "--all"], env);
    expect(requeue).toMatchObject({ code: 2, stdout: "" });
    expect(requeue.stderr.trim()).toBe(
      "matchflow: work queue qa_third and dead-letter queue qa_third.dead_letter do not exist; nothing was requeued (check MATCHES_QUEUE and the vhost; a worker declares them when it starts)",
    );
    const typo = topologyNames({ ...config.topology, queue: "qa_third" }, config.retry);
    for (const queue of [typo.queue, typo.deadLetterQueue, ...typo.delayQueues.map((d) => d.name), ...typo.etaDelayQueues.map((d) => d.name)]) expect(await vhost.queue(queue), queue).toBeUndefined();

    const list = await runCli(["dlq", "list"], env);
    expect(list).toMatchObject({ code: 2, stdout: "dead-letter queue qa_third.dead_letter does not exist, nor does work queue qa_third: check MATCHES_QUEUE and the vhost\n" });
  });

  it("`dlq show` and `dlq purge --yes` name the missing queues and exit 2 too (they said 'no dead letter with task id', exit 1, and 'nothing purged', exit 0)", async () => {
    const env = { RABBITMQ_URL: vhost.url, MATCHES_QUEUE: "qa_fourth" };
    const missing = "dead-letter queue qa_fourth.dead_letter does not exist, nor does work queue qa_fourth: check MATCHES_QUEUE and the vhost";
    const show = await runCli(["dlq", "show", "some-task"], env);
    expect(show).toMatchObject({ code: 2, stdout: "", stderr: `${missing}; task id some-task not found\n` });
    const purge = await runCli(["dlq", "purge", "--yes"], env);
    expect(purge).toMatchObject({ code: 2, stdout: `${missing}; nothing purged\n` });
    expect(await vhost.queue("qa_fourth.dead_letter")).toBeUndefined();
  });

  it("requeue refuses a work queue that does not exist, even when the dead-letter queue does", async () => {
    const noWorkQueue = { ...names, queue: "no_such_queue" };
    await expect(requeueDeadLetters(amqp, noWorkQueue, { all: true }, { maxBytes: MAX })).rejects.toMatchObject({
      code: "queue_not_found",
      message: "work queue no_such_queue does not exist; nothing was requeued (check MATCHES_QUEUE and the vhost; a worker declares them when it starts)",
    });
    expect(await vhost.queue("no_such_queue")).toBeUndefined();
  });
});

describe("a dead letter without any id", () => {
  it("is listed, shown and requeued by its body reference", async () => {
    const v = await createVhost("opsdlqnoid");
    const model = await connect(v.url);
    try {
      await declareTopology(model, names, { queueType: "classic", log: silentLogger });
      const ch = await model.createConfirmChannel();
      // No Celery id header, no correlation id, no message id: nothing to call it by but its bytes.
      for (const body of [GARBAGE, Buffer.from("[[{}], {}, {}]")]) ch.publish(names.deadLetterExchange, names.deadLetterRoutingKey, body, { contentType: "application/json", headers: { [MF_HEADERS.errorCode]: "malformed_message" } });
      await ch.waitForConfirms();
      await ch.close();
      const env = { RABBITMQ_URL: v.url };
      const listed = JSON.parse((await runCli(["dlq", "list", "--json"], env)).stdout) as { items: { taskId: string | null; bodyRef: string | null }[] };
      expect(listed.items.map((d) => d.taskId)).toEqual([null, null]);
      const [garbageRef, otherRef] = listed.items.map((d) => d.bodyRef ?? "");
      expect(garbageRef).toMatch(/^sha256:[0-9a-f]{16}$/);
      expect(otherRef).not.toBe(garbageRef);
      expect((await runCli(["dlq", "list"], env)).stdout).toContain(`\n${garbageRef}  `);

      const show = await runCli(["dlq", "show", garbageRef ?? ""], env);
      expect(show.code).toBe(0);
      expect(JSON.parse(show.stdout)).toMatchObject([{ bodyRef: garbageRef, body: { encoding: "base64", text: GARBAGE.toString("base64") } }]);

      const requeue = await runCli(["dlq", "requeue", garbageRef ?? ""], env);
      expect(requeue).toMatchObject({ code: 0, stdout: "requeued 1 dead letter to exchange matches (routing key matches.process)\n" });
      const reader = await model.createChannel();
      const moved = await reader.get(names.queue, { noAck: true });
      await reader.close();
      expect(moved && moved.content.equals(GARBAGE)).toBe(true);
      expect((await listDeadLetters(model, names, { limit: 10, maxBytes: MAX })).items.map((d) => d.bodyRef)).toEqual([otherRef]);
    } finally {
      await model.close();
      await v.drop();
    }
  });
});

describe("a requeue killed half way", () => {
  it("loses nothing: every task is in the work queue or still in the dead-letter queue", async () => {
    const v = await createVhost("opsdlqkill");
    const model = await connect(v.url);
    const n = 3000;
    try {
      await declareTopology(model, names, { queueType: "classic", log: silentLogger });
      const ch = await model.createConfirmChannel();
      for (let i = 0; i < n; i++) {
        const m = encodeTaskV2({ taskName: TASK, taskId: `kill-${i}`, args: [{ external_match_id: `kill-${i}` }] });
        ch.publish(names.deadLetterExchange, names.deadLetterRoutingKey, m.content, { ...m.properties, headers: { ...m.properties.headers, [MF_HEADERS.errorCode]: "db_lock_timeout" } });
      }
      await ch.waitForConfirms();
      await ch.close();

      const requeue = spawnCli(["dlq", "requeue", "--all"], { RABBITMQ_URL: v.url });
      await until(async () => (await count(names.queue, model)) > 0 || requeue.proc.exitCode !== null, 60_000, "the requeue under way");
      requeue.kill("SIGKILL");
      await requeue.exited;

      // Dead letters it held unacked go back when the broker notices the dead connection; a copy
      // confirmed whose ack was not yet sent is in both queues (a duplicate the upsert absorbs).
      await until(async () => (await count(names.queue, model)) + (await count(names.deadLetterQueue, model)) >= n, 30_000, "every message back in a queue");
      const ids = new Set<string>();
      const reader = await model.createChannel();
      for (const queue of [names.queue, names.deadLetterQueue]) {
        for (;;) {
          const m = await reader.get(queue, { noAck: true });
          if (!m) break;
          ids.add(decodeTask(m.content, m.properties, { maxBytes: MAX }).taskId);
        }
      }
      await reader.close();
      expect(ids.size).toBe(n);
    } finally {
      await model.close();
      await v.drop();
    }
  });
});
