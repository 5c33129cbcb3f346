/**
 * A short-lived broker connection for one operator command: opened, used, always closed.
 * Failing to connect is a TransientError `broker_unreachable` (exit code 4) naming host and vhost.
 */
import type { Channel, ConfirmChannel } from "amqplib";
import { BrokerConnection, closeOrGone, negotiatedFrameMax } from "../broker/connection.js";
import { DEPLOYED_FRAME_MAX } from "../broker/fit-headers.js";
import { ConfigError, TransientError, errorMessage, isMatchflowError } from "../errors.js";
import type { Logger } from "../log.js";

/** What the ops functions need from a connection: a BrokerConnection or an amqplib ChannelModel. */
export interface ChannelSource {
  createChannel(): Promise<Channel>;
  createConfirmChannel(): Promise<ConfirmChannel>;
  /** The negotiated frame_max (BrokerConnection); see `frameMaxOf` for a ChannelModel. */
  readonly frameMax?: number | undefined;
}

/**
 * The source's negotiated frame_max: a BrokerConnection's, or the one amqplib keeps (untyped) on a
 * ChannelModel's connection; else the deployed broker's cap.
 */
export function frameMaxOf(source: ChannelSource): number {
  if (typeof source.frameMax === "number" && source.frameMax > 0) return source.frameMax;
  return negotiatedFrameMax(source) ?? DEPLOYED_FRAME_MAX;
}

/**
 * Runs one operator command on a connection of its own. A connection lost while it runs (a broker
 * restart, an operator closing it, a heartbeat timeout) fails the command with
 * `broker_connection_lost` (exit 4), naming the broker and the reason, instead of amqplib's bare
 * "Channel closed" (exit 70, as if it were a bug). The channels it used are gone with the
 * connection, so nothing is resumed: what was held unacked is back in its queue, and the error
 * keeps the command's own account of what it had done (e.g. "requeue stopped after N").
 */
export async function withBroker<T>(url: string, log: Logger, fn: (conn: BrokerConnection) => Promise<T>, connectionName = "matchflow ops"): Promise<T> {
  const conn = await BrokerConnection.open({
    url,
    log,
    connectTimeoutMs: 5000,
    // An operator command should fail soon rather than wait a minute for a lost broker.
    readyTimeoutMs: 10_000,
    connectionName,
    // Its channels are gone with the connection, so a reconnect could not finish the command.
    onLoss: "fail",
  });
  let lost: string | undefined;
  const onLost = (err: unknown) => (lost ??= err === undefined ? "closed" : errorMessage(err));
  conn.on("disconnected", onLost);
  try {
    return await fn(conn);
  } catch (err) {
    if (lost === undefined) throw err;
    const ownLoss = isMatchflowError(err) && err.code === "broker_connection_lost";
    if (isMatchflowError(err) && err.code.startsWith("broker_") && !ownLoss) throw err;
    // A channel asked for after the loss fails with the loss itself (onLoss "fail").
    const what = ownLoss ? err.message : `${errorMessage(err)} (the connection to RabbitMQ at ${conn.where} was lost: ${lost})`;
    throw new TransientError("broker_connection_lost", withRerunAdvice(what), { cause: err });
  } finally {
    conn.off("disconnected", onLost);
    await conn.close();
  }
}

/** Matches a message that already says to run the command again (a nested withBroker's, confirmAcks'). */
const RERUN_ADVISED = /\brun(?:ning)? the command again\b/;

/**
 * `message; run the command again`, unless it already says so: a loss seen by two withBroker
 * (`dlq requeue` reads on one connection and copies on another), or confirmAcks' "list it before
 * running the command again", gave "...; run the command again; run the command again".
 */
export function withRerunAdvice(message: string): string {
  return RERUN_ADVISED.test(message) ? message : `${message}; run the command again`;
}

/** amqplib rejects a passive check of a missing queue with a 404 channel error. */
export function isNotFound(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === 404;
}

/**
 * Opens a channel whose server-side closes (404 on a passive check, 406) are handled by the
 * failing call itself rather than crashing the process as unhandled 'error' events.
 */
export async function quietChannel(source: ChannelSource): Promise<Channel> {
  const ch = await source.createChannel();
  ch.on("error", () => undefined);
  return ch;
}

/**
 * `fn` on a channel of its own; `undefined` when what it names does not exist (the 404 closes
 * the channel it happens on, so it cannot be shared).
 */
export async function unlessNotFound<T>(source: ChannelSource, fn: (ch: Channel) => Promise<T>): Promise<T | undefined> {
  const ch = await quietChannel(source);
  try {
    return await fn(ch);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  } finally {
    await closeQuietly(ch);
  }
}

export async function queueExists(source: ChannelSource, queue: string): Promise<boolean> {
  return (await unlessNotFound(source, (ch) => ch.checkQueue(queue))) !== undefined;
}

export async function exchangeExists(source: ChannelSource, exchange: string): Promise<boolean> {
  return (await unlessNotFound(source, (ch) => ch.checkExchange(exchange))) !== undefined;
}

/** Closes a channel, ignoring failures; never waits for ever (a close-ok lost with its connection). */
export async function closeQuietly(ch: Channel | ConfirmChannel | undefined): Promise<void> {
  if (ch) await closeOrGone(ch, () => ch.close());
}

/**
 * Confirms that the broker took the acks sent on `ch`: one round trip on the same channel (a
 * passive check of `queue`), answered only after the broker handled every frame before it. An
 * ack it refused closes the channel, and a dropped connection takes the acks with it; either way
 * their messages may be back in the queue, so the command fails and says so instead of reporting
 * them removed. (Not the channel's close: a close crossing the broker's own close resolves all
 * the same, amqplib answers it with close-ok.)
 */
export async function confirmAcks(ch: Channel, queue: string, done: string): Promise<void> {
  try {
    await ch.checkQueue(queue);
  } catch (err) {
    if (isNotFound(err)) {
      throw new TransientError("queue_not_found", `${done}, but ${queue} was deleted meanwhile: the letters still in it went with it`, { cause: err });
    }
    throw new TransientError(
      "broker_connection_lost",
      `${done}, but the broker did not confirm it took their acks (${errorMessage(err)}): some may still be in ${queue} as well; list it before running the command again`,
      { cause: err },
    );
  }
}

/** RABBITMQ_URL, or a ConfigError (exit 2) saying which command needed it. */
export function requireBrokerUrl(url: string | undefined, command: string): string {
  if (!url) throw new ConfigError(`RABBITMQ_URL is not set: ${command} talks to RabbitMQ (e.g. RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5672/)`);
  return url;
}
