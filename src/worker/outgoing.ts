/**
 * The messages the worker sends on a failure: the Celery-style retry (same task id,
 * `retries + 1`, `eta`) and the dead letter (original body and properties plus error headers).
 * Pure: time is given.
 */
import { encodeTaskV1, encodeTaskV2, type TaskEnvelope } from "../celery/codec.js";
import { MAX_ERROR_HEADER_CHARS, MF_HEADERS } from "../broker/headers.js";
import type { MatchflowError } from "../errors.js";
import type { InboundMessage, OutgoingMessage } from "./transport.js";

function headerText(value: string): string {
  return value.length > MAX_ERROR_HEADER_CHARS ? `${value.slice(0, MAX_ERROR_HEADER_CHARS - 1)}…` : value;
}

function previousHeader(message: InboundMessage, name: string): unknown {
  return message.properties.headers?.[name];
}

/** A header as text: amqplib may hand long strings over as Buffers. */
function headerString(value: unknown, fallback: string): string {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value)) return value.toString("utf8");
  return fallback;
}

export function buildRetryMessage(envelope: TaskEnvelope, message: InboundMessage, error: MatchflowError, attempt: number, delayMs: number, now: number): OutgoingMessage {
  const eta = new Date(now + delayMs).toISOString();
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
  };
  const encoded = envelope.protocol === 1 ? encodeTaskV1(task) : encodeTaskV2(task);
  const firstFailure = headerString(previousHeader(message, MF_HEADERS.firstFailureAt), "");
  const nowIso = new Date(now).toISOString();
  return {
    content: encoded.content,
    properties: {
      ...encoded.properties,
      headers: {
        ...(encoded.properties.headers ?? {}),
        [MF_HEADERS.firstFailureAt]: firstFailure || nowIso,
        [MF_HEADERS.lastFailureAt]: nowIso,
        [MF_HEADERS.errorCode]: error.code,
        [MF_HEADERS.errorMessage]: headerText(error.message),
        [MF_HEADERS.attempts]: attempt,
        [MF_HEADERS.originalExchange]: headerString(previousHeader(message, MF_HEADERS.originalExchange), message.exchange),
        [MF_HEADERS.originalRoutingKey]: headerString(previousHeader(message, MF_HEADERS.originalRoutingKey), message.routingKey),
      },
    },
  };
}

/** `attempts` = deliveries that failed (1 for a permanent failure on first delivery). */
export function buildDeadLetter(message: InboundMessage, error: MatchflowError, attempts: number, now: number): OutgoingMessage {
  const nowIso = new Date(now).toISOString();
  const headers = message.properties.headers ?? {};
  const firstFailure = headerString(headers[MF_HEADERS.firstFailureAt], "");
  return {
    content: message.content,
    properties: {
      ...message.properties,
      headers: {
        ...headers,
        [MF_HEADERS.errorCode]: error.code,
        [MF_HEADERS.errorMessage]: headerText(error.message),
        [MF_HEADERS.attempts]: attempts,
        [MF_HEADERS.firstFailureAt]: firstFailure || nowIso,
        [MF_HEADERS.lastFailureAt]: nowIso,
        [MF_HEADERS.deadLetteredAt]: nowIso,
        [MF_HEADERS.originalExchange]: headerString(headers[MF_HEADERS.originalExchange], message.exchange),
        [MF_HEADERS.originalRoutingKey]: headerString(headers[MF_HEADERS.originalRoutingKey], message.routingKey),
      },
    },
  };
}
