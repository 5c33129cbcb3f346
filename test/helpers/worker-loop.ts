/**
 * The worker loop on the in-process broker with a given store, for the worker-loop unit tests:
 * the task name, route, a valid match, an all-created outcome, and a started worker.
 */
import { MemoryBroker } from "../../src/broker/memory-transport.js";
import { encodeTaskV2 } from "../../src/celery/codec.js";
import type { MatchflowError } from "../../src/errors.js";
import { silentLogger, type Logger } from "../../src/log.js";
import { createWorkerMetrics } from "../../src/worker/metrics.js";
import type { FailureRecord, MatchStore, StoreItem, StoreOutcome } from "../../src/worker/store.js";
import { Worker, type SettledEvent } from "../../src/worker/worker.js";

export const TASK = "celery_tasks.match_tasks.process_match_data";
export const route = { exchange: "matches", routingKey: "matches.process", queue: "matches" };

export function match(i: number) {
  return { home_team: `Home ${i}`, away_team: `Away ${i}`, match_date: "2026-10-03", age_group: "U14", match_type: "League", external_match_id: `m-${i}` };
}

/** A store whose behaviour per call is scripted: throw an error, or answer per item. */
export function scriptedStore(script: ((items: StoreItem[]) => StoreOutcome[] | MatchflowError)[]): MatchStore & { calls: number; written: string[]; recorded: string[] } {
  const store = {
    calls: 0,
    written: [] as string[],
    /** Task ids of the failures recorded by calls that succeeded (committed). */
    recorded: [] as string[],
    pingFails: 0,
    writeBatch(items: StoreItem[], failures: FailureRecord[] = []) {
      const step = script[Math.min(store.calls, script.length - 1)];
      store.calls++;
      const result = step ? step(items) : items.map(() => ({ ok: true as const, outcome: "created" as const, matchId: 1 }));
      if (result instanceof Error) return Promise.reject(result);
      for (const f of failures) store.recorded.push(f.taskId ?? "?");
      for (const [i, r] of result.entries()) if (r.ok) store.written.push(items[i]?.match.external_match_id ?? "?");
      return Promise.resolve(result);
    },
    ping: () => Promise.resolve(),
    warmUp: () => Promise.resolve(0),
    close: () => Promise.resolve(),
  };
  return store;
}

export const ok = (items: StoreItem[]): StoreOutcome[] => items.map(() => ({ ok: true, outcome: "created", matchId: 1 }));

export async function runWorker(store: MatchStore, messages: number, options: { max?: number; broker?: MemoryBroker; log?: Logger; logIntervalMs?: number; batchBytes?: number; padding?: number; celeryCanvas?: "run" | "report"; concurrency?: number } = {}) {
  const broker = options.broker ?? new MemoryBroker(route);
  const events: SettledEvent[] = [];
  const metrics = createWorkerMetrics({ defaultMetrics: false });
  const worker = new Worker(broker, store, {
    taskName: TASK,
    maxMessageBytes: 1_048_576,
    concurrency: options.concurrency ?? 2,
    prefetch: 50,
    batchSize: 10,
    batchBytes: options.batchBytes ?? 1_048_576,
    retry: { max: options.max ?? 3, baseDelayMs: 10, maxDelayMs: 40 },
    log: options.log ?? silentLogger,
    logIntervalMs: options.logIntervalMs ?? 60_000, // long enough that only the line at stop appears
    metrics,
    onSettled: (e) => events.push(e),
    celeryCanvas: options.celeryCanvas,
  });
  await worker.start();
  for (let i = 0; i < messages; i++) await broker.publish("matches", "matches.process", encodeTaskV2({ taskName: TASK, taskId: `t-${i}`, args: [{ ...match(i), ...(options.padding ? { padding: "x".repeat(options.padding) } : {}) }] }));
  return { broker, worker, events, metrics };
}
