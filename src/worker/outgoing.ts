/**
 * The messages the worker sends on a failure: the Celery-style retry (same task id,
 * `retries + 1`, `eta`) and the dead letter (original body and properties plus error headers).
 * Pure: time and the connection's frame_max are given.
 *
 * Both are made to fit the frame_max (broker/fit-headers.ts): a dead letter is its original's
 * headers plus ~0.5-2.5 KB of failure headers, so an original near the cap would not fit and the
 * broker would close the worker's connection. Headers that are not the task's own nor matchflow's
 * go first, largest first; their names are recorded in `x-matchflow-dropped-headers`. A retry
 * carries only the task's own headers, re-encoded, and matchflow's: it fits unless a producer sent
 * outsized task headers (ids, names), and then loses argsrepr/kwargsrepr and history first.
 */
import { fieldText, pythonReadableHeaders } from "../broker/field-values.js";
import { carriedTaskOptions } from "../celery/carried-options.js";
import { encodeTaskV1, encodeTaskV2, unchangedBody, type TaskEnvelope } from "../celery/codec.js";
import { COMPRESSION_HEADER } from "../celery/compression.js";
import { pythonUtcIsoformat } from "../celery/python-text.js";
import { fitPropertiesHeaders, isTaskOrMatchflowHeader } from "../broker/fit-headers.js";
import { MAX_ERROR_HEADER_CHARS, MF_HEADERS } from "../broker/headers.js";
import type { MatchflowError } from "../errors.js";
import { firstSeenAt } from "./prepare.js";
import type { InboundMessage, OutgoingMessage } from "./transport.js";

function headerText(value: string): string {
  return value.length > MAX_ERROR_HEADER_CHARS ? `${value.slice(0, MAX_ERROR_HEADER_CHARS - 1)}…` : value;
}

function previousHeader(message: InboundMessage, name: string): unknown {
  return message.properties.headers?.[name];
}

/** A header as text (amqplib may hand long strings over as Buffers), else `fallback`. */
function headerString(value: unknown, fallback: string): string {
  return fieldText(value) ?? fallback;
}

/** A copy to publish, and the headers left out of it to fit the frame (empty when none were). */
export interface FittedMessage extends OutgoingMessage {
  droppedHeaders: string[];
}

/** The headers of a dead letter that say why it is one, and what its body needs to be read: never dropped. */
const DEAD_LETTER_KEEP: ReadonlySet<string> = new Set([COMPRESSION_HEADER, MF_HEADERS.errorCode, MF_HEADERS.errorMessage, MF_HEADERS.attempts, MF_HEADERS.lastFailureAt, MF_HEADERS.deadLetteredAt]);
/** What a retry needs to be the same task again, and the failure it reports. */
const RETRY_KEEP: ReadonlySet<string> = new Set(["task", "id", "retries", "eta", "expires", COMPRESSION_HEADER, MF_HEADERS.firstDeliveredAt, MF_HEADERS.errorCode, MF_HEADERS.errorMessage, MF_HEADERS.attempts, MF_HEADERS.lastFailureAt, MF_HEADERS.requeues]);
const RETRY_PROTECT: ReadonlySet<string> = new Set(["lang", "root_id", "parent_id", "origin", "ignore_result"]);

function fitted(message: OutgoingMessage, frameMax: number | undefined, keep: (name: string) => boolean, protect: (name: string) => boolean, sent: OutgoingMessage["properties"]): FittedMessage {
  // Typed for py-amqp: a Celery worker or tool may read the copy (pythonReadableHeaders).
  const { headers } = message.properties;
  const typed = headers ? { ...message.properties, headers: pythonReadableHeaders(headers) } : message.properties;
  const fit = fitPropertiesHeaders(typed, frameMax, { keep, protect }, sent);
  return { content: message.content, properties: fit.properties, droppedHeaders: fit.dropped };
}

/**
 * `frameMax`: the connection's negotiated frame_max, to fit the copy into; undefined for a
 * transport without frames (the in-process one).
 */
export function buildRetryMessage(envelope: TaskEnvelope, message: InboundMessage, error: MatchflowError, attempt: number, delayMs: number, now: number, frameMax?: number): FittedMessage {
  const eta = pythonUtcIsoformat(now + delayMs);
  const task = {
    taskName: envelope.taskName,
    taskId: envelope.taskId,
    args: envelope.args,
    kwargs: envelope.kwargs,
    retries: attempt,
    eta,
    expires: envelope.expires,
    rootId: envelope.rootId ?? envelope.taskId,
    parentId: envelope.parentId,
    replyTo: envelope.replyTo ?? undefined,
    // Celery's own retry keeps the canvas: the callbacks and the chain run once the task succeeds.
    embed: envelope.embed,
    ...carriedTaskOptions(envelope, message.properties.priority),
    ...unchangedBody(envelope.protocol, message.content, message.properties.headers),
  };
  const encoded = envelope.protocol === 1 ? encodeTaskV1(task) : encodeTaskV2(task);
  const firstFailure = headerString(previousHeader(message, MF_HEADERS.firstFailureAt), "");
  const nowIso = new Date(now).toISOString();
  const dropped = headerString(previousHeader(message, MF_HEADERS.droppedHeaders), "");
  // A requeued task's requeue history goes on with it (a dead letter keeps every header anyway).
  const requeues = previousHeader(message, MF_HEADERS.requeues);
  const requeuedFrom = headerString(previousHeader(message, MF_HEADERS.requeuedFrom), "");
  const retry: OutgoingMessage = {
    content: encoded.content,
    properties: {
      ...encoded.properties,
      headers: {
        ...(encoded.properties.headers ?? {}),
        [MF_HEADERS.firstFailureAt]: firstFailure || nowIso,
        [MF_HEADERS.firstDeliveredAt]: firstSeenAt(message),
        [MF_HEADERS.lastFailureAt]: nowIso,
        [MF_HEADERS.errorCode]: error.code,
        [MF_HEADERS.errorMessage]: headerText(error.message),
        [MF_HEADERS.attempts]: attempt,
        [MF_HEADERS.originalExchange]: headerString(previousHeader(message, MF_HEADERS.originalExchange), message.exchange),
        [MF_HEADERS.originalRoutingKey]: headerString(previousHeader(message, MF_HEADERS.originalRoutingKey), message.routingKey),
        ...(dropped ? { [MF_HEADERS.droppedHeaders]: dropped } : {}),
        ...(typeof requeues === "number" ? { [MF_HEADERS.requeues]: requeues } : {}),
        ...(requeuedFrom ? { [MF_HEADERS.requeuedFrom]: requeuedFrom } : {}),
      },
    },
  };
  // As the transport sends it: with a per-message expiration (within the margin).
  return fitted(retry, frameMax, (name) => RETRY_KEEP.has(name), (name) => RETRY_PROTECT.has(name), retry.properties);
}

/**
 * The copy of a task whose eta is not due, for an eta delay queue: the original unchanged, unless
 * its headers no longer fit (the broker adds `x-death` each time a delay queue hands it back, so an
 * original near the cap can outgrow it): then foreign headers go as for a dead letter.
 */
export function buildEtaCopy(message: InboundMessage, frameMax?: number): FittedMessage {
  const headers = { ...message.properties.headers, [MF_HEADERS.firstDeliveredAt]: firstSeenAt(message) };
  const copy: OutgoingMessage = { content: message.content, properties: { ...message.properties, headers } };
  return fitted(copy, frameMax, (name) => name === COMPRESSION_HEADER, isTaskOrMatchflowHeader, { ...message.properties, expiration: undefined });
}

/** `attempts` = deliveries that failed (1 for a permanent failure on first delivery). `frameMax`: see buildRetryMessage. */
export function buildDeadLetter(message: InboundMessage, error: MatchflowError, attempts: number, now: number, frameMax?: number): FittedMessage {
  const nowIso = new Date(now).toISOString();
  const headers = message.properties.headers ?? {};
  const firstFailure = headerString(headers[MF_HEADERS.firstFailureAt], "");
  const deadLetter: OutgoingMessage = {
    content: message.content,
    properties: {
      ...message.properties,
      headers: {
        ...headers,
        [MF_HEADERS.errorCode]: error.code,
        [MF_HEADERS.errorMessage]: headerText(error.message),
        [MF_HEADERS.attempts]: attempts,
        [MF_HEADERS.firstFailureAt]: firstFailure || nowIso,
        [MF_HEADERS.firstDeliveredAt]: firstSeenAt(message),
        [MF_HEADERS.lastFailureAt]: nowIso,
        [MF_HEADERS.deadLetteredAt]: nowIso,
        [MF_HEADERS.originalExchange]: headerString(headers[MF_HEADERS.originalExchange], message.exchange),
        [MF_HEADERS.originalRoutingKey]: headerString(headers[MF_HEADERS.originalRoutingKey], message.routingKey),
      },
    },
  };
  // As the transport sends it: persistent, without expiration.
  return fitted(deadLetter, frameMax, (name) => DEAD_LETTER_KEEP.has(name), isTaskOrMatchflowHeader, { ...deadLetter.properties, expiration: undefined, deliveryMode: 2 });
}
