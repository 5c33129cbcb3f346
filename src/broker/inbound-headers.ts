/**
 * Bounding what a received task's headers hold in the V8 heap. Pure.
 *
 * amqplib decodes every delivery's header table into JavaScript values, and the worker holds a
 * full prefetch of deliveries (1,600 by default) while their batches wait. The broker's
 * `frame_max` bounds a table's *bytes* (16 KiB deployed), and strings take at most two heap bytes
 * per wire byte; but a structure does not: an empty nested table is 5 bytes on the wire and a
 * ~60-byte object once decoded. A backlog of 1,600 tasks each carrying 16 KiB of empty tables
 * (~200 KB of heap apiece) killed the deployed worker (heap out of memory) within 1.5 s, and again
 * after every restart: the queue could no longer be drained. So on arrival a table that would
 * weigh more than INBOUND_HEADER_HEAP_BUDGET loses its heaviest foreign headers (never Celery's
 * task headers, matchflow's own or the broker's history unless those alone are too heavy), named
 * in `x-matchflow-dropped-headers` as when a copy is fitted to frame_max (fit-headers.ts), so
 * retries and dead letters say what is missing. Real task headers (2-4 KB) are never touched.
 */
import { fitHeaders, isTaskOrMatchflowHeader, type HeaderMeasure } from "./fit-headers.js";

/**
 * What one received table may weigh in the heap. Above any table of strings the deployed
 * frame_max lets through (16 KiB at two bytes a character, plus Celery's own headers), and small
 * enough that a full default prefetch of such tables (1,600 x 40 KiB = 64 MiB) stays inside the
 * deployed heap (`--max-old-space-size=96`) next to the worker's own ~30 MB.
 */
export const INBOUND_HEADER_HEAP_BUDGET = 40 * 1024;

/** Approximate V8 sizes (64-bit, pointer compression off): enough to tell a structure from text. */
const OBJECT_BYTES = 56;
const ARRAY_BYTES = 32;
const SLOT_BYTES = 8;
const PROPERTY_BYTES = 24;
const STRING_BYTES = 16;
const HEAP_NUMBER_BYTES = 16;
const BUFFER_BYTES = 96;

/** Heap bytes of a decoded header value, counted until `limit` is passed (then anything above it). */
function valueHeapBytes(value: unknown, limit: number): number {
  if (typeof value === "string") return STRING_BYTES + 2 * value.length;
  if (typeof value === "number") return HEAP_NUMBER_BYTES;
  if (typeof value !== "object" || value === null) return 0;
  if (Buffer.isBuffer(value)) return BUFFER_BYTES;
  let bytes = 0;
  if (Array.isArray(value)) {
    bytes = ARRAY_BYTES;
    for (let i = 0; i < value.length && bytes <= limit; i++) bytes += SLOT_BYTES + valueHeapBytes(value[i], limit - bytes);
    return bytes;
  }
  bytes = OBJECT_BYTES;
  for (const key in value) {
    if (bytes > limit) break;
    bytes += PROPERTY_BYTES + STRING_BYTES + key.length + valueHeapBytes((value as Record<string, unknown>)[key], limit - bytes);
  }
  return bytes;
}

const UNLIMITED = Number.MAX_SAFE_INTEGER;

/** Heap bytes, as estimated above: a table, one entry. */
export const HEAP_BYTES: HeaderMeasure = {
  table: (headers) => valueHeapBytes(headers, UNLIMITED),
  entry: (name, value) => (value === undefined ? 0 : PROPERTY_BYTES + STRING_BYTES + name.length + valueHeapBytes(value, UNLIMITED)),
};

/** Never dropped before every foreign header is: the task's, matchflow's and the broker's history. */
function isKeptLongest(name: string): boolean {
  return isTaskOrMatchflowHeader(name) || name === "x-death" || name.startsWith("x-first-death-") || name.startsWith("x-last-death-");
}

const RULE = { keep: () => false, protect: isKeptLongest };

/**
 * `headers` as they arrived when they weigh at most `budget` heap bytes (the usual case: one
 * bounded walk, nothing allocated); otherwise without their heaviest foreign headers, named.
 */
const NOTHING_DROPPED: readonly string[] = [];

export function boundReceivedHeaders(
  headers: Record<string, unknown> | undefined,
  budget = INBOUND_HEADER_HEAP_BUDGET,
): { headers: Record<string, unknown> | undefined; dropped: readonly string[] } {
  if (headers === undefined || valueHeapBytes(headers, budget) <= budget) return { headers, dropped: NOTHING_DROPPED };
  const fit = fitHeaders(headers, budget, RULE, HEAP_BYTES);
  return { headers: fit.headers, dropped: fit.dropped };
}
