/**
 * Celery's remote control as a Celery 5 worker answers it through kombu's pidbox: a request is a
 * JSON mapping `{method, arguments, destination, pattern, matcher, reply_to: {exchange,
 * routing_key}, ticket}` broadcast on the fanout exchange `celery.pidbox`; each worker it addresses
 * replies `{<node name>: <reply>}` to `reply_to`, with the `ticket` header (a request without
 * `reply_to` is a cast: done, not answered).
 *
 * CELERY_CONTROL=inspect answers the read-only part (`celery inspect ping|stats|registered|
 * active_queues|active|reserved|scheduled|query_task|revoked|conf|report|clock`, what Flower asks a worker);
 * `control` also obeys `revoke`, `enable_events`, `disable_events` and `heartbeat` (what Flower and
 * `celery control` send to change what a worker runs or reports). Commands that change the
 * worker's life or capacity (`shutdown`, `pool_restart`, `rate_limit`, `add_consumer`, ...) get an
 * error reply: Kubernetes owns the workers' lifecycle, and whoever can publish to the mailbox could
 * otherwise stop them all. Pure.
 */
import { isObject, isTaskId, MAX_TASK_ID_BYTES } from "./decode.js";
import { globMatches } from "./glob.js";
import { revokedForHello, revokedFromHello, type Clocks, type RevokedEntry } from "./mingle.js";

export const CONTROL_EXCHANGE = "celery.pidbox";
export const CONTROL_REPLY_EXCHANGE = "reply.celery.pidbox";
/** The worker's mailbox queue arguments, as Celery declares them (control_queue_ttl 300 s, control_queue_expires 10 s). */
export const CONTROL_QUEUE_ARGUMENTS = { "x-message-ttl": 300_000, "x-expires": 10_000 } as const;

export function controlQueueName(node: string): string {
  return `${node}.celery.pidbox`;
}

/** A task the worker holds, as `inspect active|reserved|scheduled` show it (from its headers: nothing is decoded to answer). */
export interface TaskSeen {
  id: string | null;
  name: string | null;
  argsrepr: string | null;
  kwargsrepr: string | null;
  eta: string | null;
  priority: number;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  /** Milliseconds since the epoch. */
  receivedAt: number;
}

/** Tasks listed in one reply at most: a prefetch can hold 65,535, and a reply is one message. */
export const MAX_TASKS_LISTED = 1000;

/** What the worker can tell about itself when asked. */
export interface WorkerFacts {
  node: string;
  pid: number;
  version: string;
  /** Seconds since the start. */
  uptime: number;
  concurrency: number;
  prefetch: number;
  taskName: string;
  /** Tasks settled for good since the start. */
  processed: number;
  queue: { name: string; exchange: string; exchangeType: string; routingKey: string; durable: boolean; queueType: string };
  broker: { hostname: string; port: number; virtualHost: string };
  clock: number;
  /** The worker's settings, credentials redacted (`inspect conf`; read only when asked). */
  conf: () => Record<string, unknown>;
  /** Being stored, waiting for a batch, held until their eta (read only when asked). */
  tasks: () => { active: readonly TaskSeen[]; reserved: readonly TaskSeen[]; scheduled: readonly TaskSeen[] };
  /** The ids flagged by `revoke` and not yet expired, oldest first (`inspect revoked`, mingle's `hello`). */
  revoked: () => readonly RevokedEntry[];
  /** Now, on the wall clock and the host's monotonic clock (the stamps of mingle's `hello`). */
  clocks: Clocks;
}

/** What CELERY_CONTROL=control lets a request change. */
export interface WorkerControls {
  /** Flags the ids: a delivery of one of them is not run (dead-lettered as `task_revoked`). */
  revoke(ids: readonly string[]): void;
  /** Takes in the revoked ids another worker sent with its `hello` (mingle). */
  mergeRevoked(entries: readonly RevokedEntry[]): void;
  /** Task events on or off: whether that changed anything; undefined when the worker sends no events (CELERY_EVENTS=off). */
  taskEvents(on: boolean): boolean | undefined;
  /** A worker-heartbeat now: false when the worker sends no events. */
  heartbeat(): boolean;
}

/** The commands CELERY_CONTROL=control obeys, besides answering the inspect ones. */
export const CONTROL_COMMANDS = ["revoke", "enable_events", "disable_events", "heartbeat"] as const;

export interface ControlReply {
  exchange: string;
  routingKey: string;
  ticket: string | null;
  body: Record<string, unknown>;
}

export interface ControlRequest {
  method: string;
  arguments: Record<string, unknown>;
  /** Undefined for a cast (no reply wanted). */
  replyTo: { exchange: string; routingKey: string } | undefined;
  ticket: string | null;
}

/** The request when it is addressed to `node`, else undefined (nothing to do). */
export function controlRequest(body: unknown, node: string): ControlRequest | undefined {
  if (!isObject(body) || typeof body.method !== "string") return undefined;
  const { destination, pattern, matcher, reply_to: replyTo } = body;
  if (Array.isArray(destination) && destination.length > 0) {
    if (!destination.includes(node)) return undefined;
  } else if (typeof pattern === "string" && typeof matcher === "string") {
    // kombu's matchers: glob (fnmatch) or pcre; a regular expression from the network is not run here.
    if (matcher !== "glob" || !globMatches(pattern, node)) return undefined;
  }
  const replies = isObject(replyTo) && typeof replyTo.exchange === "string" && typeof replyTo.routing_key === "string";
  return {
    method: body.method,
    arguments: isObject(body.arguments) ? body.arguments : {},
    replyTo: replies ? { exchange: replyTo.exchange as string, routingKey: replyTo.routing_key as string } : undefined,
    ticket: typeof body.ticket === "string" ? body.ticket : null,
  };
}

/**
 * The reply of a Celery worker to a command, from what matchflow knows, after doing what a control
 * command asks when `controls` are given (CELERY_CONTROL=control); an error reply for the rest;
 * undefined for no reply at all.
 */
export function answerControl(method: string, facts: WorkerFacts, args: Record<string, unknown> = {}, controls?: WorkerControls): unknown {
  if (controls && isControlCommand(method)) return obey(method, args, controls);
  switch (method) {
    case "ping":
      return { ok: "pong" };
    case "clock":
      return { clock: facts.clock };
    case "report":
      return { ok: `matchflow ${facts.version} (Node.js ${process.versions.node}); task ${facts.taskName}; queue ${facts.queue.name}` };
    case "registered":
      return [facts.taskName];
    case "active_queues":
      return [
        {
          name: facts.queue.name,
          exchange: { name: facts.queue.exchange, type: facts.queue.exchangeType, durable: true, auto_delete: false, arguments: null },
          routing_key: facts.queue.routingKey,
          queue_arguments: { "x-queue-type": facts.queue.queueType },
          binding_arguments: null,
          durable: facts.queue.durable,
          exclusive: false,
          auto_delete: false,
          no_ack: false,
          alias: null,
          bindings: [],
          no_declare: null,
          expires: null,
          message_ttl: null,
          max_length: null,
          max_length_bytes: null,
          max_priority: null,
        },
      ];
    case "active":
      return facts.tasks().active.slice(0, MAX_TASKS_LISTED).map((t) => taskInfo(t, facts, true));
    case "reserved":
      return facts.tasks().reserved.slice(0, MAX_TASKS_LISTED).map((t) => taskInfo(t, facts, false));
    case "query_task":
      return queryTask(args.ids, facts);
    case "scheduled":
      return facts.tasks().scheduled.slice(0, MAX_TASKS_LISTED).map((t) => ({ eta: t.eta, priority: t.priority, request: taskInfo(t, facts, false) }));
    case "conf":
      return facts.conf();
    case "revoked":
      return facts.revoked().slice(0, MAX_REVOKED_LISTED).map(([id]) => id);
    case "hello": {
      // Mingle (celery/mingle.ts): a starting worker's revoked ids in, ours out. Our own broadcast gets no answer.
      if (args.from_node === facts.node) return undefined;
      controls?.mergeRevoked(revokedFromHello(args.revoked, facts.clocks));
      return { revoked: revokedForHello(facts.revoked(), facts.clocks), clock: facts.clock };
    }
    case "stats":
      return {
        pid: facts.pid,
        clock: String(facts.clock),
        uptime: Math.floor(facts.uptime),
        total: { [facts.taskName]: facts.processed },
        pool: { "max-concurrency": facts.concurrency, processes: [facts.pid], implementation: "matchflow (Node.js event loop)" },
        prefetch_count: facts.prefetch,
        broker: { hostname: facts.broker.hostname, port: facts.broker.port, virtual_host: facts.broker.virtualHost, transport: "amqp", userid: null, ssl: false },
        sw_ident: "matchflow",
        sw_ver: facts.version,
      };
    default:
      return {
        error: controls
          ? `matchflow answers the inspect commands ${INSPECT_COMMANDS.join(", ")} and obeys ${CONTROL_COMMANDS.join(", ")}; not ${JSON.stringify(method.slice(0, 100))}`
          : isControlCommand(method)
            ? `${method} is obeyed with CELERY_CONTROL=control; this worker has CELERY_CONTROL=inspect (it answers ${INSPECT_COMMANDS.join(", ")})`
            : `matchflow answers the inspect commands ${INSPECT_COMMANDS.join(", ")}; not ${JSON.stringify(method.slice(0, 100))}`,
      };
  }
}

export function isControlCommand(method: string): method is (typeof CONTROL_COMMANDS)[number] {
  return (CONTROL_COMMANDS as readonly string[]).includes(method);
}

/** Ids listed by `inspect revoked` at most (a reply is one message; the set holds up to 50,000). */
export const MAX_REVOKED_LISTED = 10_000;

function obey(method: (typeof CONTROL_COMMANDS)[number], args: Record<string, unknown>, controls: WorkerControls): unknown {
  switch (method) {
    case "revoke": {
      const ids = revokedIds(args.task_id);
      if (typeof ids === "string") return { error: ids };
      controls.revoke(ids);
      // Celery's reply; it terminates a running task on request, matchflow cannot stop a batch's transaction midway.
      const note = args.terminate === true ? "; terminate: not done (matchflow runs no task process to stop: a task being stored completes)" : "";
      return { ok: `tasks ${ids.join(", ")} flagged as revoked${note}` };
    }
    case "enable_events":
    case "disable_events": {
      const on = method === "enable_events";
      const changed = controls.taskEvents(on);
      if (changed === undefined) return { error: "this worker sends no events (CELERY_EVENTS=off); start it with CELERY_EVENTS=worker or all" };
      return { ok: `task events ${changed ? "" : "already "}${on ? "enabled" : "disabled"}` };
    }
    case "heartbeat":
      return controls.heartbeat() ? { ok: "heartbeat sent" } : { error: "this worker sends no events (CELERY_EVENTS=off)" };
  }
}

/** `revoke`'s task_id: one id or a list of them (Celery's maybe_list), each a task id as decode.ts accepts one; else why not. */
export function revokedIds(value: unknown): string[] | string {
  const ids: unknown[] = Array.isArray(value) ? value : [value];
  if (ids.length === 0) return "revoke: task_id names no task";
  for (const id of ids) {
    if (!isTaskId(id)) {
      return `revoke: task_id must be a task id (a string of 1 to ${MAX_TASK_ID_BYTES} bytes, not blank) or a list of them; got ${JSON.stringify(id)?.slice(0, 100) ?? String(id)}`;
    }
  }
  return [...new Set(ids as string[])];
}

/** The commands answered (the rest get an error reply). */
export const INSPECT_COMMANDS = ["ping", "stats", "registered", "active_queues", "active", "reserved", "scheduled", "query_task", "revoked", "conf", "report", "clock"] as const;

/** `inspect query_task <id>...`: each id the worker holds, `[state, info]` as Celery's (a task held for its eta is reserved there too); ids not held are left out. */
function queryTask(value: unknown, facts: WorkerFacts): Record<string, [string, Record<string, unknown>]> {
  const ids = new Set((Array.isArray(value) ? value : [value]).filter((id): id is string => typeof id === "string"));
  const out: Record<string, [string, Record<string, unknown>]> = {};
  if (ids.size === 0) return out;
  const { active, reserved, scheduled } = facts.tasks();
  for (const t of active) if (t.id !== null && ids.has(t.id)) out[t.id] = ["active", taskInfo(t, facts, true)];
  for (const t of [...reserved, ...scheduled]) if (t.id !== null && ids.has(t.id) && !Object.hasOwn(out, t.id)) out[t.id] = ["reserved", taskInfo(t, facts, false)];
  return out;
}

/** A task as Celery's `Request.info()` shows it. */
function taskInfo(t: TaskSeen, facts: WorkerFacts, started: boolean): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    args: t.argsrepr,
    kwargs: t.kwargsrepr,
    type: t.name,
    hostname: facts.node,
    time_start: started ? t.receivedAt / 1000 : null,
    acknowledged: false,
    delivery_info: { exchange: t.exchange, routing_key: t.routingKey, priority: t.priority, redelivered: t.redelivered },
    worker_pid: facts.pid,
  };
}
