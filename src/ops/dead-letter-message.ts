/**
 * Reading a dead letter (what failed, why, how often) and turning it back into a task for the
 * work exchange. Pure: bytes and properties in, values out.
 *
 * A dead letter is the original task message plus the worker's `x-matchflow-*` headers
 * (`worker/outgoing.ts`). Requeueing re-encodes the task with `retries` reset to 0 and no
 * `eta`, keeps the task id (so a duplicate is still the same task to the upsert), drops the
 * last failure's headers and the broker's `x-death` history but keeps the first failure time
 * and the original exchange and routing key, and marks it with `requeuedFrom`.
 * A message that does not decode as a task goes back byte for byte.
 */
import { createHash } from "node:crypto";
import type { Options } from "amqplib";
import { fitPropertiesHeaders, isTaskOrMatchflowHeader } from "../broker/fit-headers.js";
import { MF_HEADERS } from "../broker/headers.js";
import { decodeTask, ENCODED_TASK_HEADERS, encodeTask, unchangedBody, type TaskEnvelope } from "../celery/codec.js";
import { carriedTaskOptions } from "../celery/carried-options.js";
import { COMPRESSION_HEADER } from "../celery/compression.js";
import { errorMessage } from "../errors.js";
import { brokerDeathOf } from "./broker-death.js";
import { isFieldTable as isObject, plainFieldValue as plain, pythonReadableHeaders } from "../broker/field-values.js";

/** AMQP properties as amqplib hands them to `get`/`consume` (absent ones may be undefined). */
export interface DeadLetterProperties {
  contentType?: unknown;
  contentEncoding?: unknown;
  headers?: Record<string, unknown> | undefined;
  correlationId?: unknown;
  messageId?: unknown;
  replyTo?: unknown;
  deliveryMode?: unknown;
  priority?: unknown;
  timestamp?: unknown;
  type?: unknown;
  appId?: unknown;
  expiration?: unknown;
  userId?: unknown;
}

export interface DeadLetterMessage {
  content: Buffer;
  properties: DeadLetterProperties;
}

export interface DeadLetterSummary {
  taskId: string | null;
  /**
   * How `dlq show`/`dlq requeue` address a dead letter without any task id (no Celery id,
   * correlation id or message id): its body's fingerprint (`bodyRef`); null when it has an id.
   * Content-addressed, so unlike a position in the listing it still means the same message in
   * the next command, whatever others did to the queue meanwhile.
   */
  bodyRef: string | null;
  taskName: string | null;
  externalMatchId: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  attempts: number | null;
  /** When it was dead-lettered (falls back to the last failure). ISO-8601. */
  failedAt: string | null;
  firstFailedAt: string | null;
  originalExchange: string | null;
  originalRoutingKey: string | null;
  protocol: 1 | 2 | null;
  /** Why the message is not a readable task, when it is not. */
  decodeError: string | null;
  bytes: number;
  /** Quorum queues count every return, a peek included (`x-delivery-count`); null on classic queues. */
  deliveryCount: number | null;
  /** Times `dlq requeue` sent it back before (each reset its attempts): a task that keeps failing shows it. */
  requeues: number;
}

export interface DeadLetterDetail extends DeadLetterSummary {
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
  task:
    | (Pick<TaskEnvelope, "args" | "kwargs" | "retries" | "eta" | "expires" | "rootId" | "parentId"> & {
        /** Its Celery canvas (link callbacks, errbacks, chain, chord), which a requeue keeps and the worker runs; null when none. */
        canvas: Record<string, unknown> | null;
      })
    | null;
  /** The body as text when it is UTF-8, else base64 (only when the task did not decode). */
  body: { encoding: "utf8" | "base64"; text: string } | null;
}

export interface RequeueMessage {
  taskId: string | null;
  content: Buffer;
  options: Options.Publish;
  /** False when the message went back byte for byte (undecodable). */
  reencoded: boolean;
  /** Headers left out so that the message fits the connection's frame_max (also named in its `x-matchflow-dropped-headers`). */
  droppedHeaders: string[];
}

/** What a requeued message needs to be the task again, and its marker: never dropped. */
const REQUEUE_KEEP: ReadonlySet<string> = new Set(["task", "id", COMPRESSION_HEADER, MF_HEADERS.requeuedFrom, MF_HEADERS.requeues]);

/** Times the message was requeued from a dead-letter queue before (0 when it never was, or says nonsense). */
function requeuesOf(headers: Record<string, unknown>): number {
  const n = integer(headers[MF_HEADERS.requeues]);
  return n !== null && Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

/**
 * With `frameMax` (the connection's), headers are dropped, largest first, until the message fits
 * it: the rest first, then the task's own and matchflow's (see broker/fit-headers.ts).
 */
function fittedRequeue(out: Omit<RequeueMessage, "droppedHeaders">, frameMax: number | undefined): RequeueMessage {
  // Typed for py-amqp, as the worker's copies are (pythonReadableHeaders).
  const options = out.options.headers ? { ...out.options, headers: pythonReadableHeaders(out.options.headers as Record<string, unknown>) } : out.options;
  const fit = fitPropertiesHeaders(options, frameMax, { keep: (name) => REQUEUE_KEEP.has(name), protect: isTaskOrMatchflowHeader });
  return { ...out, options: fit.properties, droppedHeaders: fit.dropped };
}

function text(value: unknown): string | null {
  const v = plain(value);
  if (typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  return null;
}

function integer(value: unknown): number | null {
  const v = plain(value);
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\d+$/.test(v)) return Number(v);
  return null;
}

function headersOf(msg: DeadLetterMessage): Record<string, unknown> {
  return isObject(msg.properties.headers) ? msg.properties.headers : {};
}

function tryDecode(msg: DeadLetterMessage, maxBytes: number): { envelope: TaskEnvelope } | { error: string } {
  try {
    return { envelope: decodeTask(msg.content, msg.properties, { maxBytes }) };
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

function matchArg(envelope: TaskEnvelope): unknown {
  return envelope.args.length > 0 ? envelope.args[0] : envelope.kwargs.match_data;
}

function externalIdOf(arg: unknown): string | null {
  return isObject(arg) && typeof arg.external_match_id === "string" ? arg.external_match_id : null;
}

/** `sha256:` and the first 16 hex digits of the body's SHA-256 (identical bodies share it, harmlessly). */
export function bodyRef(content: Buffer): string {
  return `sha256:${createHash("sha256").update(content).digest("hex").slice(0, 16)}`;
}

/** What `dlq show`/`dlq requeue` match a dead letter by: its task id, else its body reference. */
export function deadLetterKey(taskId: string | null, content: Buffer): string {
  return taskId ?? bodyRef(content);
}

/** Task id even of an undecodable message: the Celery header, then correlation id, then message id. */
function fallbackTaskId(msg: DeadLetterMessage): string | null {
  return text(headersOf(msg).id) ?? text(msg.properties.correlationId) ?? text(msg.properties.messageId);
}

/**
 * The key `dlq show`/`dlq requeue <ids>` match a dead letter by, as `summariseDeadLetter` and
 * `buildRequeueMessage` derive its task id, with one decode: they scan the whole queue, and
 * describing or re-encoding every letter just to compare its id cost three decodes each.
 */
export function deadLetterKeyOf(msg: DeadLetterMessage, maxBytes: number): string {
  const decoded = tryDecode(msg, maxBytes);
  return deadLetterKey("envelope" in decoded ? decoded.envelope.taskId : fallbackTaskId(msg), msg.content);
}

/** The error code `dlq list` shows for a dead letter (the worker's, else the broker's own reason), without decoding it. */
export function deadLetterCode(msg: DeadLetterMessage): string | null {
  const h = headersOf(msg);
  return text(h[MF_HEADERS.errorCode]) ?? brokerDeathOf(h)?.code ?? null;
}

export function summariseDeadLetter(msg: DeadLetterMessage, maxBytes: number): DeadLetterSummary {
  const h = headersOf(msg);
  const decoded = tryDecode(msg, maxBytes);
  const envelope = "envelope" in decoded ? decoded.envelope : undefined;
  const taskId = envelope?.taskId ?? fallbackTaskId(msg);
  const summary: DeadLetterSummary = {
    taskId,
    bodyRef: taskId === null ? bodyRef(msg.content) : null,
    taskName: envelope?.taskName ?? text(h.task),
    externalMatchId: envelope ? externalIdOf(matchArg(envelope)) : null,
    errorCode: text(h[MF_HEADERS.errorCode]),
    errorMessage: text(h[MF_HEADERS.errorMessage]),
    attempts: integer(h[MF_HEADERS.attempts]),
    failedAt: text(h[MF_HEADERS.deadLetteredAt]) ?? text(h[MF_HEADERS.lastFailureAt]),
    firstFailedAt: text(h[MF_HEADERS.firstFailureAt]),
    originalExchange: text(h[MF_HEADERS.originalExchange]),
    originalRoutingKey: text(h[MF_HEADERS.originalRoutingKey]),
    protocol: envelope?.protocol ?? null,
    decodeError: "error" in decoded ? decoded.error : null,
    bytes: msg.content.length,
    deliveryCount: integer(h["x-delivery-count"]),
    requeues: requeuesOf(h),
  };
  return summary.errorCode === null ? withBrokerDeath(summary, h) : summary;
}

/** No worker's failure headers: the broker dead-lettered it itself (broker-death.ts), if it says why. */
function withBrokerDeath(summary: DeadLetterSummary, headers: Record<string, unknown>): DeadLetterSummary {
  const death = brokerDeathOf(headers);
  if (!death) return summary;
  return { ...summary, errorCode: death.code, errorMessage: death.message, attempts: summary.attempts ?? death.attempts, failedAt: summary.failedAt ?? death.at };
}

function bodyOf(content: Buffer): { encoding: "utf8" | "base64"; text: string } {
  try {
    return { encoding: "utf8", text: new TextDecoder("utf-8", { fatal: true }).decode(content) };
  } catch {
    return { encoding: "base64", text: content.toString("base64") };
  }
}

/** Everything about one dead letter, for `dlq show`. */
export function describeDeadLetter(msg: DeadLetterMessage, maxBytes: number): DeadLetterDetail {
  const summary = summariseDeadLetter(msg, maxBytes);
  const decoded = tryDecode(msg, maxBytes);
  const properties: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(msg.properties)) {
    if (key !== "headers" && value !== undefined) properties[key] = value;
  }
  const headers = Object.fromEntries(Object.entries(headersOf(msg)).map(([k, v]) => [k, plain(v)]));
  if (!("envelope" in decoded)) return { ...summary, headers, properties, task: null, body: bodyOf(msg.content) };
  const e = decoded.envelope;
  return {
    ...summary,
    headers,
    properties,
    task: { args: e.args, kwargs: e.kwargs, retries: e.retries, eta: e.eta, expires: e.expires, rootId: e.rootId, parentId: e.parentId, canvas: e.workflow.length > 0 ? e.embed : null },
    body: null,
  };
}

/**
 * The message's history across requeues: kept, so that the worker (which keeps these when they
 * are present, on a retry and on a dead letter alike) reports the first failure, where the
 * task was first published and which headers a copy had to leave out even after it failed again.
 */
const HISTORY_HEADERS: ReadonlySet<string> = new Set([MF_HEADERS.firstFailureAt, MF_HEADERS.firstDeliveredAt, MF_HEADERS.originalExchange, MF_HEADERS.originalRoutingKey, MF_HEADERS.droppedHeaders]);

/** Headers that describe the last failed life of the message, not the task: dropped on requeue. */
function isFailureHeader(name: string): boolean {
  if (HISTORY_HEADERS.has(name)) return false;
  return name.startsWith("x-matchflow-") || name === "x-death" || name === "x-delivery-count" || /^x-(first|last)-death-/.test(name);
}

function keptHeaders(msg: DeadLetterMessage, replaced: ReadonlySet<string> = new Set()): Record<string, unknown> {
  return Object.fromEntries(Object.entries(headersOf(msg)).filter(([name]) => !isFailureHeader(name) && !replaced.has(name)));
}

/** A re-encoded task's own headers, and `compression`: the encoding sets it again when the body is sent as it came. */
const REPLACED_BY_REENCODING: ReadonlySet<string> = new Set([...ENCODED_TASK_HEADERS, COMPRESSION_HEADER]);

/** Properties worth carrying over as they were (the codec sets the Celery ones). */
function carriedProperties(p: DeadLetterProperties): Options.Publish {
  const out: Options.Publish = {};
  if (typeof p.messageId === "string") out.messageId = p.messageId;
  if (typeof p.timestamp === "number") out.timestamp = p.timestamp;
  if (typeof p.type === "string") out.type = p.type;
  if (typeof p.appId === "string") out.appId = p.appId;
  return out;
}

/**
 * The message to publish to the work exchange for one dead letter. `expiration` is never set:
 * the work queue has no dead-letter exchange, so a message expiring there would vanish; an
 * expired task instead reaches the worker, which dead-letters it again with `task_expired`.
 * `userId` is dropped too: the broker refuses a publish whose user-id is not the publisher's.
 */
export function buildRequeueMessage(msg: DeadLetterMessage, options: { deadLetterQueue: string; maxBytes: number; frameMax?: number | undefined }): RequeueMessage {
  const decoded = tryDecode(msg, options.maxBytes);
  const marker = { [MF_HEADERS.requeuedFrom]: options.deadLetterQueue, [MF_HEADERS.requeues]: requeuesOf(headersOf(msg)) + 1 };
  if (!("envelope" in decoded)) {
    const p = msg.properties;
    const publish: Options.Publish = { ...carriedProperties(p), headers: { ...keptHeaders(msg), ...marker }, deliveryMode: 2 };
    if (typeof p.contentType === "string") publish.contentType = p.contentType;
    if (typeof p.contentEncoding === "string") publish.contentEncoding = p.contentEncoding;
    if (typeof p.correlationId === "string") publish.correlationId = p.correlationId;
    if (typeof p.replyTo === "string") publish.replyTo = p.replyTo;
    if (typeof p.priority === "number") publish.priority = p.priority;
    return fittedRequeue({ taskId: fallbackTaskId(msg), content: msg.content, options: publish, reencoded: false }, options.frameMax);
  }
  const e = decoded.envelope;
  const origin = text(e.headers.origin);
  const encoded = encodeTask(e.protocol, {
    taskName: e.taskName,
    taskId: e.taskId,
    args: e.args,
    kwargs: e.kwargs,
    retries: 0,
    eta: null,
    expires: e.expires,
    rootId: e.rootId,
    parentId: e.parentId,
    ...(e.replyTo ? { replyTo: e.replyTo } : {}),
    ...(origin ? { origin } : {}),
    embed: e.embed,
    ...carriedTaskOptions(e, msg.properties.priority),
    ...unchangedBody(e.protocol, msg.content, msg.properties.headers),
  });
  const { expiration: _dropped, headers: encodedHeaders, ...properties } = encoded.properties;
  return fittedRequeue({
    taskId: e.taskId,
    content: encoded.content,
    // The task's own headers come from the new encoding alone: one the encoding leaves out (an eta
    // when requeued) must not survive from the dead letter.
    options: { ...carriedProperties(msg.properties), ...properties, headers: { ...keptHeaders(msg, REPLACED_BY_REENCODING), ...encodedHeaders, ...marker } },
    reencoded: true,
  }, options.frameMax);
}
