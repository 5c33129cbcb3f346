/**
 * `dlq list --code`, `dlq requeue --code` and `dlq purge --code` on the real RabbitMQ: after an outage the
 * dead-letter queue holds its letters beside poison that would only come back; an operator
 * requeues the outage's by their error code (the worker's, or the broker's own reason) and
 * leaves the rest where they were, in their order.
 */
import { connect, type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { decodeTask, encodeTaskV2 } from "../../src/celery/codec.js";
import { loadConfig } from "../../src/config.js";
import { PermanentError, TransientError, type MatchflowError } from "../../src/errors.js";
import { silentLogger } from "../../src/log.js";
import { listDeadLetters, type DeadLetterListing } from "../../src/ops/dead-letters.js";
import { parseErrorCodeFilter } from "../../src/ops/error-code-filter.js";
import { runCli } from "../helpers/cli.js";
import { publishDeadLetter } from "../helpers/dead-letters.js";
import { makeMatch } from "../helpers/matches.js";
import { createVhost, type TestVhost } from "../helpers/rabbit.js";

const config = loadConfig({});
const names = topologyNames(config.topology, config.retry);
const TASK = config.topology.taskName;
const MAX = config.maxMessageBytes;
let vhost: TestVhost;
let amqp: ChannelModel;

const outage = new TransientError("db_lock_timeout", "canceling statement due to lock timeout");
const poison = new PermanentError("contract_violation", "away_team is required");
/** The queue's order: the outage's letters among poison, and one the broker dead-lettered itself. */
const LETTERS: [string, MatchflowError | "broker_maxlen"][] = [
  ["out-1", outage],
  ["bad-1", poison],
  ["out-2", outage],
  ["max-1", "broker_maxlen"],
  ["bad-2", poison],
  ["out-3", outage],
];

beforeAll(async () => {
  vhost = await createVhost("opsdlqcode");
  amqp = await connect(vhost.url);
  await declareTopology(amqp, names, { queueType: "classic", log: silentLogger });
  const ch = await amqp.createConfirmChannel();
  for (const [id, why] of LETTERS) {
    const task = encodeTaskV2({ taskName: TASK, taskId: id, args: [makeMatch("code", LETTERS.findIndex(([other]) => other === id))] });
    if (why === "broker_maxlen") {
      // As RabbitMQ dead-letters a message pushed out of a full queue: no worker headers, x-death.
      const headers = { ...task.properties.headers, "x-death": [{ reason: "maxlen", queue: names.queue, count: 1, exchange: names.exchange, "routing-keys": [names.routingKey] }] };
      ch.publish(names.deadLetterExchange, names.deadLetterRoutingKey, task.content, { ...task.properties, headers, deliveryMode: 2 });
      continue;
    }
    publishDeadLetter(ch, names, task, why);
  }
  await ch.waitForConfirms();
  await ch.close();
});

afterAll(async () => {
  await amqp?.close();
  await vhost?.drop();
});

async function taskIdsIn(queue: string, take: boolean): Promise<string[]> {
  const ch = await amqp.createChannel();
  const ids: string[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: take });
    if (!m) break;
    ids.push(decodeTask(m.content, m.properties, { maxBytes: MAX }).taskId);
  }
  await ch.close(); // what was not taken goes back, in its order
  return ids;
}

describe("dead letters chosen by error code", () => {
  it("dlq list --code counts the matching ones among all and lists the first --limit of them, in order", async () => {
    const listing = await listDeadLetters(amqp, names, { limit: 2, maxBytes: MAX, codes: parseErrorCodeFilter("db_*") });
    expect(listing).toMatchObject({ total: 6, codes: ["db_*"], matching: 3, cutShort: false });
    expect(listing.items.map((d) => d.taskId)).toEqual(["out-1", "out-2"]);

    const cli = await runCli(["dlq", "list", "--code", "db_lock_timeout,broker_*", "--json"], { RABBITMQ_URL: vhost.url });
    expect(cli.code).toBe(0);
    const printed = JSON.parse(cli.stdout) as DeadLetterListing;
    expect(printed.items.map((d) => [d.taskId, d.errorCode])).toEqual([
      ["out-1", "db_lock_timeout"],
      ["out-2", "db_lock_timeout"],
      ["max-1", "broker_maxlen"],
      ["out-3", "db_lock_timeout"],
    ]);
    const table = await runCli(["dlq", "list", "--code", "task_expired"], { RABBITMQ_URL: vhost.url });
    expect(table.stdout).toBe("none of the 6 dead letters in matches.dead_letter has code task_expired; codes present: db_lock_timeout (3), contract_violation (2), broker_maxlen (1)\n");
    expect(await taskIdsIn(names.deadLetterQueue, false)).toEqual(LETTERS.map(([id]) => id));
  });

  it("dlq requeue --code moves those letters to the work queue and leaves the others in their order", async () => {
    const env = { RABBITMQ_URL: vhost.url };
    const refused = await runCli(["dlq", "requeue", "--code", "db_*", "out-1"], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/needs only one of --all, --code or task ids/);

    const run = await runCli(["dlq", "requeue", "--code", "db_lock_timeout,broker_*"], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("requeued 4 dead letters with code db_lock_timeout or broker_* to exchange matches (routing key matches.process)\n");
    expect(await taskIdsIn(names.queue, true)).toEqual(["out-1", "out-2", "max-1", "out-3"]);
    expect(await taskIdsIn(names.deadLetterQueue, false)).toEqual(["bad-1", "bad-2"]);
  });

  it("dlq purge --code --yes removes only those letters, the others stay in their order", async () => {
    const ch = await amqp.createConfirmChannel();
    publishDeadLetter(ch, names, encodeTaskV2({ taskName: TASK, taskId: "exp-1", args: [makeMatch("code", 9)] }), new PermanentError("task_expired", "expired"), 1);
    await ch.waitForConfirms();
    await ch.close();
    const env = { RABBITMQ_URL: vhost.url };
    const refused = await runCli(["dlq", "purge", "--code", "contract_violation"], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe("matchflow: refusing to purge the dead letters with code contract_violation in matches.dead_letter without --yes (its messages would be lost)\n");

    const run = await runCli(["dlq", "purge", "--code", "contract_violation", "--yes"], env);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("purged 2 dead letters with code contract_violation from matches.dead_letter\n");
    expect(await taskIdsIn(names.deadLetterQueue, false)).toEqual(["exp-1"]);
  });
});
