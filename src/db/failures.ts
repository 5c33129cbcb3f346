/**
 * `ingest_failures`: every message that could not become a row leaves one here, with its reason.
 * Idempotent per message: a redelivery of the same task id bumps `count` and `last_seen` instead
 * of adding a row (and reopens it if an operator had marked it resolved).
 */
import { createHash } from "node:crypto";
import type { Queryable } from "./database.js";
import { textArrayLiteral } from "./array-literal.js";
import { hasUnstorableEscape } from "./jsonb-text.js";
import { textHead } from "../text-head.js";

export interface IngestFailureInput {
  reasonCode: string;
  detail: string;
  taskId?: string | undefined;
  messageId?: string | undefined;
  externalMatchId?: string | undefined;
  /** The payload: any JSON value goes to `raw_payload`; a string (e.g. undecodable bytes as text) to `raw_text`. */
  raw: unknown;
}

export interface IngestFailure {
  id: number;
  reasonCode: string;
  detail: string;
  taskId: string | null;
  messageId: string | null;
  externalMatchId: string | null;
  rawPayload: unknown;
  rawText: string | null;
  firstSeen: Date;
  lastSeen: Date;
  count: number;
  resolvedAt: Date | null;
}

/** Longest detail kept: enough for any error message, bounded for a table that grows. */
const MAX_DETAIL = 4000;

const COLUMNS = "reason_code, detail, task_id, message_id, external_match_id, raw_payload, raw_text";
const ON_REPEAT = `DO UPDATE SET count = ingest_failures.count + 1, last_seen = now(), reason_code = EXCLUDED.reason_code,
  detail = EXCLUDED.detail, resolved_at = NULL`;

function withoutNul(text: string): string {
  return text.replaceAll("\u0000", "\\u0000");
}

/** Task ids longer than this (Celery's are 36-character UUIDs) are stored as `taskIdKey` says. */
export const MAX_STORED_TASK_ID = 255;

/**
 * The `task_id` a failure is recorded under. Nothing but MAX_MESSAGE_BYTES bounds a producer's
 * task id (protocol 1 carries it in the body), and `task_id` is unique-indexed: an id over the
 * index's row limit (~2.7 KB) failed the INSERT (SQLSTATE 54000), and with it the transaction
 * of the whole batch, so every good neighbour was retried or, retries used up, dead-lettered.
 * A longer id is kept as its beginning and the SHA-256 of all of it: as unique as the id.
 */
export function taskIdKey(taskId: string): string {
  if (taskId.length <= MAX_STORED_TASK_ID) return taskId;
  return `${textHead(taskId, 150)}… (${taskId.length} characters, sha256 ${createHash("sha256").update(taskId).digest("hex")})`;
}

/** Records a failure; returns its id and how many times this message has failed so far. */
export async function recordIngestFailure(db: Queryable, f: IngestFailureInput): Promise<{ id: number; count: number }> {
  // PostgreSQL text and jsonb cannot hold NUL (a JSON "\u0000" included): such payloads are
  // kept as text with the NUL written as the six characters \u0000, so the record never fails.
  let rawPayload = typeof f.raw === "string" || f.raw === undefined ? null : (JSON.stringify(f.raw) ?? null);
  let rawText = typeof f.raw === "string" ? withoutNul(f.raw) : null;
  // Same for a lone UTF-16 surrogate, which JSON.stringify writes as an escape jsonb rejects. The
  // whole JSON text is kept (not jsonbText's rewrite, as matches.raw is): parsed again, it gives the
  // payload as it came. Text that merely reads "\u0000" (an escaped backslash) stays jsonb.
  if (rawPayload !== null && hasUnstorableEscape(rawPayload)) [rawText, rawPayload] = [rawPayload, null];
  const text = (v: string | undefined) => (v === undefined ? null : withoutNul(v));
  const taskId = f.taskId === undefined ? undefined : taskIdKey(f.taskId);
  const params = [withoutNul(f.reasonCode), withoutNul(f.detail).slice(0, MAX_DETAIL), text(taskId), text(f.messageId), text(f.externalMatchId), rawPayload, rawText];
  const values = "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)";
  // Idempotent on the task id; without one, on the AMQP message id; with neither, every call is a row.
  const conflict = taskId ? `ON CONFLICT (task_id) ${ON_REPEAT}` : f.messageId ? `ON CONFLICT (message_id) WHERE task_id IS NULL AND message_id IS NOT NULL ${ON_REPEAT}` : "";
  const { rows } = await db.query<{ id: number | string; count: number }>(`INSERT INTO ingest_failures (${COLUMNS}) ${values} ${conflict} RETURNING id, count`, params);
  const row = rows[0];
  if (!row) throw new Error("recordIngestFailure: INSERT returned no row");
  return { id: Number(row.id), count: Number(row.count) };
}

interface FailureRow {
  id: number | string;
  reason_code: string;
  detail: string;
  task_id: string | null;
  message_id: string | null;
  external_match_id: string | null;
  raw_payload: unknown;
  raw_text: string | null;
  first_seen: Date | string;
  last_seen: Date | string;
  count: number;
  resolved_at: Date | string | null;
}

const asDate = (v: Date | string) => (v instanceof Date ? v : new Date(v));

/** Newest first. */
export async function listIngestFailures(db: Queryable, options: { limit?: number; unresolvedOnly?: boolean } = {}): Promise<IngestFailure[]> {
  const limit = Math.max(1, Math.min(options.limit ?? 50, 10_000));
  const where = options.unresolvedOnly ? "WHERE resolved_at IS NULL" : "";
  const { rows } = await db.query<FailureRow>(`SELECT * FROM ingest_failures ${where} ORDER BY last_seen DESC, id DESC LIMIT $1`, [limit]);
  return rows.map((r) => ({
    id: Number(r.id),
    reasonCode: r.reason_code,
    detail: r.detail,
    taskId: r.task_id,
    messageId: r.message_id,
    externalMatchId: r.external_match_id,
    rawPayload: r.raw_payload,
    rawText: r.raw_text,
    firstSeen: asDate(r.first_seen),
    lastSeen: asDate(r.last_seen),
    count: Number(r.count),
    resolvedAt: r.resolved_at === null ? null : asDate(r.resolved_at),
  }));
}

/**
 * Marks resolved the failures of these tasks, now stored (a `dlq requeue` after the cause was
 * mended: the team added, the contract met). Their rows stayed "unresolved" for good, and the
 * list of what still needs an operator filled with what no longer did. Keyed as recorded (taskIdKey).
 */
export async function resolveIngestFailures(db: Queryable, taskIds: readonly string[]): Promise<void> {
  if (taskIds.length === 0) return;
  await db.query("UPDATE ingest_failures SET resolved_at = now() WHERE resolved_at IS NULL AND task_id = ANY($1::text[])", [textArrayLiteral(taskIds, taskIdKey)]);
}
