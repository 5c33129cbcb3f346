/**
 * A channel of one's own on a BrokerConnection that comes back after every reconnect: opened and
 * set up (`setUp`: declarations, a consumer) when asked and again on each "ready"; a failure is
 * logged and waits for the next reconnect. Closed alone on a live connection (its queue or
 * exchange deleted: a 404, a consumer cancelled), it is opened and set up again after a pause
 * that grows while it keeps closing; before, events or remote control stopped in silence until
 * the next reconnect. What the Celery side channels (events, remote control) share: neither may
 * ever hold up the worker's tasks, so nothing here throws or waits long.
 */
import type { Channel } from "amqplib";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { closeOrGone, type BrokerConnection } from "./connection.js";

/** The pause before opening again after the `closes`-th close in a row on a live connection: 1 s, 2 s, 4 s ... 30 s. Pure. */
export function reopenPauseMs(closes: number): number {
  return Math.min(1000 * 2 ** Math.max(0, Math.min(closes - 1, 10)), 30_000);
}

/** A channel that stayed open this long counts as working: the pause starts again from 1 s. */
const STABLE_MS = 60_000;

export class ReopeningChannel {
  private channel: Channel | undefined;
  private opening: Promise<void> | undefined;
  private closed = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private closesInARow = 0;

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
        const openedAt = Date.now();
        channel.on("close", () => {
          if (this.channel === channel) this.channel = undefined;
          // A lost connection closes its channels before it says it is gone: told apart a turn
          // later, when `isConnected` knows (the reconnect's "ready" opens it again). Decided at
          // once, every reconnect was logged as a channel "closed by the broker".
          setImmediate(() => {
            if (this.closed || !this.connection.isConnected || this.reopenTimer || this.channel) return;
            this.closesInARow = Date.now() - openedAt >= STABLE_MS ? 1 : this.closesInARow + 1;
            const pauseMs = reopenPauseMs(this.closesInARow);
            this.log.warn({ pauseMs }, `${this.what} channel closed by the broker: opening it again`);
            this.reopenTimer = setTimeout(() => {
              this.reopenTimer = undefined;
              void this.open();
            }, pauseMs);
            this.reopenTimer.unref();
          });
        });
        await this.setUp(channel);
        if (this.closed) await channel.close().catch(() => undefined);
        else this.channel = channel;
      })
      .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, `${this.what} channel: could not open or set it up; trying again later (after a pause, or the next reconnect)`))
      .finally(() => (this.opening = undefined));
    return this.opening;
  }

  /** Bounded: a blocked or silent connection never answers the close. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    const channel = this.channel;
    this.channel = undefined;
    await this.opening;
    if (channel) await closeOrGone(channel, () => channel.close()).catch(() => undefined);
  }
}
