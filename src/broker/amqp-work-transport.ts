/**
 * The worker's side of RabbitMQ: a consumer channel with manual acks and prefetch, plus a
 * confirm channel (AmqpTaskSink) for retries, dead letters and rpc results on a second
 * connection (a broker's resource alarm blocks a connection that publishes, acks included).
 *
 * - Retry / dead letter: publish, wait for the broker's confirm, only then ack the original;
 *   a crash in between leaves both copies, never none (the upsert makes the duplicate harmless).
 *   Copies are mandatory: when their queue is gone the broker returns them instead of confirming
 *   and dropping them; see `publishCopy` for what happens then.
 * - Acks: ConsumerAcks (coalesced into `multiple` acks; an original whose copy is confirmed at
 *   once; deliveries stuck behind a slow lower one one by one).
 * - Connection or consumer channel loss: BrokerConnection reconnects; WorkConsumer declares the
 *   topology again and consumes again, one consumer at a time. Deliveries of the old channel can
 *   no longer be settled: they are silently dropped here and RabbitMQ redelivers them (marked
 *   redelivered).
 */
import type { Config } from "../config.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import { settledWithin } from "../patience.js";
import type { CeleryControl, CeleryEventSink, InboundMessage, OutgoingMessage, WorkTransport } from "../worker/transport.js";
import { DEPLOYED_FRAME_MAX } from "./fit-headers.js";
import { BrokerConnection, closeOrGone } from "./connection.js";
import { CeleryControlChannel } from "./control-channel.js";
import { CeleryEventChannel } from "./event-channel.js";
import { ExchangeCheck, isMissingExchange } from "./exchange-check.js";
import { AmqpTaskSink } from "./task-sink.js";
import { declareTopology, etaDelayQueueFor, retryDelayQueueName, topologyNames, type TopologyNames } from "./topology.js";
import { isUnroutable, missingRoute, routeFields as where, unroutablePauseMs } from "./unroutable.js";
import { WorkConsumer, type Token } from "./work-consumer.js";
import type { FollowUp } from "../celery/canvas.js";
import type { WorkerControls, WorkerFacts } from "../celery/control.js";
import type { EncodedMessage } from "../celery/codec.js";
import { TransientError } from "../errors.js";

/** How long `close()` waits for outstanding confirms and the consumer channel's close-ok. */
const POLITE_CLOSE_MS = 3000;

/** Where a retry, eta or dead-letter copy or a Celery follow-up goes, and the queue that must exist for it to arrive. */
interface CopyTarget {
  kind: "retry" | "dead letter" | "eta delay" | "Celery follow-up";
  exchange: string;
  routingKey: string;
  /** Undefined for a follow-up through an exchange its signature names: the exchange's bindings decide. */
  queue: string | undefined;
  /** One of matchflow's queues, which the worker declares again when it is missing (not a Celery app's). */
  own: boolean;
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
  const open = (connectionName: string) => {
    const connectionOptions = { url: options.url, log: options.log, connectionName };
    return options.waitUntil ? BrokerConnection.openWhenReachable(connectionOptions, options.waitUntil) : BrokerConnection.open(connectionOptions);
  };
  const connection = await open("matchflow worker");
  // Copies (retries, eta, dead letters, rpc replies) go out on a connection of their own: a
  // broker under a memory or disk alarm stops reading a connection once it publishes, acks
  // included, so one dead letter stopped every ack of the worker (its prefetch full, nothing
  // drained) until the alarm cleared, and draining the queue is what clears a memory alarm.
  const copies = await open("matchflow worker copies").catch(async (err: unknown) => {
    await connection.close();
    throw err;
  });
  const transport = new AmqpWorkTransport(connection, copies, topologyNames(options.config.topology, options.config.retry), options.config, options.log);
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
  private readonly consumer: WorkConsumer;
  private consuming = false;
  private closing: Promise<void> | undefined;
  private readonly sink: AmqpTaskSink;
  private readonly exchanges: ExchangeCheck;
  private readonly unroutableListeners: ((queue: string) => void)[] = [];
  /** One re-declaration at a time, shared by every copy returned meanwhile. */
  private redeclaring: Promise<boolean> | undefined;
  /** Pauses of copies waiting to be published again; cut short on stop, close or channel loss. */
  private readonly pauses = new Set<() => void>();

  constructor(
    private readonly connection: BrokerConnection,
    private readonly copies: BrokerConnection,
    readonly names: TopologyNames,
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.sink = new AmqpTaskSink(copies, { confirmWindow: config.publish.confirmWindow, log });
    this.exchanges = new ExchangeCheck(() => copies.createChannel());
    this.consumer = new WorkConsumer({ connection, queue: this.names.queue, declare: () => this.declare(), onChannelClosed: () => this.endPauses(), log });
  }

  async declare(): Promise<void> {
    const report = await declareTopology(this.connection, this.names, { queueType: this.config.topology.queueType, log: this.log });
    for (const warning of report.warnings) this.log.warn({ warning }, "topology differs from what matchflow would declare");
  }

  async consume(prefetch: number, onMessage: (message: InboundMessage) => void): Promise<void> {
    this.consuming = true;
    await this.consumer.start(prefetch, onMessage);
  }

  async stopConsuming(): Promise<void> {
    this.consuming = false;
    this.endPauses();
    await this.consumer.stop();
  }

  ack(message: InboundMessage): void {
    const { state, tag } = message.token as Token;
    state.acks.ack(tag);
  }

  isStale(message: InboundMessage): boolean {
    return !(message.token as Token).state.open;
  }

  /**
   * The ack of an original whose copy (retry, eta delay, dead letter) is confirmed: sent at once,
   * so that a crash now cannot leave the copy and the original both in the broker.
   */
  private ackCopied(message: InboundMessage): void {
    const { state, tag } = message.token as Token;
    state.acks.copied(tag);
  }

  requeue(message: InboundMessage): void {
    const { state, tag } = message.token as Token;
    state.acks.requeue(tag);
  }

  async retry(message: InboundMessage, retry: OutgoingMessage, attempt: number, delayMs: number): Promise<void> {
    const queue = retryDelayQueueName(this.names, attempt);
    const msg = { content: retry.content, properties: { ...retry.properties, expiration: String(delayMs) } } as EncodedMessage;
    await this.publishCopy(message, { kind: "retry", exchange: "", routingKey: queue, queue, own: true }, msg);
    this.ackCopied(message);
  }

  async delay(message: InboundMessage, copy: OutgoingMessage, tierMs: number): Promise<void> {
    const queue = etaDelayQueueFor(this.names, tierMs);
    // No per-message expiration (not even one the producer set): the queue's TTL alone keeps
    // its order of expiry equal to its order of arrival.
    const msg = { content: copy.content, properties: { ...copy.properties, expiration: undefined } } as EncodedMessage;
    await this.publishCopy(message, { kind: "eta delay", exchange: "", routingKey: queue, queue, own: true }, msg);
    this.ackCopied(message);
  }

  async deadLetter(message: InboundMessage, deadLetter: OutgoingMessage): Promise<void> {
    const msg = { content: deadLetter.content, properties: { ...deadLetter.properties, expiration: undefined, deliveryMode: 2 } } as EncodedMessage;
    const { deadLetterExchange: exchange, deadLetterRoutingKey: routingKey, deadLetterQueue: queue } = this.names;
    await this.publishCopy(message, { kind: "dead letter", exchange, routingKey, queue, own: true }, msg);
    this.ackCopied(message);
  }

  /** The task is not acked here: its caller does, or sends its dead letter. */
  async sendFollowUps(message: InboundMessage, followUps: readonly FollowUp[]): Promise<void> {
    // Every one settled before the caller acks or requeues: none goes on publishing behind its back.
    const results = await Promise.allSettled(followUps.map((f) => this.publishCopy(message, { kind: "Celery follow-up", exchange: f.exchange, routingKey: f.routingKey, queue: f.queue, own: f.own }, f.message)));
    for (const r of results) if (r.status === "rejected") throw r.reason;
  }

  /**
   * Publishes a retry/eta/dead-letter copy, mandatory and confirmed. A copy returned as unroutable
   * (its queue was deleted after we declared it) is not acked away: the original stays unacked
   * while we re-declare the topology and publish the same copy again, at once after a
   * successful re-declaration and then with a growing pause (`unroutablePauseMs`).
   *
   * Why publish again rather than nack the original with requeue: a requeue counts as a
   * delivery on quorum queues (their delivery limit drops or dead-letters the message), the
   * whole batch would be redone, and a requeue loop spins as fast as the broker redelivers.
   * Holding the original bounds the cost to one delivery slot per copy; since acks are
   * cumulative, a queue that never comes back soon holds up the worker's prefetch, which is the
   * point: nothing is processed that could not be retried or dead-lettered. The hold ends when
   * the worker stops, the channel closes (consumer timeout, connection loss: the broker then
   * redelivers the original) or the copy is confirmed.
   */
  private async publishCopy(message: InboundMessage, target: CopyTarget, msg: EncodedMessage): Promise<void> {
    const { state } = message.token as Token;
    for (let round = 1; ; round++) {
      // Its channel gone (before the first round, or during a pause): the broker redelivers the
      // original, and that delivery sends the copy. Sent now, it would be sent twice.
      if (!state.open) throw new TransientError("channel_closed", `the task's channel closed before its ${target.kind} was published: the broker delivers the task again`);
      try {
        // A missing exchange would close the confirm channel (exchange-check.ts) and every copy in
        // flight on it, for each copy sent to it: a Celery app's, or one of ours an operator
        // deleted (re-declared below, as a deleted queue is). The default exchange always exists.
        if (target.exchange !== "") await this.exchanges.require(target.exchange);
        await this.sink.publish(target.exchange, target.routingKey, msg, { mandatory: true });
        if (round > 1) this.log.info({ ...where(target), taskId: msg.properties.correlationId, rounds: round }, target.own ? `${target.kind} copy published after re-declaring its queue` : `${target.kind} published: its ${target.queue === undefined ? "route" : "queue"} exists now`);
        return;
      } catch (err) {
        const giveUp = !state.open || !this.consuming || this.closing !== undefined;
        const fields = { ...where(target), taskId: msg.properties.correlationId, round };
        if (!isUnroutable(err)) {
          // Refused (nacked: a queue full under reject-publish) or not sent (the copies'
          // connection down): held and published again, as an unroutable one. A requeue made
          // the broker hand it straight back: a hot loop, and on a quorum queue every round
          // counted towards its delivery limit (the message dropped at the limit).
          if (giveUp) throw err;
          const pauseMs = unroutablePauseMs(round + 1, false);
          this.log.error({ ...fields, err: errorMessage(err), pauseMs }, `could not publish the ${target.kind}${target.own ? " copy" : ""}: publishing it again (the task stays unacked until then)`);
          await this.pause(pauseMs);
          continue;
        }
        for (const listener of this.unroutableListeners) listener(target.queue ?? `exchange ${target.exchange}`);
        const missing = target.queue === undefined || isMissingExchange(err) ? missingRoute(target, err) : `queue "${target.queue}" does not exist`;
        if (giveUp) {
          this.log.error(fields, `${target.kind} copy returned unroutable: ${missing}; the worker is stopping, the task goes back to its queue`);
          throw new TransientError("unroutable", `${missing}: the ${target.kind} copy was returned by the broker`, { cause: err });
        }
        // A Celery app's queue is not ours to declare (its workers do, with arguments only they know).
        const declared = target.own && (await this.redeclare());
        const pauseMs = unroutablePauseMs(round, declared);
        const next = target.own
          ? `${target.kind} copy returned unroutable: ${missing}; ${declared ? "re-declared the topology" : "could not re-declare it"}, publishing the copy again`
          : `${target.kind} returned unroutable: ${missing} (${target.queue === undefined ? "declare it and bind a queue, or start the Celery worker that does" : "start the Celery worker that consumes it, or set CELERY_DEFAULT_QUEUE"}); publishing it again`;
        this.log.error({ ...fields, ...(target.own ? { declared } : {}), pauseMs }, `${next} (the task stays unacked until then)`);
        await this.pause(pauseMs);
      }
    }
  }

  /** Declares the topology again (coalesced); false when the broker refused (logged). */
  private redeclare(): Promise<boolean> {
    this.redeclaring ??= this.declare()
      .then(() => true)
      .catch((err: unknown) => {
        this.log.error({ err: errorMessage(err) }, "could not re-declare the topology (check the user's configure permission on the queues); trying again later");
        return false;
      })
      .finally(() => {
        this.redeclaring = undefined;
      });
    return this.redeclaring;
  }

  private pause(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.pauses.delete(end);
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.pauses.add(end);
    });
  }

  private endPauses(): void {
    for (const end of [...this.pauses]) end();
  }

  async reply(replyTo: string, result: OutgoingMessage): Promise<void> {
    await this.sink.publish("", replyTo, result as EncodedMessage);
  }

  /**
   * The negotiated frame_max; while disconnected (a copy built then is published after the
   * reconnect) the deployed broker's cap, DEPLOYED_FRAME_MAX.
   */
  frameMax(): number {
    return this.copies.frameMax ?? DEPLOYED_FRAME_MAX;
  }

  /** Both connections are up and, once `consume` was called, so is the consumer channel. */
  isConnected(): boolean {
    return this.connection.isConnected && this.copies.isConnected && this.consumer.healthy;
  }

  onPublishBlocked(listener: (blocked: boolean) => void): void {
    listener(this.copies.blockedReason !== undefined);
    this.copies.on("blocked", () => listener(true));
    this.copies.on("unblocked", () => listener(false));
  }

  celeryEventSink(): CeleryEventSink {
    return new CeleryEventChannel(this.copies, this.log);
  }

  celeryControl(node: string, facts: (clock: number) => WorkerFacts, controls?: WorkerControls): CeleryControl {
    return new CeleryControlChannel(this.copies, node, facts, this.log, controls);
  }

  onUnroutable(listener: (queue: string) => void): void {
    this.unroutableListeners.push(listener);
  }

  /** Flushes pending acks, waits for outstanding confirms, closes channels and the connection. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.consuming = false;
      this.endPauses();
      await settledWithin(this.consumer.close(), POLITE_CLOSE_MS);
      const state = this.consumer.current;
      state?.acks.flush();
      const polite = (async () => {
        await this.sink.close().catch(() => undefined);
        // Copies confirmed while the sink closed acked their originals meanwhile (on the next
        // turn); those and every delivery processed behind an open one leave now, before the
        // channel closes: otherwise the broker would redeliver them (copies and originals both).
        state?.acks.finish();
        if (state?.open) await closeOrGone(state.channel, () => state.channel.close());
      })();
      // Bounded: confirms of copies and the channel's close-ok may never come through a silent
      // link (a partition the heartbeat has not noticed). Giving up is safe: an original is acked
      // only after its copy's confirm, so what is cut short is redelivered. The connection's
      // close, bounded too, then drops the socket, which ends whatever still waits.
      await settledWithin(polite, POLITE_CLOSE_MS);
      await Promise.all([this.connection.close(), this.copies.close()]);
    })();
    return this.closing;
  }
}
