/**
 * The broker takes something from under a running worker: its work queue (deleted by an
 * operator; the broker cancels the consumer), or the room for its copies (a dead-letter queue
 * full under a reject-publish policy: the broker nacks each copy). The worker must consume again
 * once the queue is declared again, and hold a task whose copy is refused instead of handing it
 * back to a broker that redelivers it at once, as fast as it can.
 */
import { connect, type ChannelModel } from "amqplib";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { until } from "../helpers/cli.js";
import { makeMatch } from "../helpers/matches.js";
import { managementApi } from "../helpers/rabbit.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

const DEAD_LETTER_QUEUE = "matches.dead_letter";
const POLICY = "dead-letters-refused";
let t: WorkerEnv;
let amqp: ChannelModel;

async function consumers(queue: string): Promise<number> {
  const ch = await amqp.createChannel();
  try {
    return (await ch.checkQueue(queue)).consumerCount;
  } finally {
    await ch.close();
  }
}

/** True when the broker nacks a publish to `queue` (the policy is in force). */
async function refuses(queue: string): Promise<boolean> {
  const ch = await amqp.createConfirmChannel();
  try {
    ch.publish("", queue, Buffer.from("probe"), { deliveryMode: 2 });
    await ch.waitForConfirms();
    return false;
  } catch {
    return true;
  } finally {
    await ch.close().catch(() => undefined);
  }
}

beforeAll(async () => {
  t = await createWorkerEnv("queuelost");
  amqp = await connect(t.vhost.url);
});
afterEach(async () => {
  await t.killAll();
  await managementApi("DELETE", `/policies/${encodeURIComponent(t.vhost.name)}/${POLICY}`);
});
afterAll(async () => {
  await amqp?.close();
  await t?.teardown();
});

describe("the broker takes a queue from under a running worker", () => {
  it("the work queue deleted: the worker declares it again (with its binding) and consumes from it", async () => {
    const w = await t.startWorker();
    await t.publish([makeMatch("before", 1)]);
    await until(async () => (await t.rows("before")).total === 1, 30_000, "the first row");
    const from = w.logs.length;
    const ch = await amqp.createChannel();
    await ch.deleteQueue("matches");
    await ch.close();
    await w.waitForLog((l) => l.msg === "consumer cancelled by the broker (queue deleted?): declaring it again and consuming" && w.logs.indexOf(l) >= from, 30_000);
    await w.waitForLog((l) => l.msg === "consuming again" && w.logs.indexOf(l) >= from, 30_000);
    expect(await consumers("matches")).toBe(1);
    // Published through the exchange: the binding came back with the queue.
    await t.publish(Array.from({ length: 20 }, (_, i) => makeMatch("after", i)));
    await until(async () => (await t.rows("after")).total === 20, 30_000, "the rows published after the deletion");
    expect(await t.rows("after")).toEqual({ total: 20, distinct: 20 });
    expect(w.logs.some((l) => l.msg === "could not consume again (declaring the topology or opening the consumer): trying again")).toBe(false);
    expect(w.proc.exitCode).toBeNull();
  });

  it("a dead letter the broker refuses: the task is held and its copy published again with a growing pause, never requeued; it lands once the refusal ends", async () => {
    const w = await t.startWorker();
    const res = await managementApi("PUT", `/policies/${encodeURIComponent(t.vhost.name)}/${POLICY}`, {
      pattern: "^matches\\.dead_letter$",
      definition: { "max-length": 0, overflow: "reject-publish" },
      "apply-to": "queues",
      priority: 10,
    });
    expect(res.ok).toBe(true);
    await until(() => refuses(DEAD_LETTER_QUEUE), 30_000, "the policy in force");
    // Not a task (text/plain): permanent, dead-lettered at once.
    const ch = await amqp.createConfirmChannel();
    ch.publish("matches", "matches.process", Buffer.from("refused"), { deliveryMode: 2, contentType: "text/plain", correlationId: "refused-1" });
    await ch.waitForConfirms();
    await ch.close();
    const refused = (l: Record<string, unknown>) => l.msg === "could not publish the dead letter copy: publishing it again (the task stays unacked until then)";
    await w.waitForLog((l) => refused(l) && l.round === 2, 60_000);
    expect(w.logs.filter(refused).map((l) => [l.round, l.pauseMs])).toEqual([
      [1, 1000],
      [2, 2000],
    ]);
    // Held, not handed back: the broker delivered it once.
    expect(w.logs.filter((l) => l.msg === "could not publish the retry, the dead letter or the task's Celery errbacks; message returned to the queue")).toEqual([]);
    expect(await t.ready("matches")).toBe(0);

    await managementApi("DELETE", `/policies/${encodeURIComponent(t.vhost.name)}/${POLICY}`);
    const dead = await w.waitForLog((l) => l.outcome === "dead_lettered", 60_000);
    expect(dead).toMatchObject({ code: "unsupported_content_type" });
    // Once: a requeued delivery would have come back marked redelivered.
    expect(w.logs.filter((l) => l.outcome === "dead_lettered")).toHaveLength(1);
    expect(dead.redelivered).toBeUndefined();
    const letters = await t.peek(DEAD_LETTER_QUEUE);
    expect(letters.map((l) => String(l.properties.correlationId))).toEqual(["refused-1"]);
    expect(await t.ready("matches")).toBe(0);
  });
});
