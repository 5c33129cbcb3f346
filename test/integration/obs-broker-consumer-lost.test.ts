/**
 * `matchflow_broker_up` says what /readyz's broker check says when the consumer channel is gone
 * on a live connection and cannot be opened again (here: the work queue deleted while the
 * worker's user may no longer read from it): both 0/503, then both 1/200 once it consumes again.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { until } from "../helpers/cli.js";
import { managementApi } from "../helpers/rabbit.js";
import { createWorkerEnv, type WorkerEnv } from "../helpers/worker-env.js";

let t: WorkerEnv;

beforeAll(async () => {
  t = await createWorkerEnv("obsconsumer");
});
afterEach(async () => t.stopAll());
afterAll(async () => t?.teardown());

async function permit(read: string): Promise<void> {
  const res = await managementApi("PUT", `/permissions/${encodeURIComponent(t.vhost.name)}/guest`, { configure: ".*", write: ".*", read });
  expect(res.ok).toBe(true);
}

describe("consumer channel lost on a live connection", () => {
  it("/readyz 503 and matchflow_broker_up 0 while the worker cannot consume, both back once it does", async () => {
    const w = await t.startWorker();
    const port = Number((await w.waitForLog((l) => l.msg === "ops HTTP server listening (/metrics, /healthz, /readyz)")).port);
    const probe = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return { status: res.status, brokerUp: /^matchflow_broker_up (\S+)$/m.exec(metrics)?.[1] };
    };
    expect(await probe()).toEqual({ status: 200, brokerUp: "1" });
    try {
      await permit("^$");
      expect((await managementApi("DELETE", `/queues/${encodeURIComponent(t.vhost.name)}/matches`)).ok).toBe(true);
      await w.waitForLog((l) => l.msg === "could not consume again (declaring the topology or opening the consumer): trying again", 20_000);
      expect(await probe()).toEqual({ status: 503, brokerUp: "0" });
    } finally {
      await permit(".*");
    }
    await w.waitForLog((l) => l.msg === "consuming again", 30_000);
    await until(async () => (await probe()).status === 200, 10_000, "/readyz 200");
    expect(await probe()).toEqual({ status: 200, brokerUp: "1" });
  }, 90_000);
});
