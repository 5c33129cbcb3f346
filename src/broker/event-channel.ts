/**
 * Sends Celery monitoring events (celery/events.ts) on a channel of their own, as Celery does:
 * transient, unconfirmed, fire and forget. An event never waits and never holds a task up: while
 * the channel is missing (not open yet, the connection lost) or its write buffer is full, events
 * are dropped and counted. The exchange `celeryev` is declared as Celery declares it (topic,
 * durable) when the channel opens, again after every reconnect.
 */
import type { Channel } from "amqplib";
import { CELERY_EVENT_EXCHANGE, type CeleryEvent } from "../celery/events.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import type { CeleryEventSink } from "../worker/transport.js";
import { closeOrGone, type BrokerConnection } from "./connection.js";

export class CeleryEventChannel implements CeleryEventSink {
  private channel: Channel | undefined;
  private opening: Promise<void> | undefined;
  /** The channel's buffer is full: drop until it drains. */
  private full = false;
  private closed = false;

  constructor(
    private readonly connection: BrokerConnection,
    private readonly log: Logger,
  ) {
    connection.on("ready", () => void this.open());
  }

  /** Opens the channel and declares the exchange; resolves either way (a failure is logged, events then dropped). */
  open(): Promise<void> {
    if (this.closed || this.channel || !this.connection.isConnected) return Promise.resolve();
    this.opening ??= this.connection
      .createChannel()
      .then(async (channel) => {
        channel.on("error", (err: Error) => this.log.warn({ err: errorMessage(err) }, "Celery event channel error"));
        channel.on("close", () => {
          if (this.channel === channel) this.channel = undefined;
        });
        channel.on("drain", () => (this.full = false));
        await channel.assertExchange(CELERY_EVENT_EXCHANGE, "topic", { durable: true, autoDelete: false });
        if (this.closed) await channel.close().catch(() => undefined);
        else this.channel = channel;
        this.full = false;
      })
      .catch((err: unknown) => this.log.warn({ err: errorMessage(err), exchange: CELERY_EVENT_EXCHANGE }, "cannot send Celery events (could not open their channel or declare their exchange); events are dropped until the next reconnect"))
      .finally(() => (this.opening = undefined));
    return this.opening;
  }

  send(event: CeleryEvent): boolean {
    const channel = this.channel;
    if (!channel || this.full) return false;
    try {
      this.full = !channel.publish(CELERY_EVENT_EXCHANGE, event.routingKey, event.content, event.properties);
      return true;
    } catch {
      // amqplib throws on a channel that is closing: the close handler clears it.
      return false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const channel = this.channel;
    this.channel = undefined;
    await this.opening;
    // Bounded: a blocked or silent connection never answers the close.
    if (channel) await closeOrGone(channel, () => channel.close()).catch(() => undefined);
  }
}
