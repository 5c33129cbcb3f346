/**
 * The worker loop: deliveries -> adaptive batches -> one transaction per batch -> settle each
 * message on its own (ack, retry through a delay queue, or dead letter: settle.ts).
 *
 * Invariants:
 * - a message is acked only after the transaction holding its write committed;
 * - one message's failure never fails its neighbours (the store reports per item);
 * - while the database is unreachable or refuses every write (read-only, disk full, ...), batches
 *   wait (unacked) and retry by themselves, spending no message's retries; prefetch
 *   bounds what is held, so memory stays bounded whatever the queue depth;
 * - on stop, no new deliveries; what is in flight finishes within the grace period; whatever
 *   could not finish stays unacked and the broker redelivers it.
 *
 * Batching is adaptive: when nothing is being written, a batch starts at once with whatever is
 * buffered (under light load each message goes alone: lowest latency). While other batches are
 * in flight, a free slot waits until a quarter of `batchSize` is buffered or the oldest
 * message has lingered `lingerMs` (5 ms): under heavy load batches stay large, so the fixed
 * cost of a transaction is shared by many messages (highest throughput).
 */
import { DATABASE_REFUSALS, DATABASE_UNREACHABLE } from "../db/errors.js";
import { PermanentError } from "../errors.js";
import type { Logger } from "../log.js";
import { settledWithin } from "../patience.js";
import type { WorkerMetrics } from "./metrics.js";
import { DatabaseHealth, IDLE_DATABASE_CHECK_MS } from "./database-health.js";
import { decideEta } from "./eta.js";
import { nextBatchLength } from "./batch-bytes.js";
import { ByteLimitLog } from "./byte-limit-log.js";
import { asMatchflowError, type RetrySettings } from "./policy.js";
import { prepareMessage, type Prepared, type PrepareOptions } from "./prepare.js";
import { buildEtaCopy } from "./outgoing.js";
import { ProgressLog } from "./progress.js";
import { batchLogFields } from "./batch-log.js";
import { settleFailedBatch, splitFailedBatch } from "./failed-batch.js";
import { staleHeadLength } from "./stale-deliveries.js";
import { Settler, type SettledEvent, type SettleOptions } from "./settle.js";
import type { FailureRecord, MatchStore, StoreItem, StoreOutcome } from "./store.js";
import type { InboundMessage, WorkTransport } from "./transport.js";
import { UnknownFieldsLog } from "./unknown-fields-log.js";

export type { SettledEvent } from "./settle.js";

/** The rpc result backend and where Celery follow-ups go: see settle.ts. */
export interface WorkerOptions extends Pick<SettleOptions, "resultBackend" | "celeryCanvas" | "celeryDefaultQueue" | "ownRoute" | "taskEvents">, Pick<PrepareOptions, "isRevoked"> {
  taskName: string;
  maxMessageBytes: number;
  concurrency: number;
  prefetch: number;
  batchSize: number;
  /** Message bytes per batch at most (batch-bytes.ts: what a batch decodes must fit in the heap). */
  batchBytes: number;
  retry: RetrySettings;
  log: Logger;
  metrics: WorkerMetrics;
  /** How long a message may wait for a fuller batch while other batches are in flight. @default 5 */
  lingerMs?: number;
  /** Committed batches are summed into one info line this often; 0: an info line per batch. Config: WORKER_LOG_INTERVAL. */
  logIntervalMs: number;
  /** Called once per task settlement: `final` is false for a retry or deferral (the task will come back). */
  onSettled?: (event: SettledEvent) => void;
  /** Called by a graceful stop once in-flight work is settled, before the broker connection closes (Celery's worker-offline). */
  beforeClose?: () => Promise<void>;
  /** How often an idle worker checks the database (database-health.ts). @default IDLE_DATABASE_CHECK_MS */
  databaseCheckMs?: number;
  now?: () => number;
  random?: () => number;
}

/**
 * After the grace period the unfinished work is abandoned (its deliveries go back to the queue
 * when the connection closes), but closing the pool still waits for its statements: one blocked
 * on a lock would hold the process until the lock timeout, past the grace period and into the
 * forced exit. A statement that still completes afterwards is harmless: its delivery was not
 * acked, and the upsert is idempotent.
 */
const ABANDONED_CLOSE_MS = 1_000;

export class Worker {
  private readonly buffer: InboundMessage[] = [];
  private stopping = false;
  private abandoned = false;
  private readonly database: DatabaseHealth;
  private stopPromise: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly now: () => number;
  private readonly progress: ProgressLog;
  /** Deliveries whose eta is a second away at most, held unacked until it is due (see ./eta.ts). */
  private readonly held = new Map<InboundMessage, NodeJS.Timeout>();
  private readonly settler: Settler;
  private readonly byteLimit: ByteLimitLog;
  private readonly unknownFields: UnknownFieldsLog;

  constructor(
    private readonly transport: WorkTransport,
    private readonly store: MatchStore,
    private readonly options: WorkerOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.settler = new Settler(transport, { ...options, now: this.now }, () => this.abandoned);
    this.database = new DatabaseHealth(store, { log: options.log, metrics: options.metrics, now: this.now });
    this.progress = new ProgressLog(options.log, options.logIntervalMs, this.now);
    this.byteLimit = new ByteLimitLog({ batchBytes: options.batchBytes, metrics: options.metrics, log: options.log, now: this.now });
    this.unknownFields = new UnknownFieldsLog({ log: options.log, counter: options.metrics.unknownFields });
  }

  /** Waits for the database (so a worker started before it does not crash-loop), then consumes. */
  async start(): Promise<void> {
    const { metrics } = this.options;
    metrics.watchBroker(() => this.transport.isConnected());
    this.transport.onUnroutable?.((queue) => metrics.unroutableCopies.inc({ queue }));
    this.transport.onPublishBlocked?.((blocked) => metrics.brokerBlocked.set(blocked ? 1 : 0));
    await this.database.waitUntilUp(() => this.abandoned);
    await this.transport.consume(this.options.prefetch, (m) => this.onMessage(m));
    this.options.log.info({ queue: this.options.ownRoute?.queue, exchange: this.options.ownRoute?.exchange, routingKey: this.options.ownRoute?.routingKey, task: this.options.taskName, concurrency: this.options.concurrency, prefetch: this.options.prefetch, batchSize: this.options.batchSize, batchBytes: this.options.batchBytes }, "worker consuming");
    this.database.startIdleCheck(this.options.databaseCheckMs ?? IDLE_DATABASE_CHECK_MS, () => this.stopping);
    this.progress.start();
  }

  /** On stop: no more periodic lines or idle database checks, and a last line for what committed since the previous. */
  private endProgress(): void {
    this.database.stopIdleCheck();
    this.progress.stop();
  }

  ready(): { ready: boolean; checks: Record<string, boolean> } {
    const checks = { broker: this.transport.isConnected(), database: this.database.isUp, stopping: this.stopping };
    return { ready: checks.broker && checks.database && !checks.stopping, checks };
  }

  /** The deliveries being stored, waiting for a batch, and held until their eta (for `celery inspect`). */
  tasksNow(): { active: InboundMessage[]; reserved: readonly InboundMessage[]; scheduled: InboundMessage[] } {
    return { active: [...this.running].flat(), reserved: this.buffer, scheduled: [...this.held.keys()] };
  }

  /** Number of deliveries buffered or being processed. */
  get inFlight(): number {
    return this.buffer.length + this.processing + this.held.size + this.settling;
  }
  private activeCount = 0;
  private processing = 0;
  /** The batches being stored now (what `celery inspect active` lists). */
  private readonly running = new Set<readonly InboundMessage[]>();
  /** Deliveries of finished batches whose settlement waits on the broker (settleLater). */
  private settling = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  private get minFill(): number {
    return Math.max(1, Math.floor(this.options.batchSize / 4));
  }

  /** Resolves when nothing is buffered or processing (the moment, not forever). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Graceful stop: no new deliveries, finish in-flight work within `graceMs`, close. Memoised:
   * a second call returns the same promise. Whatever did not finish stays unacked (redelivered).
   */
  stop(graceMs: number): Promise<void> {
    this.stopPromise ??= (async () => {
      this.stopping = true;
      const { log } = this.options;
      log.info({ inFlight: this.inFlight, graceMs }, "worker stopping: no new deliveries, finishing in-flight work");
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), graceMs).unref();
      });
      // The grace period includes the cancel: through a silent link (a partition the heartbeat has
      // not noticed yet) its answer never comes; waiting for it ran into the forced exit (70).
      const cancelled = await Promise.race([
        this.transport.stopConsuming().then(
          () => "cancelled" as const,
          (err: unknown) => log.warn({ err: String(err) }, "could not cancel the consumer"),
        ),
        graceOver,
      ]);
      if (cancelled === "timeout") log.warn({ graceMs }, "the broker did not answer the consumer's cancel within the grace period (network down?)");
      this.releaseHeld();
      this.pump();
      const result = cancelled === "timeout" ? cancelled : await Promise.race([this.idle().then(() => "idle" as const), graceOver]);
      clearTimeout(timer);
      if (result === "timeout") {
        this.abandoned = true;
        log.warn({ unfinished: this.inFlight }, "grace period over: unfinished deliveries stay unacked and will be redelivered");
      }
      await this.options.beforeClose?.();
      await this.transport.close();
      if (this.abandoned) await settledWithin(this.store.close(), ABANDONED_CLOSE_MS, () => log.warn({ waitedMs: ABANDONED_CLOSE_MS }, "database connections still busy: leaving them (their work is not acked, so it is redone)"));
      else await this.store.close();
      this.endProgress();
      log.info("worker stopped");
    })();
    return this.stopPromise;
  }

  /** Immediate stop (second signal): nothing more is settled; the broker redelivers every unacked message. */
  async forceStop(): Promise<void> {
    this.abandoned = true;
    this.stopping = true;
    for (const timer of this.held.values()) clearTimeout(timer);
    this.held.clear();
    this.endProgress();
    await this.transport.close();
  }

  private onMessage(message: InboundMessage): void {
    if (message.droppedHeaders) this.settler.headersDropped("received", message, undefined, message.droppedHeaders);
    this.dropStale();
    this.buffer.push(message);
    this.options.metrics.inFlight.set(this.inFlight);
    this.pump();
  }

  /** Forgets buffered deliveries of a lost channel (stale-deliveries.ts). */
  private dropStale(): void {
    const stale = this.transport.isStale ? staleHeadLength(this.buffer, (m) => this.transport.isStale?.(m) === true) : 0;
    if (stale > 0) this.buffer.splice(0, stale);
  }

  private pump(): void {
    this.dropStale();
    while (!this.abandoned && this.activeCount < this.options.concurrency && this.buffer.length > 0) {
      if (this.activeCount > 0 && !this.stopping && this.buffer.length < this.minFill) {
        const waited = this.now() - (this.buffer[0]?.receivedAt ?? 0);
        const linger = this.options.lingerMs ?? 5;
        if (waited < linger) {
          this.lingerTimer ??= setTimeout(() => {
            this.lingerTimer = undefined;
            this.pump();
          }, linger - waited);
          return;
        }
      }
      const next = nextBatchLength(this.buffer, this.options.batchSize, this.options.batchBytes);
      if (next.byteLimited) this.byteLimit.cut(this.buffer.length - next.length);
      const batch = this.buffer.splice(0, next.length);
      this.activeCount++;
      this.processing += batch.length;
      this.running.add(batch);
      this.runBatch(batch)
        .catch((err: unknown) => this.options.log.error({ err: String(err) }, "unexpected error in batch (messages stay unacked)"))
        .finally(() => {
          this.activeCount--;
          this.processing -= batch.length;
          this.running.delete(batch);
          this.afterSettled();
        });
    }
  }

  private afterSettled(): void {
    // After pump, which forgets the buffered deliveries of a lost channel (set before, it counted them until the next delivery).
    this.pump();
    this.options.metrics.inFlight.set(this.inFlight);
    if (this.inFlight === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /**
   * Settlements that wait on the broker (a retry, eta or dead-letter copy's confirm, an rpc
   * reply): their deliveries stay unacked and in flight, but the batch's slot is free. Awaited in
   * the slot, copies whose confirms a blocked broker withheld (a memory or disk alarm) held every
   * slot, and the worker stopped storing anything until the alarm cleared.
   */
  private settleLater(waits: Promise<void>[]): void {
    if (waits.length === 0) return;
    this.settling += waits.length;
    void Promise.allSettled(waits).then((results) => {
      for (const r of results) if (r.status === "rejected") this.options.log.error({ err: String(r.reason) }, "unexpected error settling a task (its message stays unacked)");
      this.settling -= waits.length;
      this.afterSettled();
    });
  }

  private async runBatch(messages: InboundMessage[]): Promise<void> {
    const prepareOptions = { taskName: this.options.taskName, maxMessageBytes: this.options.maxMessageBytes, now: this.now(), isRevoked: this.options.isRevoked };
    // Loops, not closures created per batch: V8 kept recompiling those in long drains.
    const good: Extract<Prepared, { ok: true }>[] = [];
    const notDue: Extract<Prepared, { ok: true }>[] = [];
    const bad: Extract<Prepared, { ok: false }>[] = [];
    const items: StoreItem[] = [];
    const failures: FailureRecord[] = [];
    for (const message of messages) {
      const p = prepareMessage(message, prepareOptions);
      if (p.ok && p.dueAt !== undefined && p.dueAt > prepareOptions.now) {
        notDue.push(p);
      } else if (p.ok) {
        good.push(p);
        items.push(p.item);
        if (p.unknownFields.length > 0) this.unknownFields.seen(p.unknownFields, p.envelope.taskId, p.item.match.external_match_id);
      } else {
        bad.push(p);
        failures.push(p.failure);
      }
    }

    // Tasks not due yet wait elsewhere; they take no part in the transaction.
    if (notDue.length > 0) this.settleLater(notDue.map((p) => this.postpone(p, prepareOptions.now)));
    if (items.length === 0 && failures.length === 0) return;
    await this.storeAndSettle(messages, good, bad, items, failures);
  }

  private async storeAndSettle(messages: InboundMessage[], good: Extract<Prepared, { ok: true }>[], bad: Extract<Prepared, { ok: false }>[], items: StoreItem[], failures: FailureRecord[]): Promise<void> {
    let outcomes: StoreOutcome[], refusals = 0;
    for (;;) {
      if (this.abandoned) return;
      try {
        outcomes = await this.store.writeBatch(items, failures);
        this.database.answered();
        break;
      } catch (e) {
        const err = asMatchflowError(e);
        if (DATABASE_UNREACHABLE.has(err.code)) {
          this.options.log.warn({ code: err.code, err: err.message, ...batchLogFields(messages.length, good, bad) }, "database unreachable: holding the batch unacked until it returns");
          await this.database.waitUntilUp(() => this.abandoned);
          continue;
        }
        if (DATABASE_REFUSALS.has(err.code)) {
          await this.database.holdRefusedBatch(err, refusals++, batchLogFields(messages.length, good, bad), () => this.abandoned);
          continue;
        }
        // The transaction as a whole failed: written again in halves to find the match it fails on (failed-batch.ts).
        this.options.log.warn({ code: err.code, err: err.message, ...batchLogFields(messages.length, good, bad) }, "batch transaction failed");
        const split = await splitFailedBatch(this.store, good, err, () => this.abandoned);
        if (split.stored.length > 0) this.database.answered();
        const waits = await settleFailedBatch(this.store, this.settler, { error: err, failed: split.failed, bad, failures, hadMatches: items.length > 0 });
        const again = new Set(split.again.map((p) => p.message)); // counted where they are written again, not twice
        const settledNow = again.size === 0 ? messages : messages.filter((m) => !again.has(m));
        if (settledNow.length === 0) this.settleLater(waits);
        else this.settleStored(settledNow, split.stored.map((s) => s.p), split.stored.map((s) => s.outcome), [], waits);
        if (split.again.length > 0) await this.storeAndSettle([...again], split.again, [], split.again.map((p) => p.item), []);
        return;
      }
    }
    this.settleStored(messages, good, outcomes, bad, []);
  }

  /** Settles written matches (`outcomes` in `good`'s order) and refused ones, with `waits` already begun. */
  private settleStored(messages: InboundMessage[], good: Extract<Prepared, { ok: true }>[], outcomes: StoreOutcome[], bad: Extract<Prepared, { ok: false }>[], waits: Promise<void>[]): void {
    this.options.metrics.batchSize.observe(messages.length);
    const counts = { created: 0, updated: 0, unchanged: 0, failed: 0 };
    for (const o of outcomes) {
      if (o.ok) counts[o.outcome]++;
      else counts.failed++;
    }
    this.progress.committed({ batch: messages.length, ...counts, rejected: bad.length, durationMs: this.now() - (messages[0]?.receivedAt ?? this.now()) });
    // Successes settle synchronously (no promise per task); only retries, dead letters and rpc replies wait on the broker.
    for (let i = 0; i < good.length; i++) {
      const p = good[i] as Extract<Prepared, { ok: true }>;
      const outcome = outcomes[i] ?? { ok: false as const, error: new PermanentError("internal_error", "store returned no outcome") };
      const wait = outcome.ok ? this.settler.succeed(p, outcome) : this.settler.fail(p.message, p.envelope, outcome.error, p.item.match.external_match_id);
      if (wait) waits.push(wait);
    }
    for (const p of bad) waits.push(this.settler.fail(p.message, p.envelope, p.error, p.failure.externalMatchId));
    this.settleLater(waits);
  }

  /**
   * A task whose eta is not due: held for a moment, or its copy sent through an eta delay queue
   * (not a retry: `retries` is unchanged) and the original acked. When it comes back it is
   * prepared again, so the remaining time is looked at again.
   */
  private async postpone(p: Extract<Prepared, { ok: true }>, now: number): Promise<void> {
    if (this.abandoned || this.settler.lost(p.message)) return;
    const dueAt = p.dueAt as number;
    const decision = decideEta(dueAt, now);
    if (decision.action !== "delay") return this.hold(p.message, decision.action === "hold" ? decision.ms : 0);
    const eta = new Date(dueAt).toISOString();
    try {
      const copy = buildEtaCopy(p.message, this.transport.frameMax?.());
      if (copy.droppedHeaders.length > 0) this.settler.headersDropped("eta_delay", p.message, p.envelope, copy.droppedHeaders);
      await this.transport.delay(p.message, copy, decision.tierMs);
    } catch (err) {
      this.options.log.error({ taskId: p.envelope.taskId, eta, err: String(err) }, "could not send a task that is not due yet to a delay queue; message returned to the queue");
      this.transport.requeue(p.message);
      return;
    }
    // Outside the try: the original is acked with its copy's confirm and must not be requeued too.
    this.settler.settled(p.message, { taskId: p.envelope.taskId, externalMatchId: p.item.match.external_match_id, outcome: "deferred", final: false }, undefined, { eta, delayMs: decision.tierMs });
  }

  /** Keeps a delivery unacked for `ms`, then takes it in again as if just delivered. */
  private hold(message: InboundMessage, ms: number): void {
    if (this.stopping) return this.transport.requeue(message);
    const timer = setTimeout(() => {
      this.held.delete(message);
      this.onMessage(message);
    }, ms);
    this.held.set(message, timer);
  }

  /** On stop, held deliveries go back to the queue at once instead of running out the grace period. */
  private releaseHeld(): void {
    for (const [message, timer] of this.held) {
      clearTimeout(timer);
      this.transport.requeue(message);
    }
    this.held.clear();
  }
}
