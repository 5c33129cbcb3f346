/**
 * Celery's remote control, the read-only part (`celery inspect ping|stats|registered|
 * active_queues|active|reserved|scheduled|revoked|conf|report|clock`, what Flower asks a worker), answered as a Celery 5 worker answers
 * through kombu's pidbox: a request is a JSON mapping `{method, arguments, destination, pattern,
 * matcher, reply_to: {exchange, routing_key}, ticket}` broadcast on the fanout exchange
 * `celery.pidbox`; each worker it addresses replies `{<node name>: <reply>}` to `reply_to`, with
 * the `ticket` header. Commands that change a worker (`shutdown`, `pool_restart`, `rate_limit`,
 * `revoke`, ...) are refused with an error reply: Kubernetes owns the workers' lifecycle, and
 * whoever can publish to the mailbox could otherwise stop them all. Pure.
 */
import { isObject } from "./decode.js";

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
}

export interface ControlReply {
  exchange: string;
  routingKey: string;
  ticket: string | null;
  body: Record<string, unknown>;
}

/** The request's method when it is addressed to `node` and wants a reply, else undefined (nothing to do). */
export function controlRequest(body: unknown, node: string): { method: string; arguments: Record<string, unknown>; replyTo: { exchange: string; routingKey: string }; ticket: string | null } | undefined {
  if (!isObject(body) || typeof body.method !== "string") return undefined;
  const { destination, pattern, matcher, reply_to: replyTo } = body;
  if (Array.isArray(destination) && destination.length > 0) {
    if (!destination.includes(node)) return undefined;
  } else if (typeof pattern === "string" && typeof matcher === "string") {
    // kombu's matchers: glob (fnmatch) or pcre; a regular expression from the network is not run here.
    if (matcher !== "glob" || !globMatches(pattern, node)) return undefined;
  }
  // A cast (no reply wanted) changes something by definition: nothing read-only to do.
  if (!isObject(replyTo) || typeof replyTo.exchange !== "string" || typeof replyTo.routing_key !== "string") return undefined;
  return {
    method: body.method,
    arguments: isObject(body.arguments) ? body.arguments : {},
    replyTo: { exchange: replyTo.exchange, routingKey: replyTo.routing_key },
    ticket: typeof body.ticket === "string" ? body.ticket : null,
  };
}

/** fnmatch: `*` any run, `?` one character, `[...]` a set; the rest literal. */
export function globMatches(pattern: string, name: string): boolean {
  let source = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? "";
    if (c === "*") source += ".*";
    else if (c === "?") source += ".";
    else if (c === "[" && pattern.indexOf("]", i + 2) > i) {
      const end = pattern.indexOf("]", i + 2);
      const set = pattern.slice(i + 1, end);
      source += `[${set.startsWith("!") ? `^${escapeSet(set.slice(1))}` : escapeSet(set)}]`;
      i = end;
    } else source += c.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }
  return new RegExp(`^${source}$`, "s").test(name);
}

function escapeSet(set: string): string {
  return set.replace(/[\\\]^]/g, "\\$&");
}

/** The reply of a Celery worker to an inspect command, from what matchflow knows; an error reply for the rest. */
export function answerControl(method: string, facts: WorkerFacts): unknown {
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
    case "scheduled":
      return facts.tasks().scheduled.slice(0, MAX_TASKS_LISTED).map((t) => ({ eta: t.eta, priority: t.priority, request: taskInfo(t, facts, false) }));
    case "conf":
      return facts.conf();
    case "revoked":
      // matchflow revokes nothing (`celery control revoke` is refused).
      return [];
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
      return { error: `matchflow answers the inspect commands ${INSPECT_COMMANDS.join(", ")}; not ${JSON.stringify(method.slice(0, 100))}` };
  }
}

/** The commands answered (the rest get an error reply). */
export const INSPECT_COMMANDS = ["ping", "stats", "registered", "active_queues", "active", "reserved", "scheduled", "revoked", "conf", "report", "clock"] as const;

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
