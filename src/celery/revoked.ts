/**
 * The ids `celery control revoke` flagged (CELERY_CONTROL=control), kept as a Celery worker keeps
 * them (`worker.state.revoked`, a LimitedSet): at most REVOKES_MAX ids, each forgotten
 * REVOKE_EXPIRES after it was flagged, the oldest first when full. In memory only, as a Celery
 * worker without `--statedb`: a worker started after the revoke does not know of it. Pure but for
 * the clock it is given.
 */

/** Celery's `REVOKES_MAX`. */
export const REVOKES_MAX = 50_000;
/** Celery's `REVOKE_EXPIRES`: three hours. */
export const REVOKE_EXPIRES_MS = 10_800_000;

export class RevokedSet {
  /** Id -> when flagged; a Map keeps insertion order, so the oldest is first. */
  private readonly flagged = new Map<string, number>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly max = REVOKES_MAX,
    private readonly expiresMs = REVOKE_EXPIRES_MS,
  ) {}

  /** Flags the ids now (again: the expiry starts over, as LimitedSet.add resets it). */
  add(ids: Iterable<string>): void {
    const now = this.now();
    for (const id of ids) {
      this.flagged.delete(id);
      this.flagged.set(id, now);
    }
    this.purge(now);
  }

  /** Takes in ids flagged elsewhere at the times given (mingle); an id known here keeps the later time. */
  merge(entries: Iterable<readonly [id: string, flaggedAt: number]>): void {
    const later = new Map(this.flagged);
    for (const [id, at] of entries) {
      const known = later.get(id);
      if (known === undefined || at > known) later.set(id, at);
    }
    // Oldest first again, so that expiry and the size limit drop the oldest.
    const sorted = [...later].sort((a, b) => a[1] - b[1]);
    this.flagged.clear();
    for (const [id, at] of sorted) this.flagged.set(id, at);
    this.purge(this.now());
  }

  has(id: string): boolean {
    // Runs for every delivery while control is on: one lookup; expiry only for an id found.
    const at = this.flagged.get(id);
    if (at === undefined) return false;
    if (at > this.now() - this.expiresMs) return true;
    this.purge(this.now());
    return false;
  }

  /** The ids flagged and not yet expired with when, oldest first (`inspect revoked`, mingle). */
  entries(): [id: string, flaggedAt: number][] {
    this.purge(this.now());
    return [...this.flagged];
  }

  get size(): number {
    return this.flagged.size;
  }

  private purge(now: number): void {
    for (const [id, at] of this.flagged) {
      if (this.flagged.size <= this.max && at > now - this.expiresMs) break;
      this.flagged.delete(id);
    }
  }
}
