/**
 * `celery_revoked`: the task ids `celery control revoke` flagged, so that a worker starting after
 * every other one stopped still knows them (migrations/0004_celery_revoked.sql). Times are the
 * database's clock, one for every host.
 */
import { textArrayLiteral } from "./array-literal.js";
import type { Queryable } from "./database.js";

/** A revoked id and when it was flagged, in milliseconds since the epoch. */
export type StoredRevoke = readonly [taskId: string, revokedAtMs: number];

/**
 * Records `ids` as revoked now (again: the three hours start over, as a worker's own set does)
 * and forgets the revokes older than `expiresMs`. Several workers obeying one broadcast each write
 * it: the last write wins, a few milliseconds apart.
 */
export async function storeRevoked(db: Queryable, ids: readonly string[], expiresMs: number): Promise<void> {
  if (ids.length === 0) return;
  await db.query(
    `INSERT INTO celery_revoked (task_id) SELECT DISTINCT unnest($1::text[])
     ON CONFLICT (task_id) DO UPDATE SET revoked_at = now()`,
    [textArrayLiteral(ids, (id) => id)],
  );
  await forgetExpired(db, expiresMs);
}

/**
 * Records revokes flagged elsewhere at the times given (what mingle took over from Celery's
 * workers): an id already stored keeps the later time; those older than `expiresMs` are left out.
 */
export async function storeRevokedAt(db: Queryable, entries: readonly StoredRevoke[], expiresMs: number): Promise<void> {
  if (entries.length === 0) return;
  await db.query(
    `INSERT INTO celery_revoked (task_id, revoked_at)
     SELECT id, to_timestamp(max(at) / 1000) FROM unnest($1::text[], $2::float8[]) AS e(id, at)
      WHERE to_timestamp(at / 1000) > now() - make_interval(secs => $3) GROUP BY id
     ON CONFLICT (task_id) DO UPDATE SET revoked_at = GREATEST(celery_revoked.revoked_at, EXCLUDED.revoked_at)`,
    [textArrayLiteral(entries, (e) => e[0]), textArrayLiteral(entries, (e) => String(e[1])), expiresMs / 1000],
  );
  await forgetExpired(db, expiresMs);
}

async function forgetExpired(db: Queryable, expiresMs: number): Promise<void> {
  await db.query("DELETE FROM celery_revoked WHERE revoked_at <= now() - make_interval(secs => $1)", [expiresMs / 1000]);
}

/** The revokes younger than `expiresMs`, the newest `max` of them, oldest first. */
export async function loadRevoked(db: Queryable, expiresMs: number, max: number): Promise<StoredRevoke[]> {
  const { rows } = await db.query<{ task_id: string; at: number | string }>(
    `SELECT task_id, extract(epoch FROM revoked_at) * 1000 AS at FROM (
       SELECT task_id, revoked_at FROM celery_revoked
        WHERE revoked_at > now() - make_interval(secs => $1)
        ORDER BY revoked_at DESC LIMIT $2) newest
      ORDER BY revoked_at`,
    [expiresMs / 1000, max],
  );
  return rows.map((r) => [r.task_id, Number(r.at)] as const);
}
