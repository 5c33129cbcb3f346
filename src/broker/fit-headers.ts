/**
 * Making a copy the worker (or `dlq requeue`) publishes fit the connection's frame_max: a content
 * header frame larger than frame_max makes RabbitMQ close the whole connection (501 FRAME_ERROR),
 * every unacked delivery is redelivered, and the same copy fails again: a loop. Headers are
 * dropped, largest first, until the table fits its budget; the names dropped are recorded in the
 * `x-matchflow-dropped-headers` header. The body is never touched. Pure.
 */
import { AMQPLIB_MAX_TABLE_BYTES, CONTENT_HEADER_FRAME_OVERHEAD, fieldEntryBytes, fieldTableBytes, otherPropertiesBytes, type FramedProperties } from "./field-table-size.js";
import { fieldText } from "./field-values.js";
import { MF_HEADERS } from "./headers.js";
import { ENCODED_TASK_HEADERS } from "../celery/codec.js";
import { COMPRESSION_HEADER } from "../celery/compression.js";

/**
 * The frame_max assumed when the connection's negotiated one is unknown (no connection at the
 * time): the cap of the deployed broker (deploy/k8s/base/rabbitmq/rabbitmq.conf `frame_max`).
 */
export const DEPLOYED_FRAME_MAX = 16384;

/**
 * Bytes kept free besides the properties counted: one short-string property a transport may still
 * add (the retry's `expiration`, 1 + up to 255 bytes).
 */
export const HEADER_MARGIN_BYTES = 256;

/** The longest `x-matchflow-dropped-headers` value (characters); more names are counted, not listed. */
export const MAX_DROPPED_LIST_CHARS = 1000;

/**
 * How many bytes the header table of a message with these other properties may take on a
 * connection with this frame_max: the frame (whose size, per AMQP, includes its 8 bytes of
 * header and end) minus the other properties and a margin, and never more than amqplib's
 * 64 KiB encoding buffer.
 */
export function headerTableBudget(frameMax: number, properties: FramedProperties): number {
  const frame = frameMax > 0 ? frameMax : Number.MAX_SAFE_INTEGER;
  return Math.min(AMQPLIB_MAX_TABLE_BYTES, frame - CONTENT_HEADER_FRAME_OVERHEAD - otherPropertiesBytes({ ...properties, headers: undefined }) - HEADER_MARGIN_BYTES);
}

/** UTF-8 bytes a character of `argsrepr` may take: saferepr's budget counts code points. */
const ARGSREPR_BYTES_PER_CHAR = 4;
/** What saferepr writes past its budget: `, ...` and up to three levels of closing brackets. */
const ARGSREPR_TAIL_CHARS = 16;

/**
 * The `argsrepr` budget (characters) a published task may use on a connection with this
 * frame_max, when the rest of its content header frame takes `otherFrameBytes`: the configured
 * one, or less when its worst case (4 bytes a character) would not fit. A header frame over
 * frame_max makes RabbitMQ close the connection (FRAME_ERROR) and the same publish fail again
 * after the reconnect: a large PUBLISH_ARGSREPR_MAX on a broker with a small frame_max
 * (4,096 allowed) would have stopped a scrape at its first long match. `argsrepr` is display
 * only (Flower, `celery inspect`), so cutting it sooner loses nothing of the task.
 */
export function argsreprBudget(frameMax: number | undefined, otherFrameBytes: number, configured: number): number {
  if (frameMax === undefined) return configured;
  const frame = Math.min(frameMax > 0 ? frameMax : Number.MAX_SAFE_INTEGER, AMQPLIB_MAX_TABLE_BYTES);
  const fits = Math.floor((frame - otherFrameBytes - HEADER_MARGIN_BYTES) / ARGSREPR_BYTES_PER_CHAR) - ARGSREPR_TAIL_CHARS;
  return Math.max(ARGSREPR_TAIL_CHARS, Math.min(configured, fits));
}

/** Celery's task headers (and `compression`, which the body needs) and matchflow's own: dropped last. */
export function isTaskOrMatchflowHeader(name: string): boolean {
  return ENCODED_TASK_HEADERS.has(name) || name === COMPRESSION_HEADER || name.startsWith("x-matchflow-");
}

export interface FitRule {
  /** Never dropped (what this copy is for: e.g. the failure headers of a dead letter). */
  keep: (name: string) => boolean;
  /** Dropped only when dropping every other header was not enough (the task's own headers). */
  protect: (name: string) => boolean;
}

/** How fitHeaders weighs a table and one entry: wire bytes (the default), or another cost (heap, inbound-headers.ts). */
export interface HeaderMeasure {
  table(headers: Record<string, unknown>): number;
  entry(name: string, value: unknown): number;
}

export const WIRE_BYTES: HeaderMeasure = { table: fieldTableBytes, entry: fieldEntryBytes };

export interface FittedHeaders {
  headers: Record<string, unknown>;
  /** Names dropped, largest first; empty when the table fitted as it was. */
  dropped: string[];
  /** Bytes (by the measure) of the resulting table; above the budget only if even the kept headers exceed it. */
  bytes: number;
}

function droppedList(previous: string | undefined, names: readonly string[]): string {
  let listed = previous ?? "";
  let more = 0;
  for (const name of names) {
    if (more === 0 && listed.length + name.length + 2 <= MAX_DROPPED_LIST_CHARS) listed = listed ? `${listed}, ${name}` : name;
    else more++;
  }
  return more > 0 ? `${listed} (and ${more} more)` : listed;
}

/**
 * `headers` with the fewest largest headers dropped so that the table fits `budget` bytes.
 * Unprotected headers go first, largest first; then, if needed, protected ones, largest first;
 * headers `keep` names stay. An `x-matchflow-dropped-headers` already present (an earlier copy
 * dropped some) is extended, not replaced.
 */
export function fitHeaders(headers: Record<string, unknown>, budget: number, rule: FitRule, measure: HeaderMeasure = WIRE_BYTES): FittedHeaders {
  const total = measure.table(headers);
  if (total <= budget) return { headers, dropped: [], bytes: total };
  const previousValue = headers[MF_HEADERS.droppedHeaders];
  const previous = fieldText(previousValue);
  const entries = Object.keys(headers)
    .filter((name) => name !== MF_HEADERS.droppedHeaders && headers[name] !== undefined && !rule.keep(name))
    .map((name) => ({ name, bytes: measure.entry(name, headers[name]), protected: rule.protect(name) }))
    .sort((a, b) => Number(a.protected) - Number(b.protected) || b.bytes - a.bytes);
  const dropped: string[] = [];
  let kept = total - (previousValue === undefined ? 0 : measure.entry(MF_HEADERS.droppedHeaders, previousValue));
  let bytes = total;
  for (const entry of entries) {
    dropped.push(entry.name);
    kept -= entry.bytes;
    bytes = kept + measure.entry(MF_HEADERS.droppedHeaders, droppedList(previous, dropped));
    if (bytes <= budget) break;
  }
  if (dropped.length === 0) return { headers, dropped, bytes: total };
  const gone = new Set(dropped);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) if (!gone.has(name) && name !== MF_HEADERS.droppedHeaders) out[name] = value;
  out[MF_HEADERS.droppedHeaders] = droppedList(previous, dropped);
  return { headers: out, dropped, bytes };
}

/**
 * `properties` with their headers fitted to `frameMax` (fitHeaders, with the budget of the other
 * properties as `sent` will carry them); unchanged when there is no frame_max (a transport
 * without frames) or no headers. What the worker's copies and `dlq requeue` share.
 */
export function fitPropertiesHeaders<P extends { headers?: unknown }>(
  properties: P,
  frameMax: number | undefined,
  rule: FitRule,
  sent: FramedProperties = properties as FramedProperties,
): { properties: P; dropped: string[] } {
  const headers = properties.headers as Record<string, unknown> | undefined;
  if (frameMax === undefined || !headers) return { properties, dropped: [] };
  const fit = fitHeaders(headers, headerTableBudget(frameMax, sent), rule);
  return fit.dropped.length === 0 ? { properties, dropped: [] } : { properties: { ...properties, headers: fit.headers }, dropped: fit.dropped };
}
