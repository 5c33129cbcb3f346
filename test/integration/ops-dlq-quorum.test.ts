/**
 * The dlq tooling on a quorum dead-letter queue (what `QUEUE_TYPE=quorum` declares), on the real
 * RabbitMQ: each peek counts as a delivery there, a consumer's unbounded prefetch means 2,000,
 * and letters handed back after basic.get came back shuffled.
 */
import { connect, type ChannelModel } from "amqplib";
import { describe, expect, it } from "vitest";
import { MF_HEADERS } from "../../src/broker/headers.js";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { TransientError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { listDeadLetters, showDeadLetter } from "../../src/ops/dead-letters.js";
import { requeueDeadLetters } from "../../src/ops/dead-letter-requeue.js";
import { until } from "../helpers/cli.js";
import { publishDeadLetter } from "../helpers/dead-letters.js";
import { makeMatch } from "../helpers/matches.js";
import { createVhost } from "../helpers/rabbit.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const TASK = config.topology.taskName;
const MAX = config.maxMessageBytes;

async function count(queue: string, model: ChannelModel): Promise<number> {
  const ch = await model.createChannel();
  try {
    return (await ch.checkQueue(queue)).messageCount;
  } finally {
    await ch.close();
  }
}

describe("quorum dead-letter queue", () => {
  it("shows the delivery count each peek adds, and warns before a delivery limit could drop dead letters", async () => {
    const quorum = await createVhost("opsdlqq");
    const model = await connect(quorum.url);
    try {
      await declareTopology(model, names, { queueType: "quorum", log: silentLogger });
      const ch = await model.createConfirmChannel();
      ch.publish(names.deadLetterExchange, names.deadLetterRoutingKey, Buffer.from("{}"), { contentType: "application/json", headers: { [MF_HEADERS.errorCode]: "test" } });
      await ch.waitForConfirms();
      await ch.close();
      const first = await listDeadLetters(model, names, { limit: 10, maxBytes: MAX });
      expect(first.items[0]?.deliveryCount ?? 0).toBe(0);
      expect(first.warnings).toEqual([]);
      let listing = first;
      for (let i = 0; i < 10; i++) {
        // A quorum queue takes the peeked message back asynchronously after the channel closes.
        await until(async () => (await count(names.deadLetterQueue, model)) === 1, 10_000, "the peeked dead letter back");
        listing = await listDeadLetters(model, names, { limit: 10, maxBytes: MAX });
        expect(listing.items).toHaveLength(1);
      }
      expect(listing.total).toBe(1);
      expect(listing.items[0]?.deliveryCount).toBe(10);
      expect(listing.warnings).toEqual([expect.stringMatching(/delivered up to 10 times/)]);
    } finally {
      await model.close();
      await quorum.drop();
    }
  });
});

describe("a long quorum dead-letter queue", () => {
  it("more letters than a quorum consumer's unbounded prefetch (2,000): listed, shown and requeued by id, and left in their order", async () => {
    const N = 2_100;
    const quorum = await createVhost("opsdlqql");
    const model = await connect(quorum.url);
    try {
      await declareTopology(model, names, { queueType: "quorum", log: silentLogger });
      const ch = await model.createConfirmChannel();
      const outage = new TransientError("db_lock_timeout", "canceling statement due to lock timeout");
      const ids = Array.from({ length: N }, (_, i) => `q-${i}`);
      for (const id of ids) {
        publishDeadLetter(ch, names, encodeTaskV2({ taskName: TASK, taskId: id, args: [makeMatch("dlqq", 0)] }), outage);
      }
      await ch.waitForConfirms();
      await ch.close();
      // A quorum queue takes peeked letters back asynchronously after the channel closes.
      const settled = (n: number) => until(async () => (await count(names.deadLetterQueue, model)) === n, 10_000, `${n} dead letters ready`);
      const listed = await listDeadLetters(model, names, { limit: N, maxBytes: MAX });
      expect(listed.items.map((d) => d.taskId)).toEqual(ids);
      await settled(N);
      const shown = await showDeadLetter(model, names, `q-${N - 1}`, { maxBytes: MAX });
      expect(shown.found.map((d) => d.taskId)).toEqual([`q-${N - 1}`]);
      await settled(N);
      const report = await requeueDeadLetters(model, names, { taskIds: ["q-0", `q-${N - 1}`] }, { maxBytes: MAX });
      expect(report.requeued.map((r) => r.taskId)).toEqual(["q-0", `q-${N - 1}`]);
      expect(report.scanned).toBe(N);
      await settled(N - 2);
      // Letters taken with basic.get came back shuffled; the order is the one they arrived in.
      const again = await listDeadLetters(model, names, { limit: N, maxBytes: MAX });
      expect(again.items.map((d) => d.taskId)).toEqual(ids.slice(1, -1));
    } finally {
      await model.close();
      await quorum.drop();
    }
  });
});
