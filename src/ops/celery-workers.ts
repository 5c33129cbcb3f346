/**
 * `matchflow workers` and `matchflow revoke`: Celery's remote control from the operator's side, as
 * `celery inspect stats` and `celery control revoke` ask it, for a shop without Python's Celery at
 * hand. matchflow workers answer with CELERY_CONTROL set (inspect; revoke needs control); Celery
 * workers on the same vhost answer too.
 */
import { accessRefusalOf, permissionNeededFor, permissionRefused } from "../broker/access-refused.js";
import { broadcastAndGather } from "../broker/pidbox-broadcast.js";
import { isObject } from "../celery/decode.js";
import { REVOKE_EXPIRES_MS } from "../celery/revoked.js";
import type { Database } from "../db/database.js";
import { classifyDbError } from "../db/errors.js";
import { openDatabase } from "../db/open.js";
import { storeRevoked } from "../db/revoked.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import type { RevokeStored } from "./celery-workers-report.js";
import { quietChannel, withBroker } from "./broker-session.js";

export interface AskOptions {
  amqpUrl: string;
  log: Logger;
  /** How long replies are waited for (every worker that answers in time counts). */
  timeoutMs: number;
  /** Only these nodes; all when empty. */
  destination?: readonly string[];
}

/** Broadcasts one remote-control command; the replies by node. */
export function askCeleryWorkers(method: string, args: Record<string, unknown>, options: AskOptions): Promise<Map<string, unknown>> {
  return withBroker(options.amqpUrl, options.log, async (conn) => {
    const channel = await quietChannel(conn);
    try {
      return await broadcastAndGather(channel, method, args, { timeoutMs: options.timeoutMs, destination: options.destination });
    } catch (err) {
      // A missing permission was amqplib's raw 403 and exit 70, as if matchflow had a bug.
      const refusal = accessRefusalOf(err);
      if (refusal?.kind === "permission") throw permissionRefused(refusal, permissionNeededFor(err), "workers and revoke ask the workers over Celery's remote control: exchanges celery.pidbox and reply.celery.pidbox, a reply queue of their own");
      throw err;
    } finally {
      await channel.close().catch(() => undefined);
    }
  });
}

/**
 * `matchflow revoke`'s ids written to `celery_revoked` (db/revoked.ts), which workers with
 * CELERY_CONTROL=control read at start-up: the revoke then holds for a worker started later, even
 * when no worker is running now. Not written without DATABASE_URL (the CLI cannot know the
 * workers' database); a failure is reported, not thrown: the broadcast still goes out.
 */
export async function storeRevokedIds(databaseUrl: string | undefined, ids: readonly string[], log: Logger): Promise<RevokeStored> {
  if (databaseUrl === undefined || databaseUrl.trim() === "") return { stored: false, reason: "DATABASE_URL is not set" };
  let db: Database | undefined;
  try {
    db = await openDatabase(databaseUrl, { log, poolSize: 1 });
    await storeRevoked(db, ids, REVOKE_EXPIRES_MS);
    return { stored: true };
  } catch (err) {
    const details = classifyDbError(err).details;
    const missing = isObject(details) && details.sqlstate === "42P01"; // undefined_table
    return { stored: false, reason: missing ? "the database has no celery_revoked table yet (matchflow migrate, or start a worker, creates it)" : errorMessage(err) };
  } finally {
    await db?.close().catch(() => undefined);
  }
}
