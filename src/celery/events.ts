/**
 * Celery's monitoring events, as a Celery 5 worker sends them (`celery/events/dispatcher.py`,
 * `worker/heartbeat.py`, `worker/strategy.py`, `worker/request.py`), so that Flower, `celery
 * events` and `app.events.State` see matchflow's workers and their tasks beside Celery's.
 *
 * An event is a JSON mapping with `type`, `timestamp` (seconds), `hostname`, `utcoffset`, `pid`
 * and `clock` (a Lamport clock), published transient to the topic exchange `celeryev` with the
 * type as routing key, dashes made dots (`worker-heartbeat` -> `worker.heartbeat`), and a
 * `hostname` header. Task events go as Celery's own worker sends them: several in one message, a
 * JSON list under the routing key `task.multi` (which Celery 4+ receivers read). Pure: builds the
 * messages; the worker sends them (broker/event-channel.ts).
 */
import { celerySaferepr } from "./python-text.js";
import type { TaskEnvelope } from "./decode.js";

export const CELERY_EVENT_EXCHANGE = "celeryev";
/** Seconds between two worker-heartbeat events (Celery's default; a monitor deems a worker gone after about two missed). */
export const HEARTBEAT_INTERVAL_S = 2;
/** Task events sent in one message at most (Celery's `buffer_limit`). */
export const TASK_EVENTS_PER_MESSAGE = 24;

export type CeleryEventType =
  | "worker-online"
  | "worker-heartbeat"
  | "worker-offline"
  | "task-received"
  | "task-started"
  | "task-succeeded"
  | "task-failed"
  | "task-retried"
  | "task-revoked";

/** One event, as a monitor reads it. */
export type CeleryEventBody = Record<string, unknown> & { type: CeleryEventType };

/** A message of events: one worker event, or a list of task events (`task.multi`). */
export interface CeleryEvent {
  routingKey: string;
  content: Buffer;
  properties: { contentType: "application/json"; contentEncoding: "utf-8"; deliveryMode: 1; headers: { hostname: string } };
}

/** Who sends: the node name monitors list (Celery's `celery@host`), its pid, and how its events are stamped. */
export interface EventSource {
  hostname: string;
  pid: number;
  /** Milliseconds since the epoch. */
  now: () => number;
  /** Hours west of UTC now (Python's `time.timezone // 3600`, DST included). */
  utcoffset: () => number;
}

/** What a heartbeat reports besides the source. */
export interface WorkerStats {
  /** Tasks received and not settled. */
  active: number;
  /** Tasks settled since the start. */
  processed: number;
  loadavg: readonly number[];
}

/** Software fields of worker events (Celery's SOFTWARE_INFO): monitors show them. */
export interface Software {
  ident: string;
  version: string;
  system: string;
}

/** How a task ended, for its events. */
export type TaskEnd =
  | { kind: "succeeded"; result: unknown }
  | { kind: "failed"; code: string; message: string }
  | { kind: "retried"; code: string; message: string }
  /** Not run: revoked, or expired (Celery revokes such a task rather than failing it). */
  | { kind: "revoked"; expired: boolean };

/** The offset Celery reports: whole hours west of UTC, floored as Python's `//` floors. */
export function utcoffsetHours(date: Date = new Date()): number {
  return Math.floor(date.getTimezoneOffset() / 60);
}

/** The Lamport clock of one sender: every event carries the next value. */
export class EventClock {
  private value = 0;

  forward(): number {
    return ++this.value;
  }
}

export class CeleryEventBuilder {
  private readonly clock = new EventClock();

  constructor(
    private readonly source: EventSource,
    private readonly software: Software,
  ) {}

  /** `worker-online`, `worker-heartbeat` or `worker-offline`, as Celery's Heart sends them. */
  worker(type: "worker-online" | "worker-heartbeat" | "worker-offline", stats: WorkerStats): CeleryEvent {
    const body = this.event(type, this.source.now(), {
      freq: HEARTBEAT_INTERVAL_S,
      active: stats.active,
      processed: stats.processed,
      loadavg: stats.loadavg.map((n) => Math.round(n * 100) / 100),
      sw_ident: this.software.ident,
      sw_ver: this.software.version,
      sw_sys: this.software.system,
    });
    return this.message(type.replaceAll("-", "."), body);
  }

  /** Task events in one message (at most TASK_EVENTS_PER_MESSAGE, the sender's business), as Celery's worker batches them. */
  taskMessage(events: readonly CeleryEventBody[]): CeleryEvent {
    return this.message("task.multi", events);
  }

  /**
   * The events of a task settled now: received and started (stamped when it was received: the
   * worker settles tasks in batches, milliseconds later, and sends them together), then how it
   * ended; an expired or revoked task is received and revoked, never started. Fields as Celery's worker
   * fills them; args and kwargs as their repr.
   */
  task(envelope: TaskEnvelope, receivedAt: number, end: TaskEnd): CeleryEventBody[] {
    const now = this.source.now();
    const offset = this.source.utcoffset();
    const uuid = envelope.taskId;
    const received = this.event("task-received", receivedAt, {
      uuid,
      name: envelope.taskName,
      args: reprOf(envelope.headers.argsrepr, envelope.args),
      kwargs: reprOf(envelope.headers.kwargsrepr, envelope.kwargs),
      root_id: envelope.rootId,
      parent_id: envelope.parentId,
      retries: envelope.retries,
      eta: envelope.eta,
      expires: envelope.expires,
    }, offset);
    if (end.kind === "revoked") return [received, this.event("task-revoked", now, { uuid, terminated: false, signum: null, expired: end.expired }, offset)];
    const started = this.event("task-started", receivedAt, { uuid }, offset);
    const last =
      end.kind === "succeeded"
        ? this.event("task-succeeded", now, { uuid, result: celerySaferepr(end.result, MAX_REPR_CHARS), runtime: Math.max(0, now - receivedAt) / 1000 }, offset)
        : this.event(end.kind === "failed" ? "task-failed" : "task-retried", now, { uuid, exception: exceptionRepr(end), traceback: null }, offset);
    return [received, started, last];
  }

  /** `fields` (a fresh object of the caller's) completed in place: no copy per event. */
  private event(type: CeleryEventType, at: number, fields: Record<string, unknown>, utcoffset = this.source.utcoffset()): CeleryEventBody {
    fields.hostname = this.source.hostname;
    fields.utcoffset = utcoffset;
    fields.pid = this.source.pid;
    fields.clock = this.clock.forward();
    fields.timestamp = at / 1000;
    fields.type = type;
    return fields as CeleryEventBody;
  }

  /** Any JSON will do for a monitor (kombu's json.loads): the native encoder, not Python's spelling. */
  private message(routingKey: string, body: CeleryEventBody | readonly CeleryEventBody[]): CeleryEvent {
    return {
      routingKey,
      content: Buffer.from(JSON.stringify(body), "utf8"),
      properties: { contentType: "application/json", contentEncoding: "utf-8", deliveryMode: 1, headers: { hostname: this.source.hostname } },
    };
  }
}

/** Celery's bound on a repr it makes (`argsrepr_maxsize`, `kwargsrepr_maxsize`). */
const MAX_REPR_CHARS = 1024;

/** A producer's `argsrepr`/`kwargsrepr` header when it sent one (protocol 2), else the repr of the value. */
function reprOf(header: unknown, value: unknown): string {
  return typeof header === "string" ? header : celerySaferepr(value, MAX_REPR_CHARS);
}

/** How Celery shows an exception (`safe_repr(exc)`): the class, and the error code with its message. */
function exceptionRepr(end: { code: string; message: string }): string {
  return `MatchflowError(${celerySaferepr(`${end.code}: ${end.message}`, MAX_REPR_CHARS)})`;
}
