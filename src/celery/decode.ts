/**
 * Reading a Celery task message (protocol v2 by its `task` header, otherwise v1 from the body)
 * into one typed envelope. Pure. Everything that is not a well-formed JSON task is refused with
 * a PermanentError whose `code` is stable: the worker dead-letters those at once, since no retry
 * can make a malformed message well-formed. Other content types are never deserialised. A body
 * Celery compressed (`compression` header) is decompressed first, within the same size bound.
 */
import { PermanentError } from "../errors.js";
import { COMPRESSION_HEADER, decompressBody } from "./compression.js";
import { parseKeepingNumbers } from "./json-number.js";
import { parsePythonJson, untagged } from "./python-json.js";

export interface TaskEnvelope {
  protocol: 1 | 2;
  taskName: string;
  taskId: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  retries: number;
  eta: string | null;
  expires: string | null;
  rootId: string | null;
  parentId: string | null;
  replyTo: string | null;
  correlationId: string | null;
  /** AMQP headers with amqplib's typed `{"!": type, value}` wrappers unwrapped. */
  headers: Record<string, unknown>;
  /**
   * Celery canvas parts the message carries (link callbacks and errbacks, the rest of a chain,
   * a chord), which matchflow does not run: the worker says so instead of dropping them silently.
   */
  workflow: readonly WorkflowPart[];
  /**
   * The canvas as received, to be sent on with a retry or a requeue (Celery's own retry keeps
   * it): protocol 2's embed mapping, or protocol 1's `callbacks`/`errbacks`/`chord` body fields;
   * null when the task carries none.
   */
  embed: Record<string, unknown> | null;
}

export const WORKFLOW_PARTS = ["callbacks", "errbacks", "chain", "chord"] as const;
export type WorkflowPart = (typeof WORKFLOW_PARTS)[number];
const NO_WORKFLOW: readonly WorkflowPart[] = Object.freeze([]);

/** The parts present and not empty (Celery sends `null` for an absent one; v1 has no `chain`). */
function workflowOf(holder: Record<string, unknown> | null | undefined): readonly WorkflowPart[] {
  if (!holder) return NO_WORKFLOW;
  let parts: WorkflowPart[] | undefined;
  for (const part of WORKFLOW_PARTS) {
    const value = holder[part];
    if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) continue;
    (parts ??= []).push(part);
  }
  return parts ?? NO_WORKFLOW;
}

/** The subset of AMQP properties decoding looks at (amqplib's `MessageProperties` fits). */
export interface IncomingProperties {
  contentType?: unknown;
  contentEncoding?: unknown;
  headers?: unknown;
  correlationId?: unknown;
  replyTo?: unknown;
}

export interface DecodeOptions {
  /** Bodies above this size are refused before parsing (config `maxMessageBytes`). */
  maxBytes: number;
}

export type DecodeErrorCode =
  | "unsupported_content_type"
  | "unsupported_compression"
  | "message_too_large"
  | "malformed_json"
  | "malformed_message"
  | "missing_task_name"
  | "missing_task_id"
  | "invalid_task_id";

/**
 * AMQP carries a task's id as its correlation id, a short string of at most 255 bytes: Celery's
 * are 36-character UUIDs and no Celery producer can send a longer one. Nothing else bounded it (a
 * protocol 1 body carries the id): such a task could not be retried or answered (amqplib refuses
 * the copy's correlation id, so the copy was never sent and the task went round unacked).
 */
export const MAX_TASK_ID_BYTES = 255;

/** A task id as a task message may carry one: a non-blank string of at most MAX_TASK_ID_BYTES (revoke's ids are held to it too). */
export function isTaskId(value: unknown): boolean {
  return typeof value === "string" && value.trim() !== "" && Buffer.byteLength(value, "utf8") <= MAX_TASK_ID_BYTES;
}

function refuse(code: DecodeErrorCode, message: string, cause?: unknown): PermanentError {
  return new PermanentError(code, message, cause === undefined ? undefined : { cause });
}

/** A JSON object (a mapping), not an array. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * amqplib decodes some AMQP types as `{"!": "timestamp", value}`; the rest of us want values.
 * Hot path (every delivery's header table): copy-on-write, so a table without wrapped values
 * (Celery's own, always) is returned as it is instead of being copied for every delivery.
 */
function unwrap(value: unknown): unknown {
  if (value === null || typeof value !== "object" || Buffer.isBuffer(value) || value instanceof Date) return value;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const plain = unwrap(item);
      if (plain !== item) (out ??= value.slice())[i] = plain;
    }
    return out ?? value;
  }
  const record = value as Record<string, unknown>;
  if (typeof record["!"] === "string" && "value" in record) return record.value;
  let out: Record<string, unknown> | undefined;
  for (const key in record) {
    if (!Object.hasOwn(record, key)) continue;
    const item = record[key];
    const plain = unwrap(item);
    if (plain !== item) (out ??= { ...record })[key] = plain;
  }
  return out ?? record;
}

function checkContent(properties: IncomingProperties): void {
  const type = typeof properties.contentType === "string" ? properties.contentType.split(";")[0]?.trim().toLowerCase() : undefined;
  if (type !== "application/json") {
    throw refuse("unsupported_content_type", `content type ${JSON.stringify(properties.contentType ?? null)} is not supported (only application/json)`);
  }
  // The content encoding is not looked at: JSON is UTF-8 (RFC 8259), and kombu reads a JSON body
  // as UTF-8 whatever it says (it sets "binary" itself for a body published as bytes).
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function bodyText(content: Buffer): string {
  try {
    return utf8.decode(content);
  } catch (err) {
    throw refuse("malformed_json", "message body is not valid UTF-8", err);
  }
}

function parseBody(text: string): { value: unknown; text: string } {
  try {
    return parsePythonJson(text);
  } catch (err) {
    throw refuse("malformed_json", `message body is not valid JSON (${(err as Error).message})`, err);
  }
}

function optionalString(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== "string") throw refuse("malformed_message", `${field} must be a string or null`);
  return value;
}

function retriesOf(value: unknown): number {
  if (value === undefined || value === null) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw refuse("malformed_message", "retries must be a whole number >= 0");
  return value;
}

function argsOf(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw refuse("malformed_message", "task args must be a list");
  return value;
}

function kwargsOf(value: unknown): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw refuse("malformed_message", "task kwargs must be a mapping");
  return value;
}

function nameAndId(name: unknown, id: unknown): { taskName: string; taskId: string } {
  if (typeof name !== "string" || name.trim() === "") throw refuse("missing_task_name", "message has no task name");
  if (typeof id !== "string" || id.trim() === "") throw refuse("missing_task_id", "message has no task id");
  const bytes = Buffer.byteLength(id, "utf8");
  if (bytes > MAX_TASK_ID_BYTES) throw refuse("invalid_task_id", `task id is ${bytes} bytes, over the ${MAX_TASK_ID_BYTES} an AMQP correlation id holds (Celery's are 36-character UUIDs)`);
  return { taskName: name, taskId: id };
}

function decodeV2(body: unknown, headers: Record<string, unknown>, properties: IncomingProperties): TaskEnvelope {
  const { taskName, taskId } = nameAndId(headers.task, headers.id);
  // Celery unpacks `args, kwargs, embed = body`; we accept the embed missing, nothing else.
  if (!Array.isArray(body) || body.length < 2 || body.length > 3) {
    throw refuse("malformed_message", "a protocol 2 body must be a list [args, kwargs, embed]");
  }
  const embed: unknown = body[2];
  if (embed !== undefined && embed !== null && !isObject(embed)) throw refuse("malformed_message", "the embed (third body item) must be a mapping");
  return {
    protocol: 2,
    taskName,
    taskId,
    args: argsOf(body[0]),
    kwargs: kwargsOf(body[1]),
    retries: retriesOf(headers.retries),
    eta: optionalString(headers.eta, "eta"),
    expires: optionalString(headers.expires, "expires"),
    rootId: optionalString(headers.root_id, "root_id"),
    parentId: optionalString(headers.parent_id, "parent_id"),
    replyTo: optionalString(properties.replyTo, "reply_to") || null,
    correlationId: optionalString(properties.correlationId, "correlation_id"),
    headers,
    workflow: workflowOf(embed),
    embed: isObject(embed) ? embed : null,
  };
}

/** Protocol 1 carries its canvas in the body: the fields Celery's v1 message had for it, when set. */
function v1Embed(body: Record<string, unknown>): Record<string, unknown> | null {
  let embed: Record<string, unknown> | null = null;
  for (const part of V1_WORKFLOW_FIELDS) {
    const value = body[part];
    if (value !== undefined && value !== null) (embed ??= {})[part] = value;
  }
  return embed;
}

/** Protocol 1 has no `chain`: Celery 3 sent a chain's next step as a link callback. */
export const V1_WORKFLOW_FIELDS = ["callbacks", "errbacks", "chord"] as const;

function decodeV1(body: unknown, headers: Record<string, unknown>, properties: IncomingProperties): TaskEnvelope {
  if (!isObject(body)) throw refuse("malformed_message", "a protocol 1 body must be a mapping with task, id, args and kwargs");
  const { taskName, taskId } = nameAndId(body.task, body.id);
  return {
    protocol: 1,
    taskName,
    taskId,
    args: argsOf(body.args),
    kwargs: kwargsOf(body.kwargs),
    retries: retriesOf(body.retries),
    eta: optionalString(body.eta, "eta"),
    expires: optionalString(body.expires, "expires"),
    rootId: null,
    parentId: null,
    replyTo: optionalString(properties.replyTo, "reply_to") || null,
    correlationId: optionalString(properties.correlationId, "correlation_id"),
    headers,
    workflow: workflowOf(body),
    embed: v1Embed(body),
  };
}

/** The protocol 1 body fields a protocol 2 header of the same name replaces in a hybrid message. */
const HYBRID_HEADER_FIELDS = ["task", "id", "retries", "eta", "expires", "root_id", "parent_id"] as const;

/**
 * A "hybrid" message: a protocol 2 `task` header over a protocol 1 body (a mapping with `args`),
 * which some hand-rolled producers send. Celery's worker runs it (`hybrid_to_proto2`: the body's
 * fields, the headers winning); it was refused as malformed. Read as protocol 1, so a retry or
 * requeue is a plain protocol 1 message (the encoder writes no stale header over its body).
 */
function decodeHybrid(body: Record<string, unknown>, headers: Record<string, unknown>, properties: IncomingProperties): TaskEnvelope {
  const merged: Record<string, unknown> = { ...body };
  for (const field of HYBRID_HEADER_FIELDS) if (headers[field] !== undefined && headers[field] !== null) merged[field] = headers[field];
  const envelope = decodeV1(merged, headers, properties);
  envelope.rootId = optionalString(merged.root_id, "root_id");
  envelope.parentId = optionalString(merged.parent_id, "parent_id");
  return envelope;
}

/** Decodes one delivery; throws PermanentError (codes: DecodeErrorCode) for anything unusable. */
export function decodeTask(content: Buffer, properties: IncomingProperties, options: DecodeOptions): TaskEnvelope {
  if (content.length > options.maxBytes) {
    throw refuse("message_too_large", `message body is ${content.length} bytes, over the ${options.maxBytes}-byte limit`);
  }
  checkContent(properties);
  const rawHeaders = properties.headers ?? {};
  if (!isObject(rawHeaders)) throw refuse("malformed_message", "message headers must be a table");
  const headers = unwrap(rawHeaders) as Record<string, unknown>;
  const compression = headers[COMPRESSION_HEADER];
  const { value: body, text } = parseBody(bodyText(compression === undefined || compression === null ? content : decompressBody(content, compression, options.maxBytes)));
  const envelope = !("task" in headers && headers.task !== undefined) ? decodeV1(body, headers, properties) : isObject(body) && "args" in body ? decodeHybrid(body, headers, properties) : decodeV2(body, headers, properties);
  // kombu >= 5.3's tagged datetimes, decimals, ...: the task gets their text (python-json.ts).
  if (text.includes('"__type__"')) {
    envelope.args = untagged(envelope.args) as unknown[];
    envelope.kwargs = untagged(envelope.kwargs) as Record<string, unknown>;
  }
  if (envelope.workflow.length > 0) envelope.embed = embedKeepingNumbers(envelope, text, body) ?? envelope.embed;
  return envelope;
}

/** The canvas read again with its numbers as they were written (json-number.ts): it is sent on. */
function embedKeepingNumbers(envelope: TaskEnvelope, text: string, body: unknown): Record<string, unknown> | null | undefined {
  const kept = parseKeepingNumbers(text, body);
  if (envelope.protocol === 1) return isObject(kept) ? v1Embed(kept) : undefined;
  return Array.isArray(kept) && isObject(kept[2]) ? kept[2] : undefined;
}
