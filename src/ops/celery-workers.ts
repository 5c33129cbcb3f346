/**
 * `matchflow workers` and `matchflow revoke`: Celery's remote control from the operator's side, as
 * `celery inspect stats` and `celery control revoke` ask it, for a shop without Python's Celery at
 * hand. matchflow workers answer with CELERY_CONTROL set (inspect; revoke needs control); Celery
 * workers on the same vhost answer too.
 */
import { broadcastAndGather } from "../broker/pidbox-broadcast.js";
import type { Logger } from "../log.js";
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
    } finally {
      await channel.close().catch(() => undefined);
    }
  });
}
