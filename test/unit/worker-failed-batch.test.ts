/**
 * The worker loop when a batch's transaction fails as a whole with messages refused before the
 * database in it, and when a channel is lost under buffered deliveries (in-process broker,
 * scripted stores; see worker-loop.test.ts).
 */
import { describe, expect, it } from "vitest";
import { MemoryBroker } from "../../src/broker/memory-transport.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import { PermanentError, TransientError } from "../../src/errors.js";
import type { FailureRecord, MatchStore, StoreItem, StoreOutcome } from "../../src/worker/store.js";
import type { InboundMessage } from "../../src/worker/transport.js";
import { match, ok, route, runWorker, TASK } from "../helpers/worker-loop.js";

describe("worker loop, batch failures and lost channels", () => {
  describe("a batch transaction that fails as a whole, with a message refused before the database in it", () => {
    /**
     * The first write (a gate task) waits until released, so that the next two tasks, published
     * meanwhile, are buffered and form one batch; later writes with matches in them fail with a
     * lock timeout, and a write of failures only commits unless `recordFails`.
     */
    function gatedStore(recordFails: boolean) {
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const store = {
        recordFails,
        calls: 0,
        batches: [] as string[][],
        recorded: [] as string[],
        async writeBatch(items: StoreItem[], failures: FailureRecord[] = []): Promise<StoreOutcome[]> {
          store.calls++;
          store.batches.push([...items.map((it) => it.taskId ?? "?"), ...failures.map((f) => f.taskId ?? "?")]);
          if (store.calls === 1) {
            await gate;
            return ok(items);
          }
          if (items.length > 0 || store.recordFails) throw new TransientError("db_lock_timeout", "canceling statement due to lock timeout");
          for (const f of failures) store.recorded.push(f.taskId ?? "?");
          return [];
        },
        ping: () => Promise.resolve(),
        warmUp: () => Promise.resolve(0),
        close: () => Promise.resolve(),
      };
      return { store, release: () => release() };
    }

    const contractViolation = encodeTaskV2({ taskName: TASK, taskId: "bad", args: [{ ...match(2), away_team: undefined }] });

    async function oneBatch(recordFails: boolean, max: number, bad = contractViolation) {
      const { store, release } = gatedStore(recordFails);
      const broker = new MemoryBroker(route);
      const run = await runWorker(store, 0, { max, broker, concurrency: 1 });
      await broker.publish("matches", "matches.process", encodeTaskV2({ taskName: TASK, taskId: "gate", args: [match(0)] }));
      await expect.poll(() => store.calls).toBe(1);
      await broker.publish("matches", "matches.process", encodeTaskV2({ taskName: TASK, taskId: "good", args: [match(1)] }));
      await broker.publish("matches", "matches.process", bad);
      await expect.poll(() => broker.stats().unacked).toBe(3);
      release();
      await expect.poll(() => store.batches.length).toBeGreaterThanOrEqual(2);
      expect(store.batches[1]).toEqual(["good", "bad"]);
      return { ...run, store };
    }

    it("still records the refused message (its row was rolled back with the batch), then dead-letters it", async () => {
      const { worker, events, store } = await oneBatch(false, 0);
      await expect.poll(() => events.length).toBe(3);
      expect(events.find((e) => e.taskId === "bad")).toMatchObject({ outcome: "dead_lettered", code: "contract_violation" });
      expect(events.find((e) => e.taskId === "good")).toMatchObject({ outcome: "dead_lettered", code: "db_lock_timeout" });
      expect(store.recorded).toEqual(["bad"]);
      await worker.stop(1000);
    });

    it("gives back one that cannot be decoded while its record cannot be written (nothing to retry it from), and dead-letters it once recorded", async () => {
      const garbled = { content: Buffer.from("not json"), properties: { ...contractViolation.properties } };
      const { worker, events, store, broker } = await oneBatch(true, 3, garbled);
      // Refused again on each return, its record failing each time: never dead-lettered unrecorded.
      await expect.poll(() => store.batches.filter((b) => b.includes("bad")).length).toBeGreaterThanOrEqual(3);
      expect(events.find((e) => e.taskId === "bad")).toBeUndefined();
      expect(broker.deadLetters.filter((d) => d.properties.headers?.id === "bad")).toEqual([]);
      store.recordFails = false;
      await expect.poll(() => events.find((e) => e.taskId === "bad")?.outcome).toBe("dead_lettered");
      expect(events.find((e) => e.taskId === "bad")).toMatchObject({ code: "malformed_json" });
      expect(store.recorded).toEqual(["bad"]);
      await worker.stop(1000);
    });

    it("retries the refused message when its record cannot be written either, instead of dead-lettering it unrecorded", async () => {
      const { worker, events, store } = await oneBatch(true, 3);
      await expect.poll(() => events.find((e) => e.taskId === "bad")?.outcome).toBe("retried");
      expect(events.find((e) => e.taskId === "bad")).toMatchObject({ outcome: "retried", code: "db_lock_timeout" });
      expect(store.recorded).toEqual([]);
      await worker.stop(1000);
    });
  });

  /** Records what the worker asks of the broker for each delivery; a delivery can be marked lost (its channel gone: stale). */
  class LosingBroker extends MemoryBroker {
    readonly lost = new Set<unknown>();
    readonly delivered = new Map<unknown, InboundMessage>();
    readonly asked: string[] = [];
    override consume(prefetch: number, onMessage: (message: InboundMessage) => void): Promise<void> {
      return super.consume(prefetch, (m) => {
        this.delivered.set(m.properties.headers?.id, m);
        onMessage(m);
      });
    }
    isStale(message: InboundMessage): boolean {
      return this.lost.has(message.token);
    }
    override ack(message: InboundMessage): void {
      this.asked.push(`ack ${String(message.properties.headers?.id)}`);
      super.ack(message);
    }
    override retry(message: InboundMessage, retry: Parameters<MemoryBroker["retry"]>[1], attempt: number, delayMs: number): Promise<void> {
      this.asked.push(`retry ${String(message.properties.headers?.id)}`);
      return super.retry(message, retry, attempt, delayMs);
    }
    override deadLetter(message: InboundMessage, letter: Parameters<MemoryBroker["deadLetter"]>[1]): Promise<void> {
      this.asked.push(`dead-letter ${String(message.properties.headers?.id)}`);
      return super.deadLetter(message, letter);
    }
  }

  /**
   * A worker (one batch at a time) on a LosingBroker whose store runs `write` for each batch, the
   * batch's task ids recorded in `batches`; a task "gate" is written first, and its batch waits
   * for `releaseGate`, so that the next tasks published are buffered and form one batch.
   */
  async function behindAGate(write: (items: StoreItem[], batch: number) => Promise<StoreOutcome[]>) {
    let releaseGate: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (releaseGate = resolve));
    const batches: string[][] = [];
    const store: MatchStore = {
      async writeBatch(items: StoreItem[]) {
        batches.push(items.map((it) => it.taskId ?? "?"));
        if (batches.length === 1) await gate;
        return write(items, batches.length);
      },
      ping: () => Promise.resolve(),
      warmUp: () => Promise.resolve(0),
      close: () => Promise.resolve(),
    };
    const broker = new LosingBroker(route);
    const { worker } = await runWorker(store, 0, { broker, concurrency: 1 });
    const publish = (id: string, i: number) => broker.publish("matches", "matches.process", encodeTaskV2({ taskName: TASK, taskId: id, args: [match(i)] }));
    await publish("gate", 0);
    await expect.poll(() => batches.length).toBe(1);
    return { broker, worker, batches, publish, releaseGate };
  }

  it("forgets buffered deliveries of a lost channel (redelivered on the next): they piled up at each loss while the database was away", async () => {
    const { broker, worker, batches, publish, releaseGate } = await behindAGate((items) => Promise.resolve(ok(items)));
    await publish("old-1", 1);
    await publish("old-2", 2);
    await expect.poll(() => worker.tasksNow().reserved.length).toBe(2);
    for (const m of worker.tasksNow().reserved) broker.lost.add(m.token);
    await publish("new-1", 3);
    await expect.poll(() => worker.tasksNow().reserved.map((m) => m.properties.headers?.id)).toEqual(["new-1"]);
    releaseGate();
    await expect.poll(() => batches.flat()).toEqual(["gate", "new-1"]);
    await worker.stop(1000);
  });

  it("settles nothing of a batch whose channel was lost while it was in the database: no retry or dead-letter copy (the redelivery sends it), no ack", async () => {
    // The second batch waits too, until its deliveries are marked lost; then it fails, one match for good, one for now.
    let releaseSecond: () => void = () => undefined;
    const second = new Promise<void>((resolve) => (releaseSecond = resolve));
    const { broker, worker, batches, publish, releaseGate } = await behindAGate(async (items, batch) => {
      if (batch !== 2) return ok(items);
      await second;
      return items.map((it) => (it.taskId === "lost-bad" ? { ok: false as const, error: new PermanentError("db_constraint", "a bad row") } : { ok: false as const, error: new TransientError("db_lock_timeout", "lock timeout") }));
    });
    await publish("lost-retry", 1);
    await publish("lost-bad", 2);
    await expect.poll(() => worker.tasksNow().reserved.length).toBe(2);
    releaseGate();
    await expect.poll(() => batches).toEqual([["gate"], ["lost-retry", "lost-bad"]]);
    broker.asked.length = 0;
    for (const id of ["lost-retry", "lost-bad"]) broker.lost.add(broker.delivered.get(id)?.token);
    releaseSecond();
    await publish("after", 3);
    await expect.poll(() => broker.asked).toContain("ack after");
    expect(broker.asked).toEqual(["ack after"]);
    await worker.stop(1000);
  });
});
