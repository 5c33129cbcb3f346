/**
 * Turns one delivery into either a store item or a classified permanent failure:
 * decode (Celery v1/v2) -> task name -> expiry -> revoked -> eta -> arguments -> contract. Pure
 * but for the clock and the revoked ids it is given. A task with an eta is prepared whole; `dueAt` tells the worker when
 * it may run.
 */
import { decodeTask, type TaskEnvelope } from "../celery/codec.js";
import { MAX_EXTERNAL_ID_CHARS, validateForConsumer } from "../contract/index.js";
import { PermanentError, type MatchflowError } from "../errors.js";
import { MAX_JSON_DEPTH, nestsDeeperThan } from "../celery/json-depth.js";
import { parseCeleryTime } from "../celery/time.js";
import type { FailureRecord, StoreItem } from "./store.js";
import type { InboundMessage } from "./transport.js";
import { fieldText } from "../broker/field-values.js";
import { MF_HEADERS } from "../broker/headers.js";
import { textHead } from "../text-head.js";

/** How far ahead of this worker's clock another's (a producer's `scraped_at`, a worker's header) may be and still count. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;

/**
 * When a match without `scraped_at` (another producer's) was observed: when a worker first received
 * it (kept by retries, eta copies, dead letters and requeues; the first failure's time for a copy
 * from before that header), else this delivery's time. Its retry's delivery minutes later, or a
 * requeue's days later, would otherwise count as the newest observation and overwrite what newer
 * messages stored meanwhile.
 */
export function firstSeenAt(message: InboundMessage): string {
  const headers = message.properties.headers;
  for (const name of [MF_HEADERS.firstDeliveredAt, MF_HEADERS.firstFailureAt]) {
    const at = fieldText(headers?.[name]);
    if (at !== undefined && !Number.isNaN(Date.parse(at)) && Date.parse(at) <= message.receivedAt + MAX_CLOCK_SKEW_MS) return new Date(Date.parse(at)).toISOString();
  }
  return new Date(message.receivedAt).toISOString();
}

/**
 * `scraped_at` says best when the match was observed, unless it lies in the future (a producer's
 * clock off, a typo for another year): stored, it would make every real later observation
 * `stale` until someone mended the row by hand. Such a match counts as observed when first seen.
 */
function observedAtOf(scrapedAt: string | null | undefined, message: InboundMessage): string {
  if (typeof scrapedAt === "string" && Date.parse(scrapedAt) <= message.receivedAt + MAX_CLOCK_SKEW_MS) return scrapedAt;
  return firstSeenAt(message);
}

export type Prepared =
  | { ok: true; message: InboundMessage; envelope: TaskEnvelope; item: StoreItem; unknownFields: string[]; dueAt: number | undefined }
  | { ok: false; message: InboundMessage; envelope: TaskEnvelope | undefined; error: MatchflowError; failure: FailureRecord };

export interface PrepareOptions {
  taskName: string;
  maxMessageBytes: number;
  now: number;
  /** Ids `celery control revoke` flagged (CELERY_CONTROL=control). */
  isRevoked?: ((taskId: string) => boolean) | undefined;
}

/** The raw payload for `ingest_failures`: the JSON when it parses (and nests within bounds), the (bounded) text otherwise. */
function rawPayload(content: Buffer, maxBytes: number): unknown {
  const text = content.subarray(0, maxBytes).toString("utf8");
  try {
    const parsed = JSON.parse(text) as unknown;
    return nestsDeeperThan(parsed, MAX_JSON_DEPTH) ? text : parsed;
  } catch {
    return text;
  }
}

/**
 * A refused match's id as logged and recorded. It is what the producer sent, bounded only by
 * MAX_MESSAGE_BYTES: whole, a 500,000-character id made a 500 KB error log line and
 * ingest_failures value. A longer one is kept as its beginning and its length (the recorded
 * payload still holds all of it).
 */
function externalIdOf(arg: unknown): string | undefined {
  if (typeof arg === "object" && arg !== null && "external_match_id" in arg) {
    const id = (arg).external_match_id;
    if (typeof id !== "string") return undefined;
    return id.length <= MAX_EXTERNAL_ID_CHARS ? id : `${textHead(id, MAX_EXTERNAL_ID_CHARS)}… (${id.length} characters)`;
  }
  return undefined;
}

/**
 * The task id, also for a message refused before its body is decoded (a wrong content type or
 * encoding): Celery protocol 2 carries it in the `id` header, protocol 1 senders usually in the
 * correlation id. Read from the properties only, never from the refused body.
 */
export function taskIdOf(message: InboundMessage, envelope: TaskEnvelope | undefined): string | undefined {
  if (envelope) return envelope.taskId;
  const header: unknown = message.properties.headers?.id;
  if (typeof header === "string" && header !== "" && header.length <= 255) return header;
  const correlationId: unknown = message.properties.correlationId;
  return typeof correlationId === "string" && correlationId !== "" ? correlationId : undefined;
}

/** A classified permanent failure, with what `ingest_failures` records of it. */
function failed(message: InboundMessage, envelope: TaskEnvelope | undefined, error: MatchflowError, maxBytes: number, arg?: unknown): Prepared {
  return {
    ok: false,
    message,
    envelope,
    error,
    failure: {
      reasonCode: error.code,
      detail: error.message,
      taskId: taskIdOf(message, envelope),
      messageId: message.properties.messageId,
      externalMatchId: externalIdOf(arg),
      raw: arg ?? rawPayload(message.content, maxBytes),
    },
  };
}

/** Keyword arguments other than match_data (the only one the task takes). */
function hasOtherKwargs(kwargs: Record<string, unknown>): boolean {
  for (const key in kwargs) if (key !== "match_data" && Object.hasOwn(kwargs, key)) return true;
  return false;
}

/**
 * Why a task must not run because of its `expires`, if it must not. Celery's worker revokes an
 * expired task and rejects one whose `expires` it cannot read (InvalidTaskError), so neither runs;
 * an unreadable one was run here before, as if it never expired. An empty one is none (`if expires`).
 */
function expiryError(expires: string | null, now: number): PermanentError | undefined {
  if (!expires) return undefined;
  const at = parseCeleryTime(expires);
  if (at === undefined) {
    return new PermanentError("invalid_expires", `expires ${JSON.stringify(expires)} is not an ISO-8601 date and time; the producer must send one (Celery: apply_async(expires=datetime) or expires=seconds)`);
  }
  return at < now ? new PermanentError("task_expired", `task expired at ${expires}`) : undefined;
}

// Runs for every delivery: no intermediate arrays on the way to a good item, and `failed(...)`
// written out rather than a closure made per delivery (V8 kept recompiling such closures).
export function prepareMessage(message: InboundMessage, options: PrepareOptions): Prepared {
  const max = options.maxMessageBytes;
  let envelope: TaskEnvelope;
  try {
    envelope = decodeTask(message.content, message.properties, { maxBytes: max });
  } catch (err) {
    if (err instanceof PermanentError) return failed(message, undefined, err, max);
    return failed(message, undefined, new PermanentError("malformed_message", err instanceof Error ? err.message : String(err)), max);
  }
  // Before anything walks the arguments (json-depth.ts). Not in decodeTask: the dlq tools read
  // such a letter whole, and name it as one whose copy cannot be made.
  if (nestsDeeperThan(envelope.args, MAX_JSON_DEPTH) || nestsDeeperThan(envelope.kwargs, MAX_JSON_DEPTH) || nestsDeeperThan(envelope.embed, MAX_JSON_DEPTH)) {
    return failed(message, envelope, new PermanentError("malformed_message", `task arguments nest arrays or objects more than ${MAX_JSON_DEPTH} levels deep`), max, undefined);
  }

  if (envelope.taskName !== options.taskName) {
    return failed(message, envelope, new PermanentError("unknown_task", `task ${JSON.stringify(envelope.taskName)} is not handled here (this worker runs ${options.taskName})`), max);
  }
  const expiry = expiryError(envelope.expires, options.now);
  if (expiry) return failed(message, envelope, expiry, max);
  // Celery's worker discards a revoked task unrun (Request.revoked); checked at every delivery, so
  // a task held for its eta or waiting for a retry is stopped when it comes back.
  if (options.isRevoked?.(envelope.taskId)) return failed(message, envelope, new PermanentError("task_revoked", "task revoked (celery control revoke)"), max);
  // Celery rejects a task whose eta it cannot read ("Couldn't convert ETA ..."), without running it.
  // An empty eta is none, as in Celery (`if req.eta`).
  const dueAt = envelope.eta ? parseCeleryTime(envelope.eta) : undefined;
  if (envelope.eta && dueAt === undefined) {
    return failed(message, envelope, new PermanentError("invalid_eta", `eta ${JSON.stringify(envelope.eta)} is not an ISO-8601 date and time; the producer must send one (Celery: apply_async(eta=datetime) or countdown=seconds)`), max);
  }

  const kwargs = envelope.kwargs;
  if (envelope.args.length > 1 || hasOtherKwargs(kwargs) || (envelope.args.length === 1 && "match_data" in kwargs)) {
    return failed(message, envelope, new PermanentError("bad_task_arguments", "process_match_data takes exactly one argument, match_data"), max, envelope.args[0] ?? kwargs.match_data);
  }
  const arg = envelope.args.length === 1 ? envelope.args[0] : kwargs.match_data;
  if (arg === undefined) return failed(message, envelope, new PermanentError("bad_task_arguments", "process_match_data is missing its match_data argument"), max);

  const result = validateForConsumer(arg);
  if (!result.ok) return failed(message, envelope, new PermanentError(result.code, result.issues.map((i) => i.message).join("; "), { details: result.issues }), max, arg);

  return {
    ok: true,
    message,
    envelope,
    unknownFields: result.unknownFields,
    dueAt,
    item: {
      match: result.match,
      raw: arg,
      taskId: envelope.taskId,
      observedAt: observedAtOf(result.match.scraped_at, message),
      ...(message.properties.headers?.[MF_HEADERS.requeuedFrom] === undefined ? {} : { requeued: true }),
    },
  };
}
