/**
 * Task ids for the tasks matchflow publishes: UUID version 7 (RFC 9562), the first 48 bits the
 * Unix time in milliseconds, the rest random. Still the 36-character UUID Celery, Flower and
 * `celery inspect` expect, but ordered by time as text: when two observations of a match carry
 * the same `scraped_at`, the database keeps the one of the greater task id (db/upsert-sql.ts),
 * so a corrected file published again after the first wins, where random (version 4) ids made
 * it a coin flip. Ids made in the same millisecond are in no particular order.
 */
import { randomBytes } from "node:crypto";

export function timeOrderedTaskId(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  // 48-bit big-endian milliseconds (Number is exact to 2^53).
  bytes.writeUIntBE(Math.max(0, Math.floor(now)) % 2 ** 48, 0, 6);
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f); // version 7
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f); // RFC 9562 variant
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
