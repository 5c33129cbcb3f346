/**
 * Buffered deliveries of a channel that is gone: the broker has handed them to the new channel
 * already. Kept, they piled up by a prefetch's worth at every channel loss while the database was
 * away (RabbitMQ's consumer timeout closes one every 30 minutes), and were written again when it
 * came back. They are the buffer's head: channels come one after another. Pure.
 */
export function staleHeadLength<T>(buffer: readonly T[], isStale: (message: T) => boolean): number {
  let stale = 0;
  while (stale < buffer.length && isStale(buffer[stale] as T)) stale++;
  return stale;
}
