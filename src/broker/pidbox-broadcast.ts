/**
 * Asking every worker something over Celery's remote control, as kombu's Mailbox does with
 * `reply=True`: the request is broadcast on `celery.pidbox`, each worker addressed replies
 * `{<node>: <reply>}` to the reply exchange with the request's ticket, and the replies are gathered
 * for a fixed time on a queue of one's own (any number of workers may answer, so the time is the
 * only end, as in Celery). Used by the worker's mingle (control-channel.ts) and the operator
 * commands `matchflow workers` / `matchflow revoke`.
 */
import { randomUUID } from "node:crypto";
import type { Channel, ConsumeMessage } from "amqplib";
import { pythonReadableNumber } from "../celery/codec.js";
import { CONTROL_EXCHANGE, CONTROL_REPLY_EXCHANGE } from "../celery/control.js";
import { isObject } from "../celery/decode.js";

/** A request or reply is a few hundred bytes, but mingle's carry up to 50,000 revoked ids (~3 MB); anything larger is not one. */
export const MAX_CONTROL_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * What a broadcast gathers at most: any client of the vhost sees the request on the fanout and
 * can answer with its ticket, and replies were held, however many, until the time ran out: a
 * flood of 4 MiB replies during a starting worker's mingle had no bound but the worker's 96 MB
 * heap. A real vhost has a few dozen workers, each reply a few KB (a mingle's up to ~3 MB);
 * replies past either bound are left out.
 */
export const MAX_GATHERED_REPLIES = 1000;
export const MAX_GATHERED_REPLY_BYTES = 16 * 1024 * 1024;

/** A control message's JSON body, or undefined when it is none or too large. */
export function readControlMessage(msg: ConsumeMessage): unknown {
  if (msg.content.length > MAX_CONTROL_MESSAGE_BYTES) return undefined;
  try {
    return JSON.parse(msg.content.toString("utf8")) as unknown;
  } catch {
    return undefined;
  }
}

export interface BroadcastOptions {
  timeoutMs: number;
  /** Only these nodes answer (kombu's `destination`); all of them when absent. */
  destination?: readonly string[] | undefined;
  /** The asking worker's own node, whose reply (if any) is left out. */
  ownNode?: string;
  /** The Lamport clock for the request's header. */
  clock?: number;
}

/**
 * Broadcasts `method(args)` and resolves with the replies by node after `timeoutMs`. The
 * exchanges are declared as kombu declares them (publishing to a missing one would close the
 * channel); the reply queue is deleted however it ends. Throws what the channel throws.
 */
export async function broadcastAndGather(channel: Channel, method: string, args: Record<string, unknown>, options: BroadcastOptions): Promise<Map<string, unknown>> {
  const replies = new Map<string, unknown>();
  let bytes = 0;
  const ticket = randomUUID();
  await channel.assertExchange(CONTROL_EXCHANGE, "fanout", { durable: false, autoDelete: false });
  await channel.assertExchange(CONTROL_REPLY_EXCHANGE, "direct", { durable: false, autoDelete: false });
  const { queue } = await channel.assertQueue("", { exclusive: true, autoDelete: true, durable: false });
  try {
    await channel.bindQueue(queue, CONTROL_REPLY_EXCHANGE, ticket);
    await channel.consume(
      queue,
      (msg) => {
        if (!msg || msg.properties.headers?.ticket !== ticket || bytes + msg.content.length > MAX_GATHERED_REPLY_BYTES) return;
        const body = readControlMessage(msg);
        if (!isObject(body)) return;
        bytes += msg.content.length;
        for (const node in body) {
          if (replies.size >= MAX_GATHERED_REPLIES && !replies.has(node)) break;
          if (node !== options.ownNode && Object.hasOwn(body, node)) replies.set(node, body[node]);
        }
      },
      { noAck: true },
    );
    const request = {
      method,
      arguments: args,
      destination: options.destination && options.destination.length > 0 ? options.destination : null,
      pattern: null,
      matcher: null,
      reply_to: { exchange: CONTROL_REPLY_EXCHANGE, routing_key: ticket },
      ticket,
    };
    channel.publish(CONTROL_EXCHANGE, "", Buffer.from(JSON.stringify(request), "utf8"), {
      contentType: "application/json",
      contentEncoding: "utf-8",
      deliveryMode: 1,
      // kombu's: a worker drops a request read after this (epoch seconds).
      headers: { clock: pythonReadableNumber(options.clock ?? 0), expires: Date.now() / 1000 + options.timeoutMs / 1000 },
    });
    await new Promise((resolve) => setTimeout(resolve, options.timeoutMs));
  } finally {
    // Deleting the queue ends its consumer too; a channel gone took both with it.
    await channel.deleteQueue(queue).catch(() => undefined);
  }
  return replies;
}
