/**
 * The worker's consumer of the work queue: one channel with manual acks and prefetch, opened
 * once at a time and opened again whenever it is lost while the worker consumes.
 *
 * It is lost in two ways: the channel alone closes on a live connection (RabbitMQ's consumer
 * timeout, the queue deleted: the broker cancels the consumer), or the connection goes and comes
 * back. Both are met the same way: the topology is declared again (a deleted queue comes back,
 * with its bindings) and the consumer opened, one try at a time, tried again with a growing pause
 * until it works or the worker stops. One at a time matters: amqplib closes a dying connection's
 * channels before it says the connection is gone, so a channel's close and the reconnect both
 * asked for a consumer, and two were opened when the reconnect's declarations outlasted the
 * channel's pause (a slow link): the prefetch doubled and the second one, unknown to the worker,
 * kept taking deliveries after its stop. A declaration or an open that failed was given up for
 * good (the worker stayed connected and consumed nothing).
 */
import type { Channel, ConsumeMessage } from "amqplib";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import type { InboundMessage } from "../worker/transport.js";
import type { BrokerConnection } from "./connection.js";
import { ConsumerAcks } from "./consumer-acks.js";
import { boundReceivedHeaders } from "./inbound-headers.js";

export interface ConsumerState {
  channel: Channel;
  acks: ConsumerAcks;
  open: boolean;
  consumerTag: string | undefined;
}

/** What an InboundMessage's token holds: its delivery tag on the channel that delivered it. */
export interface Token {
  state: ConsumerState;
  tag: number;
}

/** The pause before consuming again after the channel closed on a live connection. */
const REOPEN_AFTER_CLOSE_MS = 500;
const RESUME_MAX_PAUSE_MS = 15_000;

/** The pause after `failures` failed tries to consume again: 1 s, 2 s, 4 s, ... 15 s. Pure. */
export function resumePauseMs(failures: number): number {
  return Math.min(1000 * 2 ** Math.min(Math.max(failures - 1, 0), 14), RESUME_MAX_PAUSE_MS);
}

export interface WorkConsumerOptions {
  connection: BrokerConnection;
  queue: string;
  /** Declares the topology (before consuming again: a deleted queue comes back). */
  declare: () => Promise<void>;
  /** The channel closed: whatever waits on it ends (the transport's pauses). */
  onChannelClosed: () => void;
  log: Logger;
}

export class WorkConsumer {
  private state: ConsumerState | undefined;
  /** The consumer channel being opened: every caller joins it, so there is never a second one. */
  private opening: Promise<void> | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  private consuming = false;
  private closed = false;
  private prefetch = 1;
  private onMessage: ((m: InboundMessage) => void) | undefined;

  constructor(private readonly options: WorkConsumerOptions) {
    options.connection.on("ready", () => {
      if (!this.consuming || this.closed) return;
      this.options.log.info("broker reconnected: declaring topology and consuming again");
      this.resume(0, true);
    });
  }

  /** The consumer channel is open (or nothing is consumed yet). */
  get healthy(): boolean {
    return !this.consuming || this.state?.open === true;
  }

  /** The current consumer channel, while open. */
  get current(): ConsumerState | undefined {
    return this.state;
  }

  /** Starts consuming; rejects when the first consumer cannot be opened. */
  async start(prefetch: number, onMessage: (message: InboundMessage) => void): Promise<void> {
    this.prefetch = prefetch;
    this.onMessage = onMessage;
    this.consuming = true;
    try {
      await this.open();
    } catch (err) {
      this.consuming = false;
      clearTimeout(this.resumeTimer);
      this.resumeTimer = undefined;
      throw err;
    }
  }

  /** Stops taking deliveries (basic.cancel); the channel stays open to settle what was delivered. */
  async stop(): Promise<void> {
    this.consuming = false;
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    // An open under way finishes first, so that its consumer is the one cancelled.
    await this.opening?.catch(() => undefined);
    const state = this.state;
    if (state?.open && state.consumerTag) await state.channel.cancel(state.consumerTag);
  }

  /**
   * No more consuming, ever (the transport closes the channel with its connection): a consumer
   * being opened is waited for, so that its acks are flushed too. Not bounded: the caller bounds it.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.consuming = false;
    clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    await this.opening?.catch(() => undefined);
  }

  private wanted(): boolean {
    return this.consuming && !this.closed && this.state === undefined && this.options.connection.isConnected;
  }

  /** Consume again in `delayMs`, unless a try is due already; `replace` reschedules that one. */
  private resume(delayMs: number, replace = false): void {
    if (this.resumeTimer) {
      if (!replace) return;
      clearTimeout(this.resumeTimer);
    }
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined;
      void this.tryResume();
    }, delayMs);
    this.resumeTimer.unref();
  }

  private async tryResume(): Promise<void> {
    if (!this.wanted()) return;
    try {
      await this.options.declare();
      if (!this.wanted()) return;
      await this.open();
      this.options.log.info({ queue: this.options.queue, failedTries: this.failures || undefined }, "consuming again");
      this.failures = 0;
    } catch (err) {
      this.failures++;
      const pauseMs = resumePauseMs(this.failures);
      this.options.log.error({ queue: this.options.queue, err: errorMessage(err), failures: this.failures, pauseMs }, "could not consume again (declaring the topology or opening the consumer): trying again");
      if (this.wanted()) this.resume(pauseMs, true);
    }
  }

  private open(): Promise<void> {
    this.opening ??= this.openChannel().finally(() => {
      this.opening = undefined;
    });
    return this.opening;
  }

  private async openChannel(): Promise<void> {
    const channel = await this.options.connection.createChannel();
    const state: ConsumerState = { channel, acks: new ConsumerAcks(channel, this.options.log), open: true, consumerTag: undefined };
    channel.on("error", (err: Error) => this.options.log.warn({ err: errorMessage(err) }, "consumer channel error"));
    channel.on("close", () => {
      state.open = false;
      state.acks.stop();
      if (this.state === state) this.state = undefined;
      this.options.onChannelClosed();
      // A close on a live connection (consumer timeout, queue deleted) or the first sign of a
      // lost one: the reconnect's "ready" brings the consumer back at once in the latter case.
      if (this.consuming && !this.closed) this.resume(this.failures > 0 ? resumePauseMs(this.failures) : REOPEN_AFTER_CLOSE_MS);
    });
    await channel.prefetch(this.prefetch);
    if (!this.consuming || this.closed) {
      await channel.close().catch(() => undefined);
      return;
    }
    const { consumerTag } = await channel.consume(this.options.queue, (msg) => this.deliver(state, msg), { noAck: false });
    state.consumerTag = consumerTag;
    if (state.open) this.state = state;
    this.options.log.debug({ queue: this.options.queue, prefetch: this.prefetch }, "consuming");
  }

  private deliver(state: ConsumerState, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The server cancelled us (queue deleted): the channel's close brings us back, queue declared again.
      this.options.log.warn({ queue: this.options.queue }, "consumer cancelled by the broker (queue deleted?): declaring it again and consuming");
      // What is processed is acked before the close, as on a stop: the close would drop those acks.
      state.acks.finish();
      state.channel.close().catch(() => undefined);
      return;
    }
    const token: Token = { state, tag: msg.fields.deliveryTag };
    // Held until its batch settles, with a full prefetch of others: its headers' heap is bounded (inbound-headers.ts).
    const bounded = boundReceivedHeaders(msg.properties.headers);
    this.onMessage?.({
      content: msg.content,
      properties: bounded.dropped.length === 0 ? msg.properties : { ...msg.properties, headers: bounded.headers },
      ...(bounded.dropped.length === 0 ? {} : { droppedHeaders: bounded.dropped }),
      exchange: msg.fields.exchange,
      routingKey: msg.fields.routingKey,
      redelivered: msg.fields.redelivered,
      receivedAt: Date.now(),
      token,
    });
  }
}
