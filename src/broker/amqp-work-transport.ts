/**
 * The worker's side of RabbitMQ: a consumer channel with manual acks and prefetch, plus a
 * confirm channel (AmqpTaskSink) for retries, dead letters and rpc results.
 *
 * - Retry / dead letter: publish, wait for the broker's confirm, only then ack the original;
 *   a crash in between leaves both copies, never none (the upsert makes the duplicate harmless).
 * - Acks are coalesced per event-loop turn into one `multiple` ack (AckTracker).
 * - Connection loss: BrokerConnection reconnects; we re-declare the topology and consume again.
 *   Deliveries of the old channel can no longer be settled: they are silently dropped here and
 *   RabbitMQ redelivers them (marked redelivered).
 */
import type { Channel, ConsumeMessage } from "amqplib";
import type { Config } from "../config.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import type { InboundMessage, OutgoingMessage, WorkTransport } from "../worker/transport.js";
import { AckTracker } from "./ack-tracker.js";
import { BrokerConnection } from "./connection.js";
import { AmqpTaskSink } from "./task-sink.js";
import { declareTopology, retryDelayQueueName, topologyNames, type TopologyNames } from "./topology.js";
import type { EncodedMessage } from "../celery/codec.js";

interface ConsumerState {
  channel: Channel;
  tracker: AckTracker;
  open: boolean;
  consumerTag: string | undefined;
}

interface Token {
  state: ConsumerState;
  tag: number;
}

export interface AmqpWorkTransportOptions {
  url: string;
  config: Config;
  log: Logger;
  /**
   * Given: wait for an unreachable broker until this aborts (the long-running worker).
   * Absent: one attempt, `broker_unreachable` if it fails (one-shot commands).
   */
  waitUntil?: AbortSignal;
}

export async function createAmqpWorkTransport(options: AmqpWorkTransportOptions): Promise<AmqpWorkTransport> {
  const connectionOptions = { url: options.url, log: options.log, connectionName: "matchflow worker" };
  const connection = options.waitUntil ? await BrokerConnection.openWhenReachable(connectionOptions, options.waitUntil) : await BrokerConnection.open(connectionOptions);
  const transport = new AmqpWorkTransport(connection, topologyNames(options.config.topology, options.config.retry), options.config, options.log);
  try {
    await transport.declare();
  } catch (err) {
    // A topology the broker refuses (e.g. a queue declared with other arguments): nothing to
    // wait for, and an open connection would keep the process alive after the error.
    await transport.close();
    throw err;
  }
  return transport;
}

export class AmqpWorkTransport implements WorkTransport {
  private state: ConsumerState | undefined;
  private onMessage: ((m: InboundMessage) => void) | undefined;
  private prefetch = 1;
  private consuming = false;
  private closing: Promise<void> | undefined;
  private flushScheduled = false;
  private readonly sink: AmqpTaskSink;
  private readonly listeners: ((up: boolean) => void)[] = [];

  constructor(
    private readonly connection: BrokerConnection,
    readonly names: TopologyNames,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.sink = new AmqpTaskSink(connection, { confirmWindow: config.publish.confirmWindow, log });
    connection.on("ready", () => {
      this.emit(true);
      if (this.consuming && !this.closing) {
        this.log.info("broker reconnected: declaring topology and consuming again");
        this.declare()
          .then(() => this.openConsumer())
          .catch((err: unknown) => this.log.error({ err: errorMessage(err) }, "could not resume consuming after reconnect"));
      }
    });
    connection.on("disconnected", () => this.emit(false));
  }

  async declare(): Promise<void> {
    const report = await declareTopology(this.connection, this.names, { queueType: this.config.topology.queueType, log: this.log });
    for (const warning of report.warnings) this.log.warn({ warning }, "topology differs from what matchflow would declare");
  }

  async consume(prefetch: number, onMessage: (message: InboundMessage) => void): Promise<void> {
    this.prefetch = prefetch;
    this.onMessage = onMessage;
    this.consuming = true;
    await this.openConsumer();
  }

  private async openConsumer(): Promise<void> {
    const channel = await this.connection.createChannel();
    const state: ConsumerState = { channel, tracker: new AckTracker(), open: true, consumerTag: undefined };
    channel.on("error", (err: Error) => this.log.warn({ err: errorMessage(err) }, "consumer channel error"));
    channel.on("close", () => {
      state.open = false;
      if (this.state === state) this.state = undefined;
      // A channel-level close on a live connection (e.g. consumer timeout): consume again.
      if (this.consuming && !this.closing && this.connection.isConnected) {
        setTimeout(() => {
          if (this.consuming && !this.closing && !this.state && this.connection.isConnected) {
            this.openConsumer().catch((err: unknown) => this.log.error({ err: errorMessage(err) }, "could not reopen the consumer channel"));
          }
        }, 500).unref();
      }
    });
    await channel.prefetch(this.prefetch);
    this.state = state;
    const { consumerTag } = await channel.consume(this.names.queue, (msg) => this.deliver(state, msg), { noAck: false });
    state.consumerTag = consumerTag;
    this.log.debug({ queue: this.names.queue, prefetch: this.prefetch }, "consuming");
  }

  private deliver(state: ConsumerState, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The server cancelled us (queue deleted): the close handler or a reconnect brings us back.
      this.log.warn({ queue: this.names.queue }, "consumer cancelled by the broker");
      state.channel.close().catch(() => undefined);
      return;
    }
    const token: Token = { state, tag: msg.fields.deliveryTag };
    this.onMessage?.({
      content: msg.content,
      properties: msg.properties,
      exchange: msg.fields.exchange,
      routingKey: msg.fields.routingKey,
      redelivered: msg.fields.redelivered,
      receivedAt: Date.now(),
      token,
    });
  }

  async stopConsuming(): Promise<void> {
    this.consuming = false;
    const state = this.state;
    if (state?.open && state.consumerTag) await state.channel.cancel(state.consumerTag);
  }

  ack(message: InboundMessage): void {
    const { state, tag } = message.token as Token;
    if (!state.open) return;
    state.tracker.ack(tag);
    this.scheduleFlush(state);
  }

  requeue(message: InboundMessage): void {
    const { state, tag } = message.token as Token;
    if (!state.open) return;
    state.tracker.settledOtherwise(tag);
    state.channel.nack({ fields: { deliveryTag: tag } } as ConsumeMessage, false, true);
    this.scheduleFlush(state);
  }

  private scheduleFlush(state: ConsumerState): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush(state);
    });
  }

  private flush(state: ConsumerState | undefined): void {
    if (!state?.open) return;
    const upTo = state.tracker.take();
    if (upTo === undefined) return;
    try {
      state.channel.ack({ fields: { deliveryTag: upTo } } as ConsumeMessage, true);
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "ack failed (channel closing); the broker will redeliver");
    }
  }

  async retry(message: InboundMessage, retry: OutgoingMessage, attempt: number, delayMs: number): Promise<void> {
    const queue = retryDelayQueueName(this.names, attempt);
    const msg = { content: retry.content, properties: { ...retry.properties, expiration: String(delayMs) } } as EncodedMessage;
    await this.sink.publish("", queue, msg);
    this.ack(message);
  }

  async deadLetter(message: InboundMessage, deadLetter: OutgoingMessage): Promise<void> {
    const msg = { content: deadLetter.content, properties: { ...deadLetter.properties, expiration: undefined, deliveryMode: 2 } } as EncodedMessage;
    await this.sink.publish(this.names.deadLetterExchange, this.names.deadLetterRoutingKey, msg);
    this.ack(message);
  }

  async reply(replyTo: string, result: OutgoingMessage): Promise<void> {
    await this.sink.publish("", replyTo, result as EncodedMessage);
  }

  /** The connection is up and, once `consume` was called, so is the consumer channel. */
  isConnected(): boolean {
    return this.connection.isConnected && (!this.consuming || this.state?.open === true);
  }

  onConnectionChange(listener: (up: boolean) => void): void {
    this.listeners.push(listener);
  }

  private emit(up: boolean): void {
    for (const l of this.listeners) l(up);
  }

  /** Flushes pending acks, waits for outstanding confirms, closes channels and the connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.consuming = false;
      const state = this.state;
      this.flush(state);
      await this.sink.close().catch(() => undefined);
      if (state?.open) await state.channel.close().catch(() => undefined);
      await this.connection.close();
      this.emit(false);
    })();
    return this.closing;
  }
}
