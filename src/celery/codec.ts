/**
 * Celery task messages, built exactly as Celery 5 builds them (protocol v2: headers + body
 * `[args, kwargs, embed]`; protocol v1: everything in the body). Pure: no I/O, no amqplib import.
 * Wire facts: docs/celery-wire.md. Decoding lives in `decode.ts` and is re-exported here.
 */
import { celerySaferepr, pythonJsonDumps } from "./python-text.js";
import { COMPRESSION_HEADER } from "./compression.js";
import { parseCeleryTime } from "./time.js";
import { V1_WORKFLOW_FIELDS } from "./decode.js";

export { decodeTask, type TaskEnvelope, type IncomingProperties, type DecodeOptions } from "./decode.js";

/** Celery cuts argsrepr/kwargsrepr at this many characters (`argsrepr_maxsize`). */
export const REPR_MAX_CHARS = 1024;

/**
 * An AMQP integer header. amqplib would write a small JS number as a signed byte (`b`); Celery
 * (py-amqp) writes ints as `I`, so we ask for that type explicitly with amqplib's `!` form.
 * `decodeTask` unwraps it, so in-process transports see the same shape.
 */
export interface AmqpInt {
  "!": "int";
  value: number;
}

export function amqpInt(value: number): AmqpInt {
  return { "!": "int", value };
}

/**
 * A JS number as a field value that py-amqp (Celery's client) reads back as the same number.
 * amqplib picks an integer's type by its size, and py-amqp reads three of those types otherwise:
 * `b` as unsigned (-1 became 255), `s` as a short *string* (128-32767 broke the header frame or
 * Celery's worker: a control reply's clock, a follow-up's timelimit) and `l` as unsigned. So
 * integers go as `I` (signed 32), larger positive ones as `l`; what neither holds as a double.
 */
export function pythonReadableNumber(n: number): unknown {
  if (!Number.isInteger(n)) return n;
  if (n >= -0x80000000 && n <= 0x7fffffff) return { "!": "int", value: n };
  return n > 0 && Number.isSafeInteger(n) ? { "!": "long", value: n } : { "!": "double", value: n };
}

export interface MessageProperties {
  contentType: "application/json";
  contentEncoding: "utf-8";
  correlationId?: string;
  replyTo?: string;
  /** 2 = persistent (tasks); 1 = transient (rpc results, as Celery's default). */
  deliveryMode: 1 | 2;
  /** 0 unless a task asks for another (a Celery signature's `priority` option). */
  priority: number;
  headers: Record<string, unknown>;
  messageId?: string;
  /** Per-message TTL in milliseconds, as a decimal string (AMQP shortstr). */
  expiration?: string;
}

/** Body bytes plus AMQP properties: what a TaskSink publishes. */
export interface EncodedMessage {
  content: Buffer;
  properties: MessageProperties;
}

export interface TaskInput {
  taskName: string;
  taskId: string;
  args: unknown[];
  kwargs?: Record<string, unknown>;
  retries?: number;
  /** ISO-8601 or null. */
  eta?: string | null;
  /** ISO-8601 or null; also sets the per-message `expiration` (ms from now), as Celery does. */
  expires?: string | null;
  rootId?: string | null;
  parentId?: string | null;
  replyTo?: string;
  ignoreResult?: boolean;
  /** `gen<pid>@<host>` for Celery; ours says who we are. */
  origin?: string;
  /** Budget of the argsrepr header (saferepr's cut). @default REPR_MAX_CHARS, Celery's */
  argsreprMaxChars?: number;
  /** Celery's display name of the task (`shadow=`). @default none */
  shadow?: string | null;
  /** The group the task is a member of (`group` header) and its place in it (`group_index`). */
  groupId?: string | null;
  groupIndex?: number | null;
  /** Hard and soft time limits in seconds (`timelimit` header), null for none. */
  timeLimit?: readonly [number | null, number | null] | null;
  /** The AMQP priority. @default 0 */
  priority?: number;
  /**
   * The task's canvas (link callbacks, errbacks, chain, chord), as decoded (`TaskEnvelope.embed`):
   * protocol 2's embed mapping, protocol 1's body fields. @default none
   */
  embed?: Record<string, unknown> | null;
  /**
   * Protocol 2 only: the body `[args, kwargs, embed]` exactly as the task arrived, sent as it is
   * (a retry or requeue changes none of them). Written again from what JSON.parse read, numbers
   * changed: Python's 1.0 went back as 1, an int past 2^53 lost digits, a NaN became null.
   * @default the body encoded from `args`, `kwargs` and `embed`
   */
  body?: Buffer;
  /** With `body`: the `compression` header it came with (kombu's MIME type), sent with it. */
  bodyCompression?: string;
}

export interface EncodeOptions {
  /** Clock for the `expiration` property (ms since epoch); defaults to now. */
  now?: number;
}

const EMBED = { callbacks: null, errbacks: null, chain: null, chord: null } as const;

function requireText(value: unknown, what: string): string {
  if (typeof value !== "string" || value.trim() === "") throw new TypeError(`${what} must be non-empty text`);
  return value;
}

/**
 * An `expires` that is not a date and time gets no per-message TTL rather than an exception: the
 * codec also re-encodes tasks other producers sent (retries, `dlq requeue`), and the worker
 * refuses such a task by name (`invalid_expires`) instead of running it.
 */
function expirationMs(expires: string | null | undefined, now: number): string | undefined {
  if (!expires) return undefined;
  const at = parseCeleryTime(expires);
  return at === undefined ? undefined : String(Math.max(0, Math.round(at - now)));
}

/**
 * The headers `encodeTaskV2` owns: each is set when it has a value and left out otherwise, so a
 * caller merging an older message's headers with a new encoding must drop these from the old
 * ones (a stale `eta` would otherwise survive). Celery's other headers (`shadow`, `group`,
 * `group_index`, `timelimit`, stamps) describe the task beyond what matchflow models: set only
 * for a task matchflow sends on a producer's behalf (a link callback, a chain's next step; see
 * canvas.ts), otherwise carried over from the message they came with.
 */
export const ENCODED_TASK_HEADERS: ReadonlySet<string> = new Set(["lang", "task", "id", "eta", "expires", "retries", "root_id", "parent_id", "argsrepr", "kwargsrepr", "origin", "ignore_result"]);

/** Protocol v2, as Celery 5's `as_task_v2` + kombu's JSON serializer produce it (null headers left out). */
export function encodeTaskV2(task: TaskInput, options: EncodeOptions = {}): EncodedMessage {
  const taskName = requireText(task.taskName, "taskName");
  const taskId = requireText(task.taskId, "taskId");
  if (!Array.isArray(task.args)) throw new TypeError("args must be an array");
  const kwargs = task.kwargs ?? {};
  const retries = task.retries ?? 0;
  if (!Number.isInteger(retries) || retries < 0) throw new TypeError("retries must be a whole number >= 0");

  // Celery's headers in Celery's order, without the ones whose value would be null (`shadow`,
  // `group`, `group_index`, `eta`/`expires`/`parent_id` when unset, `timelimit` [null, null]):
  // Celery's worker reads an absent header as null (`request_dict.get`), and RabbitMQ decodes and
  // keeps every queued message's header table in the queue process's heap. Without them a
  // 50,000-message backlog's queue heap peaked at 169 MB instead of 242 MB, and the full garbage
  // collections of that heap no longer doubled RabbitMQ's CPU a message (docs/performance.md).
  const headers: Record<string, unknown> = { lang: "py", task: taskName, id: taskId };
  if (task.shadow) headers.shadow = task.shadow;
  if (task.eta) headers.eta = task.eta;
  if (task.expires) headers.expires = task.expires;
  if (task.groupId) headers.group = task.groupId;
  // A producer may send any int; one past 32 bits as `I` made amqplib throw at publish (the copy never went).
  if (task.groupIndex !== undefined && task.groupIndex !== null) headers.group_index = pythonReadableNumber(task.groupIndex);
  headers.retries = pythonReadableNumber(retries);
  if (task.timeLimit && (task.timeLimit[0] !== null || task.timeLimit[1] !== null)) headers.timelimit = task.timeLimit.map((t) => (t === null ? null : pythonReadableNumber(t)));
  headers.root_id = task.rootId || taskId;
  if (task.parentId) headers.parent_id = task.parentId;
  headers.argsrepr = celerySaferepr(task.args, task.argsreprMaxChars ?? REPR_MAX_CHARS);
  headers.kwargsrepr = celerySaferepr(kwargs, REPR_MAX_CHARS);
  headers.origin = task.origin ?? `gen${process.pid}@matchflow`;
  headers.ignore_result = task.ignoreResult ?? false;
  if (task.body && task.bodyCompression) headers[COMPRESSION_HEADER] = task.bodyCompression;
  const content = task.body ?? Buffer.from(pythonJsonDumps([task.args, kwargs, task.embed ?? EMBED]), "utf8");
  return { content, properties: taskProperties(task, taskId, headers, options) };
}

/** AMQP properties of a task message, the same for both protocols: persistent JSON, correlation id = task id. */
function taskProperties(task: TaskInput, taskId: string, headers: Record<string, unknown>, options: EncodeOptions): MessageProperties {
  const properties: MessageProperties = {
    contentType: "application/json",
    contentEncoding: "utf-8",
    correlationId: taskId,
    deliveryMode: 2,
    priority: task.priority ?? 0,
    headers,
  };
  if (task.replyTo) properties.replyTo = task.replyTo;
  const expiration = expirationMs(task.expires, options.now ?? Date.now());
  if (expiration !== undefined) properties.expiration = expiration;
  return properties;
}

/**
 * Protocol v1: the body alone carries the task, as the seed's production scraper sent it
 * (`{"id", "task", "args", "kwargs", "retries", "eta", "expires"}`), persistent JSON.
 */
export function encodeTaskV1(task: TaskInput, options: EncodeOptions = {}): EncodedMessage {
  const taskName = requireText(task.taskName, "taskName");
  const taskId = requireText(task.taskId, "taskId");
  if (!Array.isArray(task.args)) throw new TypeError("args must be an array");
  const body = pythonJsonDumps({
    id: taskId,
    task: taskName,
    args: task.args,
    kwargs: task.kwargs ?? {},
    retries: task.retries ?? 0,
    eta: task.eta ?? null,
    expires: task.expires ?? null,
    ...v1Workflow(task.embed),
  });
  return { content: Buffer.from(body, "utf8"), properties: taskProperties(task, taskId, {}, options) };
}

/** Protocol 1's canvas fields (callbacks, errbacks, chord) from an embed, those that are set. */
function v1Workflow(embed: Record<string, unknown> | null | undefined): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  if (!embed) return fields;
  for (const part of V1_WORKFLOW_FIELDS) if (embed[part] !== undefined && embed[part] !== null) fields[part] = embed[part];
  return fields;
}

/**
 * A protocol 2 task's body to send again as it came (TaskInput.body), a compressed one still
 * compressed, with its `compression` header (the decode read it already, so it is a method we
 * read). Decompressed and re-encoded, it went back with Python's numbers changed and uncompressed.
 */
export function unchangedBody(protocol: 1 | 2, content: Buffer, headers: unknown): { body: Buffer; bodyCompression?: string } | Record<string, never> {
  if (protocol !== 2) return {};
  const compression = typeof headers === "object" && headers !== null ? (headers as Record<string, unknown>)[COMPRESSION_HEADER] : undefined;
  if (compression === undefined || compression === null) return { body: content };
  const method = typeof compression === "string" ? compression : Buffer.isBuffer(compression) ? compression.toString("utf8") : undefined;
  return method ? { body: content, bodyCompression: method } : {};
}

export function encodeTask(protocol: 1 | 2, task: TaskInput, options: EncodeOptions = {}): EncodedMessage {
  return protocol === 1 ? encodeTaskV1(task, options) : encodeTaskV2(task, options);
}
