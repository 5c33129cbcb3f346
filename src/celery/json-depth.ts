/**
 * How deep a message's JSON may nest. JSON.parse reads any depth, but JSON.stringify and every
 * recursive walk of the value (the upsert's `raw`, `ingest_failures`, argsrepr) overflow the
 * stack from a few thousand levels: such a message, read as valid, threw a RangeError that
 * failed its whole batch, again on each retry, and dead-lettered its neighbours with it.
 * Celery's own messages nest a few levels; a canvas a few dozen at most. Pure.
 */
export const MAX_JSON_DEPTH = 100;

/** Whether `value` has arrays or objects nested more than `max` levels deep (iterative: no stack to overflow). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: unknown[] = [value];
  const depths: number[] = [1];
  while (pending.length > 0) {
    const v = pending.pop();
    const depth = depths.pop() ?? 1;
    if (typeof v !== "object" || v === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === "object" && child !== null) {
        pending.push(child);
        depths.push(depth + 1);
      }
    }
  }
  return false;
}
