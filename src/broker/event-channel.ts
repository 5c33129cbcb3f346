/**
 * Sends Celery monitoring events (celery/events.ts) on a channel of their own, as Celery does:
 * transient, unconfirmed, fire and forget. An event never waits and never holds a task up: while
 * the channel is missing (not open yet, the connection lost) or its write buffer is full, events
 * are dropped and counted. The exchange `celeryev` is declared as Celery declares it (topic,
 * durable) when the channel opens, again after every reconnect.
 */
import type { Channel } from "amqplib";
import { CELERY_EVENT_EXCHANGE, type CeleryEvent } from "../celery/events.js";
import type { Logger } from "../log.js";
import type { CeleryEventSink } from "../worker/transport.js";
import type { BrokerConnection } from "./connection.js";
import { ReopeningChannel } from "./reopening-channel.js";

export class CeleryEventChannel implements CeleryEventSink {
  private readonly side: ReopeningChannel;
  /** The channel's buffer is full: drop until it drains. */
  private full = false;

  constructor(connection: BrokerConnection, log: Logger) {
    this.side = new ReopeningChannel(connection, "Celery event", (channel) => this.setUp(channel), log);
  }

  private async setUp(channel: Channel): Promise<void> {
    channel.on("drain", () => (this.full = false));
    await channel.assertExchange(CELERY_EVENT_EXCHANGE, "topic", { durable: true, autoDelete: false });
    this.full = false;
  }

  open(): Promise<void> {
    return this.side.open();
  }

  send(event: CeleryEvent): boolean {
    const channel = this.side.current;
    if (!channel || this.full) return false;
    try {
      this.full = !channel.publish(CELERY_EVENT_EXCHANGE, event.routingKey, event.content, event.properties);
      return true;
    } catch {
      // amqplib throws on a channel that is closing: its close handler clears it.
      return false;
    }
  }

  close(): Promise<void> {
    return this.side.close();
  }
}
