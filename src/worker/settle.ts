/**
 * How each task ends once the batch it was in is decided: ack a stored one, send a retry or a
 * dead letter through the broker (the original acked only after the broker confirmed the copy),
 * answer an rpc caller, and count and log each settlement. The worker loop (worker.ts) decides
 * what goes where; this says how.
 */
import { planOnFailure, planOnSuccess, type CanvasContext, type CanvasPlan, type FollowUp } from "../celery/canvas.js";
import type { WorkflowPart } from "../celery/decode.js";
import type { TaskEnvelope } from "../celery/codec.js";
import type { TaskEnd } from "../celery/events.js";
import { encodeRpcResult, revokedResult, type RpcFailure } from "../celery/result.js";
import type { MatchflowError } from "../errors.js";
import type { Logger } from "../log.js";
import type { WorkerMetrics } from "./metrics.js";
import { buildDeadLetter, buildRetryMessage } from "./outgoing.js";
import { decideOnFailure, type RetrySettings } from "./policy.js";
import { taskIdOf, type Prepared } from "./prepare.js";
import type { StoreOutcome } from "./store.js";
import type { InboundMessage, WorkTransport } from "./transport.js";

export interface SettledEvent {
  taskId: string | undefined;
  externalMatchId: string | undefined;
  outcome: "created" | "updated" | "unchanged" | "retried" | "deferred" | "dead_lettered";
  /** False for a retry or a deferral (the task will come back). */
  final: boolean;
  code?: string | undefined;
}

export interface SettleOptions {
  retry: RetrySettings;
  resultBackend?: "rpc" | undefined;
  /** Where a Celery follow-up whose signature names no queue goes (config CELERY_DEFAULT_QUEUE). @default "celery" */
  celeryDefaultQueue?: string | undefined;
  /**
   * "run" (default): send the follow-ups; "report": send none and say so (a producer that can
   * publish tasks could otherwise make the worker publish tasks to any queue of the vhost, as it
   * can a Celery worker). Config CELERY_CANVAS.
   */
  celeryCanvas?: "run" | "report" | undefined;
  /** The worker's own task and route, for follow-ups of it (a chain of match tasks). */
  ownRoute?: CanvasContext["own"];
  log: Logger;
  metrics: WorkerMetrics;
  onSettled?: ((event: SettledEvent) => void) | undefined;
  /** Celery monitoring events of settled tasks (CELERY_EVENTS; worker/celery-events.ts). */
  taskEvents?: { task(envelope: TaskEnvelope, receivedAt: number, end: TaskEnd): void } | undefined;
  now: () => number;
  random?: (() => number) | undefined;
}

/**
 * `apply_async(ignore_result=True)` (header `ignore_result`): Celery's worker stores no result of
 * such a task's success (`mark_as_done` checks the request), failures still. Replying anyway put
 * a result no one waits for into the caller's rpc queue, which Celery's client keeps in memory.
 */
function ignoresResult(envelope: TaskEnvelope): boolean {
  return envelope.headers.ignore_result === true;
}

/** What the task returns: the rpc caller's `get()` value and a callback's first argument. */
function resultOf(p: Extract<Prepared, { ok: true }>, outcome: Extract<StoreOutcome, { ok: true }>): Record<string, unknown> {
  return { match_id: outcome.matchId, status: outcome.outcome, external_match_id: p.item.match.external_match_id };
}

const PART_OF_ROLE: Readonly<Record<FollowUp["role"], WorkflowPart>> = { callback: "callbacks", chain: "chain", errback: "errbacks" };

export class Settler {
  constructor(
    private readonly transport: WorkTransport,
    private readonly options: SettleOptions,
    /** True once the worker gave up its in-flight work (grace period over, second signal): settle nothing more. */
    private readonly abandoned: () => boolean,
  ) {}

  /**
   * Acks and records a stored task; returns what waits on the broker, when something does: the
   * rpc reply, or the task's Celery follow-ups (link callbacks, the chain's next step), which
   * are confirmed before the task is acked.
   */
  succeed(p: Extract<Prepared, { ok: true }>, outcome: Extract<StoreOutcome, { ok: true }>): Promise<void> | undefined {
    if (this.abandoned() || this.lost(p.message)) return undefined;
    this.settled(p.message, { taskId: p.envelope.taskId, externalMatchId: p.item.match.external_match_id, outcome: outcome.outcome, final: true }, outcome.reason);
    this.options.taskEvents?.task(p.envelope, p.message.receivedAt, { kind: "succeeded", result: resultOf(p, outcome) });
    // The hot path (a task without a canvas, no caller waiting) builds no result at all.
    if (p.envelope.workflow.length === 0) {
      this.transport.ack(p.message);
      return this.replyDue(p.envelope) ? this.replySuccess(p.envelope, resultOf(p, outcome)) : undefined;
    }
    const result = resultOf(p, outcome);
    const plan = this.canvas(p.envelope, (context) => planOnSuccess(p.envelope, result, context));
    if (plan.followUps.length > 0) return this.succeedAfterFollowUps(p, plan, result);
    this.reportNotRun(p.envelope, plan);
    this.transport.ack(p.message);
    return this.replyDue(p.envelope) ? this.replySuccess(p.envelope, result) : undefined;
  }

  private async succeedAfterFollowUps(p: Extract<Prepared, { ok: true }>, plan: CanvasPlan, result: Record<string, unknown>): Promise<void> {
    try {
      await this.sendFollowUps(p.message, p.envelope, plan);
    } catch (err) {
      // Stored, but its follow-ups are not all confirmed: the task goes round again (stored
      // unchanged the next time) so that they are sent, under the same ids.
      this.options.log.error({ taskId: p.envelope.taskId, err: String(err) }, "could not send the task's Celery follow-ups; message returned to the queue");
      this.transport.requeue(p.message);
      return;
    }
    if (this.abandoned()) return;
    this.transport.ack(p.message);
    if (this.replyDue(p.envelope)) await this.replySuccess(p.envelope, result);
  }

  /**
   * The delivery's channel is gone (a connection blip, the consumer timeout) while its batch was
   * in the database: the broker has redelivered it on the next channel, which settles it. A
   * retry, dead letter or follow-up sent now would be sent twice, its ack would go nowhere.
   */
  lost(message: InboundMessage): boolean {
    return this.transport.isStale?.(message) === true;
  }

  private replyDue(envelope: TaskEnvelope): boolean {
    return this.options.resultBackend === "rpc" && envelope.replyTo !== null && envelope.replyTo !== "" && !ignoresResult(envelope);
  }

  private replySuccess(envelope: TaskEnvelope, result: Record<string, unknown>): Promise<void> {
    return this.reply(envelope, { status: "SUCCESS", result });
  }

  /**
   * What of the task's canvas is to be sent (celery/canvas.ts), the rest reported as not run.
   * Nothing is sent with CELERY_CANVAS=report, or by a transport that reaches no Celery queue
   * (the in-process broker).
   */
  private canvas(envelope: TaskEnvelope, planFor: (context: CanvasContext) => CanvasPlan): CanvasPlan {
    let plan: CanvasPlan;
    try {
      plan = planFor({ defaultQueue: this.options.celeryDefaultQueue ?? "celery", own: this.options.ownRoute, now: this.options.now() });
    } catch (err) {
      // Not expected (signatures are checked as they are read), but a task is never lost to it.
      return { followUps: [], notRun: envelope.workflow.map((part) => ({ part, reason: `could not build its follow-ups: ${String(err)}` })) };
    }
    const withheld = this.options.celeryCanvas === "report" ? "CELERY_CANVAS=report: the worker sends no follow-up task" : this.transport.sendFollowUps ? undefined : "the in-process broker reaches no Celery queue";
    if (withheld === undefined || plan.followUps.length === 0) return plan;
    const parts = new Set(plan.followUps.map((f) => PART_OF_ROLE[f.role]));
    return { followUps: [], notRun: [...plan.notRun, ...[...parts].map((part) => ({ part, reason: withheld }))] };
  }

  /** Publishes the follow-ups, confirmed (a missing queue is waited for, the task unacked); reports what was not run. */
  private async sendFollowUps(message: InboundMessage, envelope: TaskEnvelope, plan: CanvasPlan): Promise<void> {
    if (plan.followUps.length > 0 && this.transport.sendFollowUps) {
      await this.transport.sendFollowUps(message, plan.followUps);
      for (const f of plan.followUps) this.options.metrics.followUps.inc({ role: f.role });
      if (this.options.log.isLevelEnabled("debug")) {
        this.options.log.debug({ taskId: envelope.taskId, followUps: plan.followUps.slice(0, 20).map((f) => ({ role: f.role, task: f.taskName, id: f.taskId, ...(f.queue === undefined ? { exchange: f.exchange, routingKey: f.routingKey } : { queue: f.queue }) })), count: plan.followUps.length }, "Celery follow-ups sent");
      }
    }
    this.reportNotRun(envelope, plan);
  }

  async fail(message: InboundMessage, envelope: TaskEnvelope | undefined, error: MatchflowError, externalMatchId: string | undefined): Promise<void> {
    if (this.abandoned() || this.lost(message)) return;
    if (!envelope && error.kind !== "permanent") {
      // Refused before the database, but its ingest_failures row could not be written (the
      // database failed for a while): with nothing to re-encode it cannot be retried, and
      // dead-lettered now it would have no row. Given back: refused and recorded when it comes round.
      this.options.log.warn({ taskId: taskIdOf(message, envelope), code: error.code, err: error.message }, "could not record an undecodable message's failure; message returned to the queue");
      this.transport.requeue(message);
      return;
    }
    const now = this.options.now();
    // Without a decodable envelope there is nothing to re-encode: such a message is permanent anyway.
    const decision = envelope ? decideOnFailure(error, envelope.retries, this.options.retry, this.options.random) : { action: "dead_letter" as const, reason: "permanent" as const };
    // Once its copy is confirmed the original is acked: it must not be given back as well (an ack
    // and a nack of one tag close the channel, and every unacked delivery with it).
    let copied = false;
    try {
      if (decision.action === "retry" && envelope) {
        const retry = buildRetryMessage(envelope, message, error, decision.attempt, decision.delayMs, now, this.transport.frameMax?.());
        this.headersDropped("retry", message, envelope, retry.droppedHeaders);
        await this.transport.retry(message, retry, decision.attempt, decision.delayMs);
        copied = true;
        this.settled(message, { taskId: envelope.taskId, externalMatchId, outcome: "retried", final: false, code: error.code }, undefined, {
          attempt: decision.attempt,
          delayMs: decision.delayMs,
          err: error.message,
        });
        this.options.taskEvents?.task(envelope, message.receivedAt, { kind: "retried", code: error.code, message: error.message });
        return;
      }
      const attempts = (envelope?.retries ?? 0) + 1;
      const deadLetter = buildDeadLetter(message, error, attempts, now, this.transport.frameMax?.());
      this.headersDropped("dead_letter", message, envelope, deadLetter.droppedHeaders);
      // Its errbacks go first: the task is acked with its dead letter, once they are confirmed.
      // An expired or revoked task was not run, not failed: Celery calls no errback for it.
      const revoked = error.code === "task_expired" || error.code === "task_revoked";
      if (envelope && envelope.workflow.length > 0 && !revoked) await this.sendFollowUps(message, envelope, this.canvas(envelope, (context) => planOnFailure(envelope, context)));
      await this.transport.deadLetter(message, deadLetter);
      copied = true;
      this.options.metrics.deadLetters.inc({ code: error.code });
      this.settled(message, { taskId: taskIdOf(message, envelope), externalMatchId, outcome: "dead_lettered", final: true, code: error.code }, undefined, {
        attempts,
        reason: decision.action === "dead_letter" ? decision.reason : "permanent",
        err: error.message,
      });
      if (envelope) this.options.taskEvents?.task(envelope, message.receivedAt, revoked ? { kind: "revoked", expired: error.code === "task_expired" } : { kind: "failed", code: error.code, message: error.message });
      if (this.options.resultBackend === "rpc" && envelope?.replyTo) {
        // An expired or revoked task was not run: the caller sees what a Celery worker sends.
        const result = revoked ? revokedResult(error.code === "task_expired" ? "expired" : "revoked") : { status: "FAILURE" as const, result: { exc_type: "RuntimeError", exc_message: [`${error.code}: ${error.message}`], exc_module: "builtins" } };
        await this.reply(envelope, result);
      }
    } catch (err) {
      if (copied) {
        this.options.log.error({ taskId: taskIdOf(message, envelope), externalMatchId, code: error.code, err: String(err) }, "unexpected error after the task's copy was confirmed (the task is settled)");
        return;
      }
      // The broker refused or the channel died: give the message back (a no-op on a dead
      // channel, where the broker redelivers it anyway), so that it is tried again and later
      // acks are not held up behind it.
      this.options.log.error({ taskId: taskIdOf(message, envelope), externalMatchId, code: error.code, err: String(err) }, "could not publish the retry, the dead letter or the task's Celery errbacks; message returned to the queue");
      this.transport.requeue(message);
    }
  }

  settled(message: InboundMessage, event: SettledEvent, reason?: string, extra?: Record<string, unknown>): void {
    const { metrics, log } = this.options;
    const durationMs = this.options.now() - message.receivedAt;
    metrics.tasks.inc({ outcome: event.outcome });
    metrics.duration.observe(durationMs / 1000);
    this.options.onSettled?.(event);
    // Retries and dead letters get a line per task. Successes only at debug (a line per task costs
    // ~20% of the CPU at 10k tasks/s; each batch gets one info line with its counts), so their
    // fields are not even built otherwise.
    if (event.outcome !== "dead_lettered" && event.outcome !== "retried" && !log.isLevelEnabled("debug")) return;
    const fields = { taskId: event.taskId, externalMatchId: event.externalMatchId, outcome: event.outcome, durationMs, redelivered: message.redelivered || undefined, reason, code: event.code, ...extra };
    if (event.outcome === "dead_lettered") log.error(fields, "task dead-lettered");
    else if (event.outcome === "retried") log.warn(fields, "task will be retried");
    else if (event.outcome === "deferred") log.debug(fields, "task not due yet (eta): sent to a delay queue");
    else log.debug(fields, "task done");
  }

  /**
   * Headers left out of a copy so that it fits the broker's frame_max, or of a task as it was
   * received so that a full prefetch fits in the heap (`received`); named in the copies too.
   */
  headersDropped(copy: "retry" | "dead_letter" | "eta_delay" | "received", message: InboundMessage, envelope: TaskEnvelope | undefined, names: readonly string[]): void {
    if (names.length === 0) return;
    this.options.metrics.headersDropped.inc({ copy }, names.length);
    const fields = { taskId: taskIdOf(message, envelope), copy, dropped: names.slice(0, 20), count: names.length };
    if (copy === "received") this.options.log.warn(fields, "headers left out of a received task: decoded, they would take too much of the heap (named in x-matchflow-dropped-headers)");
    else this.options.log.warn(fields, "headers left out of the copy so that it fits the broker's frame_max");
  }

  /**
   * The parts of a task's canvas matchflow could not run (a chord, which needs a result backend
   * to count on; a malformed signature): said once per task, when it is settled for good, so
   * that a workflow waiting on it does not stall in silence.
   */
  private reportNotRun(envelope: TaskEnvelope, plan: CanvasPlan): void {
    if (plan.notRun.length === 0) return;
    for (const n of plan.notRun) this.options.metrics.workflowIgnored.inc({ part: n.part });
    this.options.log.warn({ taskId: envelope.taskId, task: envelope.taskName, notRun: plan.notRun.slice(0, 20), count: plan.notRun.length }, "Celery workflow parts not run (the task itself was settled)");
  }

  private async reply(envelope: TaskEnvelope, result: { status: "SUCCESS"; result: unknown } | { status: "FAILURE" | "REVOKED"; result: RpcFailure }): Promise<void> {
    if (!envelope.replyTo) return;
    try {
      await this.transport.reply(envelope.replyTo, encodeRpcResult({ taskId: envelope.taskId, ...result, dateDone: new Date(this.options.now()) }));
    } catch (err) {
      this.options.log.warn({ taskId: envelope.taskId, err: String(err) }, "could not publish the rpc result");
    }
  }
}
