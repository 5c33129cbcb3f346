/**
 * The worker's Celery monitoring events (CELERY_EVENTS, celery/events.ts): `worker` sends
 * worker-online, a worker-heartbeat every 2 s and worker-offline, so that Flower and `celery
 * events` list the worker as alive; `all` also sends each settled task's received, started and
 * succeeded / failed / retried events, as `celery worker -E` does, and batched as it batches them:
 * up to 24 in a message, the rest of a turn of the event loop's settlements in the next (one
 * message per event tripled the worker's CPU a task). Best effort, as in Celery: a message that
 * cannot go out at once is dropped and its events counted, never waited for.
 */
import { hostname, loadavg, type as osType } from "node:os";
import { CeleryEventBuilder, HEARTBEAT_INTERVAL_S, TASK_EVENTS_PER_MESSAGE, utcoffsetHours, type CeleryEvent, type CeleryEventBody, type TaskEnd } from "../celery/events.js";
import type { TaskEnvelope } from "../celery/decode.js";
import type { WorkerMetrics } from "./metrics.js";
import type { CeleryEventSink } from "./transport.js";

export interface WorkerEventsOptions {
  /** "worker": the worker's own events only; "all": its tasks' too (to begin with: `setTaskEvents`). */
  scope: "worker" | "all";
  /** Tasks received and not yet settled (the heartbeat's `active`). */
  active: () => number;
  /** Tasks settled for good since the start (the heartbeat's `processed`). */
  processed: () => number;
  metrics: WorkerMetrics;
  version: string;
  now?: () => number;
}

/** The node name monitors show, Celery's `name@host`: one per process, as `celery worker -n`. */
export function celeryNodeName(pid: number = process.pid, host: string = hostname()): string {
  return `matchflow.${pid}@${host}`;
}

export class WorkerEvents {
  private readonly builder: CeleryEventBuilder;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Task events waiting for the end of this turn of the event loop, or for a full message. */
  private buffered: CeleryEventBody[] = [];
  private flushScheduled = false;
  private taskEvents: boolean;

  constructor(
    private readonly sink: CeleryEventSink,
    private readonly options: WorkerEventsOptions,
  ) {
    this.taskEvents = options.scope === "all";
    this.builder = new CeleryEventBuilder(
      { hostname: celeryNodeName(), pid: process.pid, now: options.now ?? Date.now, utcoffset: () => utcoffsetHours() },
      { ident: "matchflow", version: options.version, system: osType() },
    );
  }

  /** Once the channel is open: worker-online, then a heartbeat every HEARTBEAT_INTERVAL_S. */
  async start(): Promise<void> {
    await this.sink.open();
    this.worker("worker-online");
    this.timer = setInterval(() => this.heartbeat(), HEARTBEAT_INTERVAL_S * 1000);
    this.timer.unref();
  }

  /** A worker-heartbeat now (also on `celery control heartbeat`). */
  heartbeat(): void {
    if (!this.stopped) this.worker("worker-heartbeat");
  }

  /** Task events on or off (`celery control enable_events|disable_events`): whether that changed anything. */
  setTaskEvents(on: boolean): boolean {
    if (this.taskEvents === on) return false;
    this.taskEvents = on;
    if (!on) this.flush();
    return true;
  }

  /** A task settled for good or retried: its events while task events are on. */
  task(envelope: TaskEnvelope, receivedAt: number, end: TaskEnd): void {
    if (!this.taskEvents || this.stopped) return;
    for (const event of this.builder.task(envelope, receivedAt, end)) {
      this.buffered.push(event);
      if (this.buffered.length >= TASK_EVENTS_PER_MESSAGE) this.flush();
    }
    if (this.buffered.length > 0 && !this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.flush();
      });
    }
  }

  /** Sends the buffered task events as one message. */
  flush(): void {
    if (this.buffered.length === 0) return;
    const events = this.buffered;
    this.buffered = [];
    this.send(this.builder.taskMessage(events), events.length);
  }

  /**
   * Once the worker's tasks are settled: the task events still buffered, then worker-offline (last:
   * a task event after it would make a monitor count the worker alive again); the channel closes.
   */
  async close(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.flush();
    this.worker("worker-offline");
    await this.sink.close();
  }

  private worker(type: "worker-online" | "worker-heartbeat" | "worker-offline"): void {
    this.send(this.builder.worker(type, { active: this.options.active(), processed: this.options.processed(), loadavg: loadavg() }));
  }

  private send(message: CeleryEvent, events = 1): void {
    this.options.metrics.celeryEvents.inc({ outcome: this.sink.send(message) ? "sent" : "dropped" }, events);
  }
}
