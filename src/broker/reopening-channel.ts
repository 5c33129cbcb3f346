/**
 * A channel of one's own on a BrokerConnection that comes back after every reconnect: opened and
 * set up (`setUp`: declarations, a consumer) when asked and again on each "ready"; a failure is
 * logged and waits for the next reconnect. What the Celery side channels (events, remote control)
 * share: neither may ever hold up the worker's tasks, so nothing here throws or waits long.
 */
import type { Channel } from "amqplib";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { closeOrGone, type BrokerConnection } from "./connection.js";

export class ReopeningChannel {
  private channel: Channel | undefined;
  private opening: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly connection: BrokerConnection,
    /** "Celery event", "Celery control": how log lines name it. */
    private readonly what: string,
    private readonly setUp: (channel: Channel) => Promise<void>,
    private readonly log: Logger,
  ) {
    connection.on("ready", () => void this.open());
  }

  /** The channel while it is open and set up. */
  get current(): Channel | undefined {
    return this.channel;
  }

  /** Opens and sets up the channel unless it is; resolves either way. */
  open(): Promise<void> {
    if (this.closed || this.channel || !this.connection.isConnected) return Promise.resolve();
    this.opening ??= this.connection
      .createChannel()
      .then(async (channel) => {
        channel.on("error", (err: Error) => this.log.warn({ err: errorMessage(err) }, `${this.what} channel error`));
        channel.on("close", () => {
          if (this.channel === channel) this.channel = undefined;
        });
        await this.setUp(channel);
        if (this.closed) await channel.close().catch(() => undefined);
        else this.channel = channel;
      })
      .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, `${this.what} channel: could not open or set it up; trying again after the next reconnect`))
      .finally(() => (this.opening = undefined));
    return this.opening;
  }

  /** Bounded: a blocked or silent connection never answers the close. */
  async close(): Promise<void> {
    this.closed = true;
    const channel = this.channel;
    this.channel = undefined;
    await this.opening;
    if (channel) await closeOrGone(channel, () => channel.close()).catch(() => undefined);
  }
}
