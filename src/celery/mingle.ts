/**
 * Celery's mingle, the sync of workers at start-up, for the revoked ids (CELERY_CONTROL=control):
 * a starting worker broadcasts `hello` with its own revoked ids and, for a second, takes in every
 * other worker's reply (`{revoked, clock}`); a worker asked merges the sender's ids and replies with
 * its own. So a revoke outlives a worker's restart while another worker (matchflow's or Celery's)
 * still holds it. Pure.
 *
 * The ids travel as Celery's LimitedSet keeps them (`_data`: `{id: [flagged at, id]}`), stamped
 * with `time.monotonic()`, the host's CLOCK_MONOTONIC, which `process.hrtime` reads too: the stamps
 * agree between processes of one host (Celery's own limit; across hosts a stamp is only a guess, so
 * one from the future counts as now, one older than REVOKE_EXPIRES is dropped).
 */
import { isObject, isTaskId } from "./decode.js";
import { REVOKE_EXPIRES_MS, REVOKES_MAX } from "./revoked.js";

/** How long a starting worker waits for the others' replies (Celery's mingle: 1 s). */
export const MINGLE_TIMEOUT_MS = 1000;

/** The two clocks a stamp is converted between. */
export interface Clocks {
  /** Milliseconds since the epoch (the RevokedSet's clock). */
  wallMs: number;
  /** Seconds of the host's monotonic clock (Python's time.monotonic()). */
  monotonicS: number;
}

/** A revoked id and when it was flagged, in wall-clock milliseconds. */
export type RevokedEntry = readonly [id: string, flaggedAtMs: number];

/** Our revoked ids as a hello carries them: `{id: [monotonic seconds when flagged, id]}`. */
export function revokedForHello(entries: Iterable<RevokedEntry>, clocks: Clocks): Record<string, [number, string]> {
  const out: Record<string, [number, string]> = {};
  for (const [id, at] of entries) out[id] = [clocks.monotonicS - (clocks.wallMs - at) / 1000, id];
  return out;
}

/**
 * The revoked ids of a hello or its reply (Celery's LimitedSet.update of a dict: each value a stamp
 * or a `[stamp, id]` pair), in wall-clock time; what is not an id with a stamp is skipped, and so
 * are ids already expired. At most REVOKES_MAX.
 */
export function revokedFromHello(value: unknown, clocks: Clocks, expiresMs = REVOKE_EXPIRES_MS): RevokedEntry[] {
  if (!isObject(value)) return [];
  const out: RevokedEntry[] = [];
  for (const id in value) {
    if (out.length >= REVOKES_MAX) break;
    if (!Object.hasOwn(value, id) || !isTaskId(id)) continue;
    const entry = value[id];
    const stamp: unknown = Array.isArray(entry) ? entry[0] : entry;
    if (typeof stamp !== "number" || !Number.isFinite(stamp)) continue;
    const ageMs = Math.max(0, (clocks.monotonicS - stamp) * 1000);
    if (ageMs < expiresMs) out.push([id, clocks.wallMs - ageMs]);
  }
  return out;
}
