/**
 * The worker's gauges say what /readyz and the worker's own counts say: `matchflow_broker_up`
 * follows the consumer channel too (not only the connection's events), and
 * `matchflow_tasks_in_flight` drops the deliveries of a lost channel once they are forgotten.
 */
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../../src/broker/memory-transport.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import type { InboundMessage } from "../../src/worker/transport.js";
import { match, route, runWorker, scriptedStore, TASK } from "../helpers/worker-loop.js";

async function gauge(g: { get(): Promise<{ values: { value: number }[] }> }): Promise<number | undefined> {
  return (await g.get()).values[0]?.value;
}

describe("worker gauges", () => {
  it("matchflow_broker_up reads 0 while the transport is not connected though no connection event came (the consumer channel lost: /readyz says broker false)", async () => {
    const broker = new MemoryBroker(route);
    let consumerOpen = true;
    // As the AMQP transport: a consumer channel that closes (and cannot be opened again) on a
    // live connection makes isConnected() false without a connection-change event.
    const transport = Object.assign(broker, { isConnected: () => consumerOpen });
    const { worker, metrics } = await runWorker(scriptedStore([]), 0, { broker: transport });
    expect(await gauge(metrics.brokerUp)).toBe(1);
    consumerOpen = false;
    expect(worker.ready().checks.broker).toBe(false);
    expect(await gauge(metrics.brokerUp)).toBe(0);
    consumerOpen = true;
    expect(await gauge(metrics.brokerUp)).toBe(1);
    await worker.stop(1000);
  });

  it("matchflow_tasks_in_flight drops to 0 when the buffered deliveries of a lost channel are forgotten", async () => {
    const broker = new MemoryBroker(route);
    const stale = new Set<InboundMessage>();
    let lost = false;
    const transport = Object.assign(broker, {
      isStale: (m: InboundMessage) => lost || stale.has(m),
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const store = scriptedStore([]);
    const write = store.writeBatch.bind(store);
    let writes = 0;
    store.writeBatch = async (items, failures) => {
      writes++;
      await gate;
      return write(items, failures);
    };
    // One slot: the first message is written (and held at the gate), the others wait in the buffer.
    const { worker, metrics } = await runWorker(store, 0, { broker: transport, concurrency: 1 });
    for (let i = 0; i < 6; i++) await broker.publish("matches", "matches.process", encodeTaskV2({ taskName: TASK, taskId: `t-${i}`, args: [match(i)] }));
    await expect.poll(() => writes).toBe(1);
    await expect.poll(() => gauge(metrics.inFlight)).toBe(6);
    // The channel goes: every delivery of it is stale (the broker delivers them again on the next).
    lost = true;
    release();
    await expect.poll(() => worker.inFlight).toBe(0);
    expect(await gauge(metrics.inFlight)).toBe(0);
    await worker.stop(1000);
  });
});
