/**
 * The RabbitMQ definitions shipped in deploy/k8s (imported by the broker pod's post-start hook)
 * against the real broker: they import cleanly, matchflow's own declarations then find every
 * object exactly as they want it (no PRECONDITION_FAILED, no warning), and the dead-letter
 * policy really routes a rejected work message to `matches.dead_letter`.
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import amqp from "amqplib";
import type { ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { declareTopology, topologyNames } from "../../src/broker/topology.js";
import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/log.js";
import { createVhost, managementApi } from "../helpers/rabbit.js";
import type { TestVhost } from "../helpers/rabbit.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const definitions = readFileSync(path.join(ROOT, "deploy/k8s/base/rabbitmq/definitions.json"), "utf8");

/** The deployment's non-secret settings, as the worker sees them from its ConfigMap. */
function deploymentEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(path.join(ROOT, "deploy/k8s/base/matchflow.env"), "utf8").split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined) env[m[1]] = m[2] ?? "";
  }
  return env;
}


let vhost: TestVhost;
let conn: ChannelModel;

beforeAll(async () => {
  vhost = await createVhost("deploydefs");
  // The per-vhost import endpoint puts every object into this vhost, like `import_definitions` into "/".
  const res = await managementApi("POST", `/definitions/${encodeURIComponent(vhost.name)}`, JSON.parse(definitions));
  if (!res.ok) throw new Error(`definitions import failed: HTTP ${res.status} ${await res.text()}`);
  conn = await amqp.connect(vhost.url);
});

afterAll(async () => {
  await conn?.close().catch(() => undefined);
  await vhost?.drop();
});

describe("deploy/k8s RabbitMQ definitions", () => {
  it("create the work, dead-letter, retry and eta queues with the policy applied to `matches`", async () => {
    const config = loadConfig(deploymentEnv());
    const names = topologyNames(config.topology, config.retry);
    for (const q of [names.queue, names.deadLetterQueue, ...names.delayQueues.map((d) => d.name), ...names.etaDelayQueues.map((d) => d.name)]) {
      expect(await vhost.queue(q), q).toBeDefined();
    }
    // The policy object itself; that it takes effect is the dead-letter test below.
    const res = await managementApi("GET", `/policies/${encodeURIComponent(vhost.name)}`);
    const policies = (await res.json()) as { name: string; pattern: string; definition: Record<string, unknown> }[];
    expect(policies).toEqual([
      expect.objectContaining({
        name: "matches-work-queue",
        pattern: `^${names.queue}$`,
        // queue-version 2: classic queue storage v2 halves RabbitMQ's CPU per persistent message here (docs/performance.md).
        definition: { "dead-letter-exchange": names.deadLetterExchange, "dead-letter-routing-key": names.deadLetterRoutingKey, "queue-version": 2 },
      }),
    ]);
  });

  it("leave nothing for matchflow's own declaration to disagree with", async () => {
    const config = loadConfig(deploymentEnv());
    const report = await declareTopology(conn, topologyNames(config.topology, config.retry), { queueType: config.topology.queueType, log: silentLogger });
    expect(report.warnings).toEqual([]);
  });

  it("dead-letter a rejected work message into matches.dead_letter through the policy", async () => {
    const ch = await conn.createChannel();
    try {
      const body = Buffer.from(JSON.stringify({ probe: "policy" }));
      ch.sendToQueue("matches", body, { persistent: true, contentType: "application/json" });
      let msg: amqp.GetMessage | false = false;
      // basic.get until the message is there (publishing is asynchronous); bounded.
      for (let i = 0; i < 200 && msg === false; i++) {
        msg = await ch.get("matches", { noAck: false });
        if (msg === false) await new Promise((r) => setImmediate(r));
      }
      expect(msg).not.toBe(false);
      if (msg === false) return;
      ch.nack(msg, false, false);
      let dead: amqp.GetMessage | false = false;
      for (let i = 0; i < 200 && dead === false; i++) {
        dead = await ch.get("matches.dead_letter", { noAck: true });
        if (dead === false) await new Promise((r) => setImmediate(r));
      }
      expect(dead).not.toBe(false);
      if (dead !== false) expect(dead.content.toString()).toBe(body.toString());
    } finally {
      await ch.close();
    }
  });
});
