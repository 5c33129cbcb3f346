/**
 * Celery's canvas, run as a Celery 5 worker runs it when a task it does not have registered
 * carries one (`celery/app/trace.py`, `backends/base.py`): on success each link callback is sent
 * with the task's return value first in its args and the chain's next step is sent with the rest
 * of the chain; on a final failure each link_error errback is sent with the task's id. A chord
 * needs a result backend to count its members on, which matchflow has not: reported, not run.
 * Pure: builds the messages; the worker sends them, confirmed, before it acks the task.
 *
 * A signature without a `task_id` option gets one derived from the task's id and its place in the
 * canvas (a name-based UUID), so a redelivered task sends its follow-ups under the same ids:
 * at least once, recognisable as the same task. Celery would draw a new one each time.
 */
import { createHash } from "node:crypto";
import { encodeTaskV2, type EncodedMessage } from "./codec.js";
import { numberValue } from "./json-number.js";
import { kombuTaggedText } from "./python-json.js";
import { pythonUtcIsoformat } from "./python-text.js";
import { isObject, MAX_TASK_ID_BYTES, type TaskEnvelope, type WorkflowPart } from "./decode.js";

export interface FollowUp {
  /** What it is to the task that finished: a link callback, the chain's next step, an errback. */
  role: "callback" | "chain" | "errback";
  taskName: string;
  taskId: string;
  /**
   * Where it goes: a Celery app's queue through the default exchange (as the queue's name); the
   * exchange and routing key its options name (`.set(exchange=..., routing_key=...)`); or, for
   * matchflow's own task, its work exchange and routing key.
   */
  exchange: string;
  routingKey: string;
  /** The queue that must exist for it to arrive; undefined through a named exchange (its bindings decide). */
  queue: string | undefined;
  /** Matchflow's own work queue (which the worker declares again if it is missing), not a Celery app's. */
  own: boolean;
  message: EncodedMessage;
}

export interface NotRun {
  part: WorkflowPart;
  reason: string;
}

export interface CanvasPlan {
  followUps: FollowUp[];
  notRun: NotRun[];
}

export interface CanvasContext {
  /** Where a signature that names no `queue` goes (Celery's `task_default_queue`). */
  defaultQueue: string;
  /** Matchflow's own task and its route: a signature of it that names no queue goes there, as the producer's task_routes would send it. */
  own?: { taskName: string; exchange: string; routingKey: string; queue: string } | undefined;
  now: number;
}

/** A task that would fan out into more follow-ups than this sends none of them (reported). */
export const MAX_FOLLOW_UPS = 1000;
/** AMQP short strings (task ids as correlation ids, queue names, reply_to) hold at most 255 bytes. */
const MAX_SHORT_STRING_BYTES = MAX_TASK_ID_BYTES;
const MAX_SHADOW_CHARS = 1024;

interface Signature {
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: Record<string, unknown>;
  subtaskType: string | null;
  immutable: boolean;
}

/** A serialised Celery signature (`{"task", "args", "kwargs", "options", "subtask_type", "immutable"}`), or why not. */
function signatureOf(value: unknown): Signature | string {
  if (!isObject(value)) return "a signature that is not a mapping";
  const { task, args, kwargs, options, subtask_type: subtaskType, immutable } = value;
  if (typeof task !== "string" || task.trim() === "") return "a signature without a task name";
  if (args !== undefined && args !== null && !Array.isArray(args)) return `signature ${shown(task)}: args is not a list`;
  if (kwargs !== undefined && kwargs !== null && !isObject(kwargs)) return `signature ${shown(task)}: kwargs is not a mapping`;
  if (options !== undefined && options !== null && !isObject(options)) return `signature ${shown(task)}: options is not a mapping`;
  return {
    task,
    args: (args as unknown[] | null | undefined) ?? [],
    kwargs: kwargs ?? {},
    options: options ?? {},
    subtaskType: typeof subtaskType === "string" && subtaskType !== "" ? subtaskType : null,
    immutable: immutable === true,
  };
}

/** A task name as a reason shows it: a producer's name can be as long as its message. */
function shown(task: string): string {
  return task.length > 200 ? `${task.slice(0, 199)}…` : task;
}

/** `link=` takes one signature or a list of them. */
function signatureList(value: unknown): unknown[] | null {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return value.length > 0 ? value : null;
  return [value];
}

/** A UUID (version 5 layout) named by the task's id and the follow-up's place in its canvas. */
export function derivedTaskId(taskId: string, place: string): string {
  const h = createHash("sha1").update(`matchflow.celery-canvas:${taskId}:${place}`).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.toString("hex", 0, 16);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

function shortString(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" && Buffer.byteLength(value, "utf8") <= MAX_SHORT_STRING_BYTES ? value : undefined;
}

/** A number option (`countdown`, `time_limit`, ...), which Python may have written as a float (`300.0`). */
function seconds(value: unknown): number | undefined {
  const n = numberValue(value);
  return n !== undefined && Number.isFinite(n) ? n : undefined;
}

/** `eta=`/`expires=` as Celery serialises a datetime (ISO text), or `countdown=`/`expires=` seconds from now. */
function instant(value: unknown, secondsFromNow: number | undefined, now: number): string | null {
  // kombu >= 5.3 writes a datetime tagged ({"__type__": "datetime", "__value__": ...}).
  const text = kombuTaggedText(value) ?? value;
  if (typeof text === "string" && text !== "") return text;
  return secondsFromNow === undefined ? null : pythonUtcIsoformat(now + secondsFromNow * 1000);
}

/** The queue or exchange a signature's options name: Celery takes a name (or a Queue or Exchange, serialised with its `name`). */
function nameOption(value: unknown): unknown {
  return isObject(value) ? value.name : value;
}

/**
 * The exchange and routing key a signature's options name, as Celery's `send_task_message` takes
 * them: with a direct exchange (the default queue's) only both together replace the route to the
 * queue, one alone is ignored; with another `exchange_type` the exchange is taken with the routing
 * key given, if any. Undefined: none named; a string: why the options are not usable.
 */
function namedRoute(o: Record<string, unknown>): { exchange: string; routingKey: string } | string | undefined {
  const given = (value: unknown) => value !== undefined && value !== null && value !== "";
  const exchangeValue = nameOption(o.exchange);
  const exchange = shortString(exchangeValue);
  if (exchange === undefined && given(exchangeValue)) return "exchange is not an exchange name";
  const routingKey = typeof o.routing_key === "string" && Buffer.byteLength(o.routing_key, "utf8") <= MAX_SHORT_STRING_BYTES ? o.routing_key : undefined;
  if (routingKey === undefined && given(o.routing_key)) return "routing_key is not a routing key of at most 255 bytes";
  const direct = !given(o.exchange_type) || o.exchange_type === "direct";
  if (exchange === undefined || (direct && !given(routingKey))) return undefined;
  return { exchange, routingKey: routingKey ?? "" };
}

interface Send {
  role: FollowUp["role"];
  part: WorkflowPart;
  /** Args put before the signature's own (the return value, or the failed task's id). */
  lead: unknown[];
  place: string;
  chain: unknown[] | null;
  group?: { id: string; index: number };
  /**
   * A group every task sent takes a place in, groups among them unrolled into it (the next index
   * each): how Celery's `group` sends a group it holds (canvas.py, `_prepared`).
   */
  join?: { id: string; next: () => number };
}

class Planner {
  private readonly followUps: FollowUp[] = [];
  private readonly notRuns: NotRun[] = [];
  /** The part that went over MAX_FOLLOW_UPS, if one did. */
  private overflow: WorkflowPart | undefined;

  constructor(
    private readonly envelope: TaskEnvelope,
    private readonly context: CanvasContext,
  ) {}

  notRun(part: WorkflowPart, reason: string): void {
    this.notRuns.push({ part, reason });
  }

  /** All of it, or none when it fans out into more than MAX_FOLLOW_UPS tasks (a runaway canvas). */
  get plan(): CanvasPlan {
    if (this.overflow === undefined) return { followUps: this.followUps, notRun: this.notRuns };
    return { followUps: [], notRun: [...this.notRuns, { part: this.overflow, reason: `more than ${MAX_FOLLOW_UPS} follow-up tasks: none sent` }] };
  }

  /** One signature of any kind Celery can send from a worker: a task, a group, a chain. */
  apply(value: unknown, send: Send): void {
    const sig = signatureOf(value);
    if (typeof sig === "string") return this.notRun(send.part, sig);
    const members = sig.kwargs.tasks;
    if (send.join) {
      // Unrolled: a member group's own id goes, and so do its own args (Celery passes only the
      // outer group's args on to the members of a group it unrolls).
      if (sig.subtaskType === "group" && Array.isArray(members)) return members.forEach((member, index) => this.apply(member, { ...send, place: `${send.place}.${index}` }));
      return this.apply(value, { ...send, join: undefined, group: { id: send.join.id, index: send.join.next() } });
    }
    if (sig.subtaskType === null) return this.task(sig, send);
    if (sig.subtaskType === "group" && Array.isArray(members)) {
      if (send.chain && send.chain.length > 0) return this.notRun(send.part, `a group (${shown(sig.task)}) with chain steps after it: Celery makes that a chord`);
      const id = shortString(sig.options.task_id) ?? derivedTaskId(this.envelope.taskId, `${send.place}.group`);
      members.forEach((member, index) => this.apply(this.withLeadOf(member, sig), { ...send, place: `${send.place}.${index}`, group: { id, index } }));
      return;
    }
    if (sig.subtaskType === "chain" && Array.isArray(members) && members.length > 0) {
      // Stored reversed, as Celery stores a chain: the next step is the last item.
      const rest: unknown[] = members.slice(1).reverse();
      return this.apply(this.withLeadOf(members[0], sig), { ...send, chain: [...(send.chain ?? []), ...rest] });
    }
    this.notRun(send.part, `a ${shown(sig.subtaskType)} signature (${shown(sig.task)}): matchflow sends tasks, groups and chains only`);
  }

  /** A group's or chain's own partial args go to its members (Celery clones them in). */
  private withLeadOf(member: unknown, outer: Signature): unknown {
    if (outer.args.length === 0 || !isObject(member) || member.immutable === true) return member;
    const args: unknown[] = Array.isArray(member.args) ? member.args : [];
    return { ...member, args: [...outer.args, ...args] };
  }

  /** Where a task signature goes (see FollowUp), or why it cannot be sent. */
  private routeOf(sig: Signature): Pick<FollowUp, "exchange" | "routingKey" | "queue" | "own"> | string {
    const o = sig.options;
    const queueValue = nameOption(o.queue);
    const named = queueValue === undefined || queueValue === null ? undefined : shortString(queueValue);
    if (named === undefined && queueValue !== undefined && queueValue !== null) return "queue is not a queue name";
    const through = namedRoute(o);
    if (typeof through === "string") return through;
    const own = this.context.own;
    if (through) {
      const ours = own !== undefined && through.exchange === own.exchange && through.routingKey === own.routingKey;
      return { ...through, queue: ours ? own.queue : undefined, own: ours };
    }
    if (named === undefined && own?.taskName === sig.task) return { exchange: own.exchange, routingKey: own.routingKey, queue: own.queue, own: true };
    const queue = named ?? this.context.defaultQueue;
    return { exchange: "", routingKey: queue, queue, own: false };
  }

  private task(sig: Signature, send: Send): void {
    if (this.overflow !== undefined) return;
    if (this.followUps.length >= MAX_FOLLOW_UPS) {
      this.overflow = send.part;
      return;
    }
    const o = sig.options;
    const taskId = o.task_id === undefined || o.task_id === null ? derivedTaskId(this.envelope.taskId, send.place) : shortString(o.task_id);
    if (taskId === undefined) return this.notRun(send.part, `signature ${shown(sig.task)}: task_id is not an id of at most ${MAX_TASK_ID_BYTES} bytes`);
    const route = this.routeOf(sig);
    if (typeof route === "string") return this.notRun(send.part, `signature ${shown(sig.task)}: ${route}`);
    const now = this.context.now;
    const asked = numberValue(o.priority);
    const priority = asked !== undefined && Number.isInteger(asked) && asked >= 0 && asked <= 255 ? asked : 0;
    const timeLimit = [seconds(o.time_limit) ?? null, seconds(o.soft_time_limit) ?? null] as const;
    const shadow = typeof o.shadow === "string" && o.shadow.length <= MAX_SHADOW_CHARS ? o.shadow : null;
    const replyTo = shortString(o.reply_to);
    const message = encodeTaskV2(
      {
        taskName: sig.task,
        taskId,
        args: sig.immutable ? sig.args : [...send.lead, ...sig.args],
        kwargs: sig.kwargs,
        eta: instant(o.eta, seconds(o.countdown), now),
        expires: instant(o.expires, seconds(o.expires), now),
        parentId: this.envelope.taskId,
        rootId: this.envelope.rootId ?? this.envelope.taskId,
        ...(replyTo ? { replyTo } : {}),
        ignoreResult: o.ignore_result === true,
        shadow,
        groupId: send.group?.id ?? null,
        groupIndex: send.group?.index ?? null,
        timeLimit,
        priority,
        embed: { callbacks: signatureList(o.link), errbacks: signatureList(o.link_error), chain: send.chain && send.chain.length > 0 ? send.chain : null, chord: o.chord ?? null },
      },
      { now },
    );
    this.followUps.push({ role: send.role, taskName: sig.task, taskId, ...route, message });
  }
}

function embedPart(envelope: TaskEnvelope, part: WorkflowPart): unknown {
  return envelope.embed?.[part];
}

/** The chord the task is a member of, which only a result backend can complete. */
function reportChord(planner: Planner, envelope: TaskEnvelope): void {
  const chord = embedPart(envelope, "chord");
  if (chord !== undefined && chord !== null) planner.notRun("chord", "the task is a member of a chord, whose body needs a result backend to count the members on");
}

/** Succeeded: its link callbacks with `result` first in their args, and the chain's next step. */
export function planOnSuccess(envelope: TaskEnvelope, result: unknown, context: CanvasContext): CanvasPlan {
  const planner = new Planner(envelope, context);
  const callbacks = signatureList(embedPart(envelope, "callbacks")) ?? [];
  // Several callbacks: Celery's worker sends those that are not groups as one group (a group id
  // and an index each); a single one on its own.
  const groupId = derivedTaskId(envelope.taskId, "callback.group");
  let index = 0;
  callbacks.forEach((sig, i) => {
    const inGroup = callbacks.length > 1 && !(isObject(sig) && sig.subtask_type === "group");
    planner.apply(sig, { role: "callback", part: "callbacks", lead: [result], place: `callback.${i}`, chain: null, ...(inGroup ? { group: { id: groupId, index: index++ } } : {}) });
  });
  const chain = embedPart(envelope, "chain");
  if (Array.isArray(chain) && chain.length > 0) {
    planner.apply(chain[chain.length - 1], { role: "chain", part: "chain", lead: [result], place: "chain", chain: chain.slice(0, -1) });
  } else if (chain !== undefined && chain !== null && !Array.isArray(chain)) {
    planner.notRun("chain", "the chain is not a list");
  }
  reportChord(planner, envelope);
  return planner.plan;
}

/**
 * Failed for good (dead-lettered): its link_error errbacks, each with the task's id as its first
 * arg (how Celery calls an errback it does not have registered). The chain stops, as in Celery.
 * Celery's worker sends such errbacks as one group, a single one too (backends/base.py,
 * `_call_task_errbacks`): a group id and an index each, the members of a group errback unrolled
 * into it.
 */
export function planOnFailure(envelope: TaskEnvelope, context: CanvasContext): CanvasPlan {
  const planner = new Planner(envelope, context);
  let index = 0;
  const join = { id: derivedTaskId(envelope.taskId, "errback.group"), next: () => index++ };
  signatureList(embedPart(envelope, "errbacks"))?.forEach((sig, i) => {
    planner.apply(sig, { role: "errback", part: "errbacks", lead: [envelope.taskId], place: `errback.${i}`, chain: null, join });
  });
  reportChord(planner, envelope);
  return planner.plan;
}
