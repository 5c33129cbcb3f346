/**
 * The ids `celery control revoke` flagged (CELERY_CONTROL=control), kept as a Celery worker keeps
 * them (`worker.state.revoked`, a LimitedSet): at most REVOKES_MAX ids, each forgotten
 * REVOKE_EXPIRES after it was flagged, the oldest first when full. In memory: the worker also
 * writes them to the database (db/revoked.ts), as a Celery worker with `--statedb` writes a local
 * file. Pure but for the clock it is given.
 */

/** Celery's `REVOKES_MAX`. */
export const REVOKES_MAX = 50_000;
/** Celery's `REVOKE_EXPIRES`: three hours. */
export const REVOKE_EXPIRES_MS = 10_800_000;

export class RevokedSet {
  /** Id -> when flagged; a Map keeps insertion order, so the oldest is first. */
  private readonly flagged = new Map<string, number>();
  /** The latest time flagged, so that a merge of newer ids only appends. */
  private newestAt = -Infinity;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly max = REVOKES_MAX,
    private readonly expiresMs = REVOKE_EXPIRES_MS,
  ) {}

  /** Flags the ids now (again: the expiry starts over, as LimitedSet.add resets it). */
  add(ids: Iterable<string>): void {
    const now = this.now();
    const fresh = [...new Set(ids)];
    for (const id of fresh) this.flagged.delete(id);
    // A merged id may carry a later time than this clock's now (another host's): keep the order then.
    if (now < this.newestAt) {
      this.merge(fresh.map((id) => [id, now] as const));
      return;
    }
    for (const id of fresh) this.flagged.set(id, now);
    this.newestAt = now;
    this.purge(now);
  }

  /**
   * Takes in ids flagged elsewhere at the times given (mingle); an id known here keeps the later
   * time. Runs on every `hello` a starting worker sends (mostly with nothing new): only the entries
   * that change anything are sorted, and the set is re-ordered only when one is older than its newest.
   * Returns those entries (new ids, or later times), oldest first.
   */
  merge(entries: Iterable<readonly [id: string, flaggedAt: number]>): [id: string, flaggedAt: number][] {
    const changed = new Map<string, number>();
    for (const [id, at] of entries) {
      const known = changed.get(id) ?? this.flagged.get(id);
      if (known === undefined || at > known) changed.set(id, at);
    }
    if (changed.size === 0) return [];
    for (const id of changed.keys()) this.flagged.delete(id);
    const incoming = [...changed].sort((a, b) => a[1] - b[1]);
    const oldestIncoming = incoming[0]?.[1] ?? Infinity;
    if (this.flagged.size > 0 && oldestIncoming < this.newestAt) {
      // Oldest first again, so that expiry and the size limit drop the oldest: one pass over both.
      const kept = [...this.flagged];
      this.flagged.clear();
      let k = 0;
      for (const [id, at] of incoming) {
        for (let entry = kept[k]; entry !== undefined && entry[1] <= at; entry = kept[++k]) this.flagged.set(entry[0], entry[1]);
        this.flagged.set(id, at);
      }
      for (const [id, at] of kept.slice(k)) this.flagged.set(id, at);
    } else {
      for (const [id, at] of incoming) this.flagged.set(id, at);
    }
    this.newestAt = Math.max(this.newestAt, incoming[incoming.length - 1]?.[1] ?? -Infinity);
    this.purge(this.now());
    return incoming;
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
