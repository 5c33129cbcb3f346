/**
 * Where encoded task messages go. `publish()` resolves once the broker has confirmed the
 * message (it is then on disk in a durable queue, for persistent messages).
 *
 * AmqpTaskSink publishes on one confirm channel with confirms pipelined: up to `confirmWindow`
 * messages may await their confirm at once; callers beyond that wait for a slot, and when the
 * socket buffer is full (`publish()` returned false) everyone waits for 'drain'. Memory is thus
 * bounded by the window. A message whose confirm never came (nack, channel closed, connection
 * lost) is published again, with the same task id, on a fresh channel once the connection is
 * back (at-least-once: the consumer's upsert makes a duplicate harmless), up to `maxAttempts`.
 * With `{ mandatory: true }` a message that no queue takes fails with `unroutable` instead of
 * being confirmed and dropped (the publisher uses it for tasks, the worker for its retry and
 * dead-letter copies). A basic.return is matched to its publish by exchange, routing key,
 * correlation id and body: a dead letter may have no correlation id at all, and the same task
 * may be in flight twice (a redelivered duplicate).
 */
import type { ConfirmChannel } from "amqplib";
import type { EncodedMessage } from "../celery/codec.js";
import { errorMessage, isMatchflowError, PermanentError, TransientError } from "../errors.js";
import type { Logger } from "../log.js";
import { blockedTooLongError, closeOrGone, watchBlocked, type BrokerConnection } from "./connection.js";

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface PublishOptions {
  /**
   * Refuse (reject with PermanentError `unroutable`) a message that no queue would take, instead
   * of having the broker confirm and drop it. Off by default: an rpc reply to a client that has
   * gone away is legitimately unroutable. @default false
   */
  mandatory?: boolean;
}

export interface TaskSink {
  publish(exchange: string, routingKey: string, msg: EncodedMessage, options?: PublishOptions): Promise<void>;
  close(): Promise<void>;
}

export interface AmqpTaskSinkOptions {
  /** Messages awaiting a confirm at once (PUBLISH_CONFIRM_WINDOW). @default 1000 */
  confirmWindow?: number;
  /** Publishes of one message before it fails (1 = no republish). @default 5 */
  maxAttempts?: number;
  /** How long to keep trying to open a channel on a live connection before failing. @default 30000 */
  channelTimeoutMs?: number;
  /**
   * How long the broker may block publishing (a memory or disk alarm) before every message
   * awaiting its confirm, and every new one, fails with `broker_blocked` until it unblocks.
   * Undefined: wait as long as it blocks (the worker: its copies' originals stay unacked).
   * One-shot producers set it (PUBLISH_BLOCKED_TIMEOUT): a blocked broker otherwise held a scrape
   * for as long as the alarm lasted, with nothing said after "broker blocked publishing".
   */
  blockedTimeoutMs?: number;
  log: Logger;
}

/** What amqplib hands to a confirm channel's 'return' listener. */
interface ReturnedMessage {
  fields: { exchange: string; routingKey: string };
  properties: { correlationId?: unknown };
  content: Buffer;
}

interface Pending {
  exchange: string;
  routingKey: string;
  msg: EncodedMessage;
  attempts: number;
  lastError: string | undefined;
  mandatory: boolean;
  /** The broker returned it as unroutable (mandatory flag); its ack follows. */
  returned?: boolean;
  /** Failed for good (the broker blocked too long): a late confirm or channel error changes nothing. */
  failed?: boolean;
  resolve(): void;
  reject(err: Error): void;
}

export class AmqpTaskSink implements TaskSink {
  private channel: ConfirmChannel | undefined;
  private opening: Promise<ConfirmChannel> | undefined;
  private drained: Promise<void> | undefined;
  private inFlight = 0;
  private readonly slotWaiters: (() => void)[] = [];
  /** Mandatory publishes awaiting their confirm, by correlation id ("" when none), to match a basic.return. */
  private readonly awaitingReturn = new Map<string, Pending[]>();
  private readonly idleWaiters: (() => void)[] = [];
  private closed = false;
  private closePromise: Promise<void> | undefined;
  private readonly window: number;
  private readonly maxAttempts: number;
  private readonly channelTimeoutMs: number;
  /** Messages published or waiting for a slot, not yet confirmed or failed. */
  private readonly pending = new Set<Pending>();
  private stopWatchingBlocked: (() => void) | undefined;
  /** Set once the broker has blocked publishing for longer than blockedTimeoutMs; cleared when it unblocks. */
  private blockedTooLong: TransientError | undefined;

  constructor(
    private readonly connection: BrokerConnection,
    private readonly options: AmqpTaskSinkOptions,
  ) {
    this.window = Math.max(1, options.confirmWindow ?? 1000);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.channelTimeoutMs = options.channelTimeoutMs ?? 30_000;
    if (options.blockedTimeoutMs !== undefined) {
      const limit = options.blockedTimeoutMs;
      this.stopWatchingBlocked = watchBlocked(connection, limit, (reason) => this.failBlocked(reason, limit));
      connection.on("unblocked", () => (this.blockedTooLong = undefined));
    }
  }

  /** Fails what awaits a confirm and what waits for a slot; new publishes fail at once until the broker unblocks. */
  private failBlocked(reason: string, limitMs: number): void {
    this.blockedTooLong = blockedTooLongError(reason, limitMs);
    if (this.pending.size > 0) this.options.log.error({ reason, unconfirmed: this.pending.size, blockedForMs: limitMs }, "broker blocked publishing too long: unconfirmed messages fail");
    for (const p of [...this.pending]) this.settle(p, this.blockedTooLong);
    for (const wake of this.slotWaiters.splice(0)) wake();
  }

  private settle(p: Pending, err?: Error): void {
    if (p.failed === true || !this.pending.delete(p)) return;
    if (err) {
      p.failed = true;
      p.reject(err);
    } else p.resolve();
  }

  /** Messages published and not yet confirmed or failed. */
  get outstanding(): number {
    return this.inFlight;
  }

  async publish(exchange: string, routingKey: string, msg: EncodedMessage, options: PublishOptions = {}): Promise<void> {
    if (this.closed) throw new TransientError("publisher_closed", "the publisher is closed");
    while (this.inFlight >= this.window && !this.blockedTooLong) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    if (this.blockedTooLong) throw this.blockedTooLong;
    this.inFlight++;
    try {
      await new Promise<void>((resolve, reject) => {
        const p: Pending = { exchange, routingKey, msg, attempts: 0, lastError: undefined, mandatory: options.mandatory ?? false, resolve, reject };
        this.pending.add(p);
        void this.send(p);
      });
    } finally {
      this.inFlight--;
      this.slotWaiters.shift()?.();
      if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** One publish attempt; on a missing confirm, tries again until maxAttempts. Never throws. */
  private async send(p: Pending): Promise<void> {
    let channel: ConfirmChannel;
    try {
      channel = await this.channelFor(p);
      if (this.drained) await this.drained;
    } catch (err) {
      this.settle(p, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (p.failed === true) return;
    p.attempts++;
    // A return seen on an earlier attempt's channel says nothing about this attempt.
    p.returned = false;
    if (p.mandatory) this.awaitReturn(p);
    try {
      // mandatory: a message no queue would take comes back (basic.return, before its ack)
      // instead of being confirmed and silently dropped, the original system's stranded-queue failure.
      const ok = channel.publish(p.exchange, p.routingKey, p.msg.content, { ...p.msg.properties, mandatory: p.mandatory }, (err: unknown) => {
        if (p.mandatory) this.stopAwaitingReturn(p);
        if (err) this.retryOrFail(p, errorMessage(err));
        else if (p.returned) this.settle(p, new PermanentError("unroutable", `no queue is bound to exchange "${p.exchange}" with routing key "${p.routingKey}": message returned by the broker`));
        else this.settle(p);
      });
      if (!ok && !this.drained) this.drained = this.waitDrain(channel);
    } catch (err) {
      // amqplib throws synchronously when the channel is already closed.
      if (p.mandatory) this.stopAwaitingReturn(p);
      this.retryOrFail(p, errorMessage(err));
    }
  }

  private awaitReturn(p: Pending): void {
    const key = p.msg.properties.correlationId ?? "";
    const list = this.awaitingReturn.get(key);
    if (list) list.push(p);
    else this.awaitingReturn.set(key, [p]);
  }

  private stopAwaitingReturn(p: Pending): void {
    const key = p.msg.properties.correlationId ?? "";
    const list = this.awaitingReturn.get(key);
    const at = list?.indexOf(p) ?? -1;
    if (!list || at < 0) return;
    list.splice(at, 1);
    if (list.length === 0) this.awaitingReturn.delete(key);
  }

  /** basic.return: marks the oldest matching publish (its confirm follows and then fails it). */
  private onReturn(returned: ReturnedMessage): void {
    const id = returned.properties.correlationId;
    const list = this.awaitingReturn.get(typeof id === "string" ? id : "");
    const { exchange, routingKey } = returned.fields;
    const pending = list?.find((p) => !p.returned && p.exchange === exchange && p.routingKey === routingKey && p.msg.content.equals(returned.content));
    if (pending) pending.returned = true;
  }

  /**
   * A usable confirm channel. While the connection is going down, opening one fails at once, so
   * we back off and try again (this does not count as a publish attempt) until the connection's
   * own ready timeout gives up with `broker_unreachable`.
   */
  private async channelFor(p: Pending): Promise<ConfirmChannel> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.openChannel();
      } catch (err) {
        if (isMatchflowError(err) || Date.now() - started > this.channelTimeoutMs) {
          throw new TransientError("publish_failed", `message not published: ${errorMessage(err)}${p.lastError ? ` (after: ${p.lastError})` : ""}`, { cause: err });
        }
        await sleep(Math.min(25 * 2 ** attempt, 1000));
      }
    }
  }

  private retryOrFail(p: Pending, reason: string): void {
    if (p.failed === true) return;
    p.lastError = reason;
    if (p.attempts >= this.maxAttempts) {
      this.settle(p, new TransientError("publish_failed", `message not confirmed by the broker after ${p.attempts} attempt(s): ${reason}`));
      return;
    }
    this.options.log.debug({ attempt: p.attempts, reason, taskId: p.msg.properties.correlationId }, "publishing again (no confirm)");
    // A short pause lets a dying connection finish closing, so the retry waits for the new one.
    setTimeout(() => void this.send(p), Math.min(50 * 2 ** p.attempts, 2000));
  }

  private waitDrain(channel: ConfirmChannel): Promise<void> {
    const promise: Promise<void> = new Promise<void>((resolve) => {
      const done = () => {
        channel.off("drain", done);
        channel.off("close", done);
        if (this.drained === promise) this.drained = undefined;
        resolve();
      };
      channel.on("drain", done);
      channel.on("close", done);
    });
    return promise;
  }

  private openChannel(): Promise<ConfirmChannel> {
    if (this.channel) return Promise.resolve(this.channel);
    this.opening ??= this.connection
      .createConfirmChannel()
      .then((channel) => {
        channel.on("error", (err: Error) => this.options.log.warn({ err: errorMessage(err) }, "publish channel error"));
        channel.on("return", (msg: ReturnedMessage) => this.onReturn(msg));
        channel.on("close", () => {
          if (this.channel === channel) this.channel = undefined;
        });
        this.channel = channel;
        return channel;
      })
      .finally(() => {
        this.opening = undefined;
      });
    return this.opening;
  }

  /** Idempotent: waits until every published message is confirmed or failed, then closes the channel. */
  close(): Promise<void> {
    if (!this.closePromise) {
      this.closed = true;
      this.closePromise = (async () => {
        if (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
        const channel = this.channel;
        this.channel = undefined;
        // Also done when the connection dies before the broker's close-ok (see closeOrGone). A
        // blocked connection reads nothing, so no close-ok would come: its bounded close ends the channel.
        if (channel && this.connection.blockedReason === undefined) await closeOrGone(channel, () => channel.close());
        this.stopWatchingBlocked?.();
      })();
    }
    return this.closePromise;
  }
}
