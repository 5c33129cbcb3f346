/**
 * The worker loop's wiring of the policy, on the in-process broker (the embedded mode's real
 * transport) and a scripted store: what is acked, retried, held or dead-lettered, and when.
 * The real database behind the store is covered by the integration tests.
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { headersAsDelivered } from "../../src/broker/field-values.js";
import { MemoryBroker } from "../../src/broker/memory-transport.js";
import { decodeTask, encodeTaskV2 } from "../../src/celery/codec.js";
import { PermanentError, TransientError } from "../../src/errors.js";
import type { Logger } from "../../src/log.js";
import type { MatchStore, StoreItem, StoreOutcome } from "../../src/worker/store.js";
import { match, ok, route, runWorker, scriptedStore, TASK } from "../helpers/worker-loop.js";

/** A logger at `level` whose lines land in `lines`. */
function capturingLogger(level: string, lines: { msg?: string; taskId?: string; outcome?: string }[]): Logger {
  return pino({ level }, { write: (line: string) => void lines.push(JSON.parse(line) as { msg?: string }) });
}

describe("worker loop", () => {
  it("writes a line per stored task at debug only (batches summed at info), and per failed task always", async () => {
    for (const level of ["info", "debug"]) {
      const lines: { msg?: string; taskId?: string; outcome?: string }[] = [];
      const failEvery3rd = (items: StoreItem[]): StoreOutcome[] =>
        items.map((it) => (Number(it.match.external_match_id.slice(2)) % 3 === 0 ? { ok: false, error: new PermanentError("db_constraint", "refused") } : { ok: true, outcome: "created", matchId: 1 }));
      const { broker, worker, events } = await runWorker(scriptedStore([failEvery3rd]), 9, { log: capturingLogger(level, lines) });
      await expect.poll(() => events.length).toBe(9);
      await broker.drained();
      await worker.stop(1000);
      const done = lines.filter((l) => l.msg === "task done");
      expect(done.map((l) => l.taskId).sort()).toEqual(level === "debug" ? ["t-1", "t-2", "t-4", "t-5", "t-7", "t-8"] : []);
      expect(lines.filter((l) => l.msg === "task dead-lettered").map((l) => l.taskId).sort()).toEqual(["t-0", "t-3", "t-6"]);
      // Per batch at debug only; at info the batches are summed into one line (here the last, at stop).
      expect(lines.filter((l) => l.msg === "batch committed").length > 0).toBe(level === "debug");
      expect(lines.filter((l) => l.msg === "batches committed")).toEqual([expect.objectContaining({ tasks: 9, created: 6, failed: 3, rejected: 0 })]);
      expect(events.filter((e) => e.outcome === "created")).toHaveLength(6);
    }
  });

  it("sums committed batches into one line per interval", async () => {
    const lines: { msg?: string; batches?: number; tasks?: number; created?: number; largestBatch?: number }[] = [];
    const { broker, worker, events } = await runWorker(scriptedStore([ok]), 30, { log: capturingLogger("info", lines), logIntervalMs: 20 });
    await expect.poll(() => events.length).toBe(30);
    await broker.drained();
    // A line while the worker runs (the timer), not only the last one at stop.
    await expect.poll(() => lines.filter((l) => l.msg === "batches committed").length).toBeGreaterThan(0);
    await worker.stop(1000);
    const summaries = lines.filter((l) => l.msg === "batches committed");
    // Together they account for every task exactly once (a batch is in one summary only).
    expect(summaries.reduce((n, l) => n + (l.tasks ?? 0), 0)).toBe(30);
    expect(summaries.reduce((n, l) => n + (l.created ?? 0), 0)).toBe(30);
    expect(summaries.every((l) => (l.largestBatch ?? 0) >= 1 && (l.largestBatch ?? 0) <= 10)).toBe(true);
    expect(lines.some((l) => l.msg === "batch committed")).toBe(false);
  });

  it("logs a line per batch at info when the interval is 0", async () => {
    const lines: { msg?: string; batch?: number }[] = [];
    const { broker, worker, events } = await runWorker(scriptedStore([ok]), 12, { log: capturingLogger("info", lines), logIntervalMs: 0 });
    await expect.poll(() => events.length).toBe(12);
    await broker.drained();
    await worker.stop(1000);
    expect(lines.filter((l) => l.msg === "batch committed").reduce((n, l) => n + (l.batch ?? 0), 0)).toBe(12);
    expect(lines.some((l) => l.msg === "batches committed")).toBe(false);
  });

  it("acks every stored message and reports one final outcome each", async () => {
    const store = scriptedStore([ok]);
    const { broker, worker, events } = await runWorker(store, 25);
    await expect.poll(() => events.length).toBe(25);
    await broker.drained();
    expect(events.every((e) => e.final && e.outcome === "created")).toBe(true);
    expect(broker.stats()).toEqual({ ready: 0, unacked: 0, delayed: 0, deadLetters: 0 });
    await worker.stop(1000);
  });

  it("says so (a warn line, a count per part) when a settled task carried Celery callbacks, a chain or errbacks the in-process broker cannot send", async () => {
    const lines: { msg?: string; taskId?: string; notRun?: { part: string; reason: string }[] }[] = [];
    const store = scriptedStore([(items) => items.map((it) => (it.match.external_match_id === "m-2" ? { ok: false, error: new PermanentError("db_constraint", "refused") } : { ok: true, outcome: "created", matchId: 1 }))]);
    const { broker, worker, events, metrics } = await runWorker(store, 0, { log: capturingLogger("info", lines) });
    const sig = { task: "notify", args: [], kwargs: {}, options: {}, subtask_type: null, immutable: false };
    const withEmbed = (i: number, embed: Record<string, unknown>) => {
      const m = encodeTaskV2({ taskName: TASK, taskId: `t-${i}`, args: [match(i)] });
      return { ...m, content: Buffer.from(JSON.stringify([[match(i)], {}, { callbacks: null, errbacks: null, chain: null, chord: null, ...embed }])) };
    };
    await broker.publish("matches", "matches.process", withEmbed(1, { callbacks: [sig], chain: [sig] }));
    await broker.publish("matches", "matches.process", withEmbed(2, { errbacks: [sig] }));
    await broker.publish("matches", "matches.process", withEmbed(3, { chain: [] }));
    await expect.poll(() => events.length).toBe(3);
    await broker.drained();
    const warned = lines.filter((l) => l.msg?.startsWith("Celery workflow parts not run"));
    expect(warned.map((l) => [l.taskId, l.notRun?.map((n) => n.part)])).toEqual([["t-1", ["callbacks", "chain"]], ["t-2", ["errbacks"]]]);
    expect(warned[0]?.notRun?.[0]?.reason).toBe("the in-process broker reaches no Celery queue");
    const counts = Object.fromEntries((await metrics.workflowIgnored.get()).values.map((v): [string, number] => [String(v.labels.part), v.value]));
    expect(counts).toEqual({ callbacks: 1, chain: 1, errbacks: 1 });
    await worker.stop(1000);
  });

  it("with CELERY_CANVAS=report sends no follow-up and says why", async () => {
    const lines: { msg?: string; notRun?: { part: string; reason: string }[] }[] = [];
    const { broker, worker, events } = await runWorker(scriptedStore([ok]), 0, { log: capturingLogger("info", lines), celeryCanvas: "report" });
    const sig = { task: "notify", args: [], kwargs: {}, options: {}, subtask_type: null, immutable: false };
    await broker.publish("matches", "matches.process", encodeTaskV2({ taskName: TASK, taskId: "t-r", args: [match(1)], embed: { callbacks: [sig], errbacks: null, chain: null, chord: null } }));
    await expect.poll(() => events.length).toBe(1);
    const warned = lines.find((l) => l.msg?.startsWith("Celery workflow parts not run"));
    expect(warned?.notRun).toEqual([{ part: "callbacks", reason: "CELERY_CANVAS=report: the worker sends no follow-up task" }]);
    await worker.stop(1000);
  });

  it("retries a failed transaction through the delay, with retries + 1, then stores", async () => {
    let failedItems: string[] = [];
    const store = scriptedStore([
      (items) => ((failedItems = items.map((it) => it.match.external_match_id)), new TransientError("db_deadlock", "deadlock detected")),
      ok,
    ]);
    const { broker, worker, events } = await runWorker(store, 3);
    await expect.poll(() => events.filter((e) => e.final).length).toBe(3);
    // Exactly the messages of the failed transaction were retried, each once, then stored.
    const retried = events.filter((e) => e.outcome === "retried");
    expect(retried.map((e) => e.externalMatchId).sort()).toEqual(failedItems.sort());
    expect(retried.every((e) => e.code === "db_deadlock")).toBe(true);
    expect(events.filter((e) => e.final).every((e) => e.outcome === "created")).toBe(true);
    expect(store.written.sort()).toEqual(["m-0", "m-1", "m-2"]);
    await broker.drained();
    await worker.stop(1000);
  });

  it("dead-letters after RETRY_MAX retries with the attempts and the last error", async () => {
    const store = scriptedStore([() => new TransientError("db_lock_timeout", "lock timeout")]);
    const { broker, worker, events } = await runWorker(store, 1, { max: 2 });
    await expect.poll(() => events.some((e) => e.outcome === "dead_lettered")).toBe(true);
    expect(events.map((e) => e.outcome)).toEqual(["retried", "retried", "dead_lettered"]);
    const [dead] = broker.deadLetters;
    expect(headersAsDelivered(dead?.properties.headers ?? {})).toMatchObject({ "x-matchflow-error-code": "db_lock_timeout", "x-matchflow-attempts": 3 });
    expect(decodeTask(dead!.content, dead!.properties, { maxBytes: 1_048_576 }).retries).toBe(2);
    await worker.stop(1000);
  });

  it("cuts batches at the byte budget (large messages), says so once, and still stores every message once", async () => {
    // A scripted store that holds its first call: the deliveries pile up as behind a stalled database.
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    const sizes: number[] = [];
    const store = scriptedStore([ok]);
    const write = store.writeBatch.bind(store);
    store.writeBatch = async (items, failures) => {
      sizes.push(items.length);
      await stalled;
      return write(items, failures);
    };
    const lines: { msg?: string; batches?: number; batchBytes?: number }[] = [];
    // ~10 KB bodies, 25 KB a batch: 2 a batch instead of the 10 that WORKER_BATCH_SIZE allows.
    const { broker, worker, events, metrics } = await runWorker(store, 30, { log: capturingLogger("info", lines), batchBytes: 25_000, padding: 10_000 });
    await expect.poll(() => sizes.length).toBe(2);
    release();
    await expect.poll(() => events.length).toBe(30);
    await broker.drained();
    await worker.stop(1000);
    expect(Math.max(...sizes)).toBe(2);
    expect([...store.written].sort()).toEqual(Array.from({ length: 30 }, (_, i) => `m-${i}`).sort());
    expect((await metrics.byteLimitedBatches.get()).values[0]?.value).toBeGreaterThan(0);
    const notices = lines.filter((l) => l.msg?.startsWith("large messages: batches cut at WORKER_BATCH_BYTES"));
    expect(notices).toEqual([expect.objectContaining({ batches: 1, batchBytes: 25_000 })]);
  });

  it("holds batches while the database is unreachable (no retries burnt), then stores them", async () => {
    const unreachable = () => new TransientError("database_unreachable", "connection refused");
    const store = scriptedStore([unreachable, unreachable, ok]);
    const { worker, events } = await runWorker(store, 1);
    await expect.poll(() => events.length, { timeout: 5000 }).toBe(1);
    expect(events[0]).toMatchObject({ outcome: "created", final: true });
    expect(store.calls).toBe(3);
    await worker.stop(1000);
  });

  it.each([
    ["db_read_only", "25006"],
    ["db_disk_full", "53100"],
    ["db_permission", "42501"],
    ["db_schema", "42P01"],
    ["db_admin_shutdown", "57P01"],
  ])("holds a batch the database refuses whatever its data (%s) and tries it again: no retry spent, not ready meanwhile, then stored", async (code) => {
    // RETRY_MAX=0: a refusal treated as the message's failure would dead-letter it at once.
    const refused = () => new TransientError(code, "cannot execute INSERT in a read-only transaction");
    const store = scriptedStore([refused, refused, ok]);
    const { broker, worker, events, metrics } = await runWorker(store, 1, { max: 0 });
    await expect.poll(() => store.calls).toBe(2);
    expect(worker.ready()).toMatchObject({ ready: false, checks: { database: false } });
    expect((await metrics.databaseUp.get()).values[0]?.value).toBe(0);
    await expect.poll(() => events.length, { timeout: 5000 }).toBe(1);
    expect(events[0]).toMatchObject({ outcome: "created", final: true });
    expect(store.calls).toBe(3);
    expect(broker.stats()).toMatchObject({ deadLetters: 0, unacked: 0 });
    expect(worker.ready()).toMatchObject({ checks: { database: true } });
    await worker.stop(1000);
  });

  it("a lock timeout is the batch's, not the database's: each message follows its retry schedule", async () => {
    const store = scriptedStore([() => new TransientError("db_lock_timeout", "canceling statement due to lock timeout"), ok]);
    const { broker, worker, events } = await runWorker(store, 1, { max: 0 });
    await expect.poll(() => events.length).toBe(1);
    expect(events[0]).toMatchObject({ outcome: "dead_lettered", code: "db_lock_timeout" });
    expect(broker.stats().deadLetters).toBe(1);
    await worker.stop(1000);
  });

  it("one item's permanent failure dead-letters that item only", async () => {
    const store = scriptedStore([(items) => items.map((it) => (it.match.external_match_id === "m-1" ? { ok: false, error: new PermanentError("unresolved_name", "unknown team") } : { ok: true, outcome: "created", matchId: 1 }))]);
    const { broker, worker, events } = await runWorker(store, 3);
    await expect.poll(() => events.length).toBe(3);
    expect(events.find((e) => e.externalMatchId === "m-1")).toMatchObject({ outcome: "dead_lettered", code: "unresolved_name" });
    expect(events.filter((e) => e.outcome === "created")).toHaveLength(2);
    expect(broker.stats().deadLetters).toBe(1);
    await worker.stop(1000);
  });

  it("gives a message back when its dead letter cannot be published, and dead-letters it on redelivery", async () => {
    class FlakyBroker extends MemoryBroker {
      failures = 1;
      override deadLetter(...args: Parameters<MemoryBroker["deadLetter"]>): Promise<void> {
        if (this.failures-- > 0) return Promise.reject(new Error("channel closed"));
        return super.deadLetter(...args);
      }
    }
    const broker = new FlakyBroker(route);
    const store = scriptedStore([(items) => items.map(() => ({ ok: false, error: new PermanentError("unresolved_name", "unknown team") }))]);
    const { worker, events } = await runWorker(store, 1, { broker });
    await expect.poll(() => events.length).toBe(1);
    expect(events[0]).toMatchObject({ outcome: "dead_lettered", final: true });
    expect(store.calls).toBe(2); // processed again after the requeue
    expect(broker.stats()).toMatchObject({ ready: 0, unacked: 0, deadLetters: 1 });
    await worker.stop(1000);
  });

  it("after the grace period, unfinished work stays unacked and goes back to the queue", async () => {
    let release!: () => void;
    const stuck = new Promise<void>((r) => (release = r));
    const store: MatchStore = { writeBatch: async (items) => (await stuck, ok(items)), ping: () => Promise.resolve(), warmUp: () => Promise.resolve(0), close: () => Promise.resolve() };
    const { broker, worker, events } = await runWorker(store, 4);
    await expect.poll(() => broker.stats().unacked).toBe(4);
    await worker.stop(50);
    expect(events).toEqual([]);
    expect(broker.stats().ready).toBe(4); // redelivered to the next consumer
    release();
  });
});
