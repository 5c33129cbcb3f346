/**
 * How many message bytes a batch may hold. Pure.
 *
 * Why a byte bound on top of `WORKER_BATCH_SIZE`: a batch is decoded whole before its
 * transaction (JSON text, the parsed match, `matches.raw` serialised again for the statement,
 * dead-letter copies), so its heap cost is about three times its bodies' bytes, and the
 * concurrent batches are all alive at once. With real matches (1-2 KB) 400 x 4 batches is a
 * few MB; with bodies near `MAX_MESSAGE_BYTES` (64 KiB, allowed: the worker keeps unknown
 * fields) it is 4 x 400 x 64 KiB x ~3 = ~300 MB, and the deployed heap (`--max-old-space-size=96`,
 * a 144 MB limit) crashed with "JavaScript heap out of memory" as soon as deliveries piled up
 * (a database stall of a few seconds, or a backlog of invalid large messages): a crash loop,
 * since the redelivered backlog does it again. The prefetched deliveries waiting for a batch
 * are Buffers outside the V8 heap; only what is decoded at once has to fit in it.
 */

/**
 * Share of the V8 heap limit that the bodies of all concurrent batches may take together: at
 * ~3x their size once decoded, ~40% of the heap, which leaves the rest for the worker's own
 * live data (~30 MB) and the garbage collector's headroom.
 */
export const HEAP_SHARE_OF_BATCHES = 1 / 8;

/** `WORKER_BATCH_BYTES=auto`: the heap share divided among the `concurrency` batches in flight. */
export function autoBatchBytes(heapSizeLimit: number, concurrency: number): number {
  return Math.max(64 * 1024, Math.floor((heapSizeLimit * HEAP_SHARE_OF_BATCHES) / Math.max(1, concurrency)));
}

/**
 * How many of `buffer`'s first messages make the next batch: at most `maxCount`, and no more
 * than `maxBytes` of bodies, but always at least one (a single message larger than the budget
 * still has to be settled, and alone it is bounded by the broker's own message size limit).
 * `byteLimited` says the byte budget, not the count or the buffer's end, cut the batch.
 */
export function nextBatchLength(buffer: readonly { content: { length: number } }[], maxCount: number, maxBytes: number): { length: number; byteLimited: boolean } {
  const end = Math.min(buffer.length, maxCount);
  let bytes = 0;
  for (let i = 0; i < end; i++) {
    bytes += (buffer[i] as { content: { length: number } }).content.length;
    if (bytes > maxBytes && i > 0) return { length: i, byteLimited: true };
  }
  return { length: end, byteLimited: false };
}
