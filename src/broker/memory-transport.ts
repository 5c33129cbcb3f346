/**
 * An in-process broker for the embedded mode (`matchflow run` without RABBITMQ_URL): the same
 * interfaces as RabbitMQ (a TaskSink for the publisher, a WorkTransport for the worker) and the
 * same semantics (ack after commit, redelivery of what was not acked, delayed retries, a
 * dead-letter queue).
 *
 * Durability limits (also in the README): everything lives in this process's memory. Messages
 * not yet processed, delayed retries and dead letters are gone when the process exits. That is
 * fine for one-shot runs (the scrape is simply run again: upserts make it harmless); use
 * RabbitMQ for anything long-lived.
 */
import type { EncodedMessage } from "../celery/codec.js";
import { headersAsDelivered } from "./field-values.js";
import type { InboundMessage, OutgoingMessage, WorkTransport } from "../worker/transport.js";

interface Stored {
  content: Buffer;
  properties: OutgoingMessage["properties"];
  exchange: string;
  routingKey: string;
  redelivered: boolean;
}

export interface MemoryBrokerStats {
  ready: number;
  unacked: number;
  delayed: number;
  deadLetters: number;
}

export class MemoryBroker implements WorkTransport {
  private readonly ready: Stored[] = [];
  private readonly unacked = new Map<number, Stored>();
  private readonly timers = new Set<NodeJS.Timeout>();
  readonly deadLetters: OutgoingMessage[] = [];
  readonly replies: { replyTo: string; message: OutgoingMessage }[] = [];
  private consumer: ((m: InboundMessage) => void) | undefined;
  private prefetch = 0;
  private nextTag = 1;
  private closed = false;
  private scheduled = false;
  private readonly idleWaiters: (() => void)[] = [];

  constructor(private readonly route: { exchange: string; routingKey: string; queue: string }) {}

  // --- TaskSink (publisher side) ---

  publish(exchange: string, routingKey: string, msg: EncodedMessage | OutgoingMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error("in-process broker is closed"));
    const toWork = (exchange === this.route.exchange && routingKey === this.route.routingKey) || (exchange === "" && routingKey === this.route.queue);
    if (!toWork) return Promise.reject(new Error(`unroutable: exchange ${JSON.stringify(exchange)} routing key ${JSON.stringify(routingKey)}`));
    const { headers } = msg.properties;
    this.ready.push({ content: msg.content, properties: { ...msg.properties, ...(headers ? { headers: headersAsDelivered(headers) } : {}) }, exchange, routingKey, redelivered: false });
    this.schedule();
    return Promise.resolve();
  }

  // --- WorkTransport (worker side) ---

  consume(prefetch: number, onMessage: (message: InboundMessage) => void): Promise<void> {
    this.prefetch = prefetch;
    this.consumer = onMessage;
    this.schedule();
    return Promise.resolve();
  }

  stopConsuming(): Promise<void> {
    this.consumer = undefined;
    return Promise.resolve();
  }

  ack(message: InboundMessage): void {
    this.unacked.delete(message.token as number);
    this.schedule();
  }

  requeue(message: InboundMessage): void {
    const stored = this.unacked.get(message.token as number);
    if (!stored) return;
    this.unacked.delete(message.token as number);
    this.ready.unshift({ ...stored, redelivered: true });
    this.schedule();
  }

  retry(message: InboundMessage, retry: OutgoingMessage, _attempt: number, delayMs: number): Promise<void> {
    return this.later(message, retry, delayMs);
  }

  delay(message: InboundMessage, copy: OutgoingMessage, tierMs: number): Promise<void> {
    return this.later(message, copy, tierMs);
  }

  /** A timer stands for a delay queue: the copy comes back to the work queue after `ms`. */
  private later(message: InboundMessage, copy: OutgoingMessage, ms: number): Promise<void> {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.closed) return;
      this.ready.push({ content: copy.content, properties: copy.properties, exchange: this.route.exchange, routingKey: this.route.routingKey, redelivered: false });
      this.schedule();
    }, ms);
    this.timers.add(timer);
    this.ack(message);
    return Promise.resolve();
  }

  deadLetter(message: InboundMessage, deadLetter: OutgoingMessage): Promise<void> {
    this.deadLetters.push(deadLetter);
    this.ack(message);
    return Promise.resolve();
  }

  reply(replyTo: string, result: OutgoingMessage): Promise<void> {
    this.replies.push({ replyTo, message: result });
    return Promise.resolve();
  }

  isConnected(): boolean {
    return !this.closed;
  }

  /** Unacked deliveries return to the queue (as RabbitMQ does when a channel closes); delayed ones are dropped. */
  close(): Promise<void> {
    this.consumer = undefined;
    for (const [, stored] of this.unacked) this.ready.unshift({ ...stored, redelivered: true });
    this.unacked.clear();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.closed = true;
    this.notifyIdle();
    return Promise.resolve();
  }

  stats(): MemoryBrokerStats {
    return { ready: this.ready.length, unacked: this.unacked.size, delayed: this.timers.size, deadLetters: this.deadLetters.length };
  }

  /** Resolves when nothing is ready, unacked or delayed. */
  drained(): Promise<void> {
    if (this.isDrained()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isDrained(): boolean {
    return this.ready.length === 0 && this.unacked.size === 0 && this.timers.size === 0;
  }

  private notifyIdle(): void {
    if (this.isDrained() || this.closed) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Deliveries happen on a later tick, never inside the caller's stack (as with a socket). */
  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.deliver();
      this.notifyIdle();
    });
  }

  private deliver(): void {
    while (this.consumer && !this.closed && this.ready.length > 0 && this.unacked.size < this.prefetch) {
      const stored = this.ready.shift() as Stored;
      const tag = this.nextTag++;
      this.unacked.set(tag, stored);
      this.consumer({ content: stored.content, properties: stored.properties, exchange: stored.exchange, routingKey: stored.routingKey, redelivered: stored.redelivered, receivedAt: Date.now(), token: tag });
    }
  }

  /** The publisher's view: publishing only; closing the publisher leaves the broker running for the worker. */
  asSink(): { publish: MemoryBroker["publish"]; close(): Promise<void> } {
    return { publish: (exchange, routingKey, msg) => this.publish(exchange, routingKey, msg), close: () => Promise.resolve() };
  }
}
