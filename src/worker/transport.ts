import type { FollowUp } from "../celery/canvas.js";
import type { WorkerControls, WorkerFacts } from "../celery/control.js";
import type { CeleryEvent } from "../celery/events.js";

/**
 * The narrow broker interface the worker loop is written against. RabbitMQ (amqplib) and the
 * in-process transport of the embedded mode both implement it, so the loop's semantics
 * (ack after commit, durable retry, dead letter) are the same on both.
 */

/** AMQP basic properties as the worker reads and writes them. */
export interface MessageProperties {
  contentType?: string | undefined;
  contentEncoding?: string | undefined;
  headers?: Record<string, unknown> | undefined;
  correlationId?: string | undefined;
  replyTo?: string | undefined;
  messageId?: string | undefined;
  deliveryMode?: number | undefined;
  priority?: number | undefined;
  expiration?: string | undefined;
  timestamp?: number | undefined;
}

export interface OutgoingMessage {
  content: Buffer;
  properties: MessageProperties;
}

/** One delivery. `token` is opaque to the worker: only the transport that made it can settle it. */
export interface InboundMessage {
  content: Buffer;
  properties: MessageProperties;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  /** When the worker received it (ms since epoch): for latency metrics and as a fallback observation time. */
  receivedAt: number;
  token: unknown;
  /** Headers the transport left out on arrival because they would have weighed too much in the heap (broker/inbound-headers.ts). */
  droppedHeaders?: readonly string[];
}

export interface WorkTransport {
  /** Starts delivering to `onMessage`, at most `prefetch` unsettled at a time. */
  consume(prefetch: number, onMessage: (message: InboundMessage) => void): Promise<void>;
  /** Stops new deliveries; what was delivered can still be settled. Idempotent. */
  stopConsuming(): Promise<void>;
  /** Settles after the database commit. A message of a lost channel is silently dropped (it will be redelivered). */
  ack(message: InboundMessage): void;
  /**
   * Whether `message` came on a channel that is gone: it can no longer be settled, and the broker
   * delivers it again on the next. Absent: never (the in-process broker has no channels).
   */
  isStale?(message: InboundMessage): boolean;
  /** Gives a message back to the queue (database unreachable: nothing was written). */
  requeue(message: InboundMessage): void;
  /** Publishes `retry` (same task id, retries + 1) to the delay queue of `attempt`, confirmed, then acks `message`. */
  retry(message: InboundMessage, retry: OutgoingMessage, attempt: number, delayMs: number): Promise<void>;
  /**
   * Publishes `copy` (the task unchanged: its eta is not due yet) to the eta delay queue of the
   * tier `tierMs` (one of ETA_DELAY_TIERS_MS; its queue TTL, no per-message expiration),
   * confirmed, then acks `message`.
   */
  delay(message: InboundMessage, copy: OutgoingMessage, tierMs: number): Promise<void>;
  /** Publishes `deadLetter` to the dead-letter exchange, confirmed, then acks `message`. */
  deadLetter(message: InboundMessage, deadLetter: OutgoingMessage): Promise<void>;
  /**
   * Publishes a finished task's Celery follow-ups (link callbacks, the chain's next step,
   * errbacks: celery/canvas.ts) to their queues, mandatory and confirmed, without settling
   * `message` (the task they belong to, which stays unacked meanwhile). A queue that does not exist
   * is waited for like a copy's (its follow-up published again with a growing pause) until the
   * worker stops or the channel of `message` closes: then it rejects, and the task is redelivered.
   * Absent where no Celery queue can be reached (the in-process broker).
   */
  sendFollowUps?(message: InboundMessage, followUps: readonly FollowUp[]): Promise<void>;
  /** Publishes a Celery rpc:// result to `replyTo` (best effort, not persistent, as Celery does). */
  reply(replyTo: string, result: OutgoingMessage): Promise<void>;
  /** True while the broker connection is up (readiness, and `matchflow_broker_up` at each scrape). */
  isConnected(): boolean;
  /**
   * Called with the queue's name each time a retry/eta/dead-letter copy comes back unroutable (its
   * queue is missing; the transport re-declares it and publishes again). Absent where queues
   * cannot go missing (the in-process broker).
   */
  onUnroutable?(listener: (queue: string) => void): void;
  /**
   * Called with true when the broker blocks the worker's publishing (a memory or disk alarm: its
   * copies wait, their originals stay unacked) and false when it unblocks. Absent in-process.
   */
  onPublishBlocked?(listener: (blocked: boolean) => void): void;
  /**
   * The frame_max of the broker connection (bytes), which a retry or dead-letter copy's content
   * header must fit in (see worker/outgoing.ts). Absent for a transport without frames.
   */
  frameMax?(): number;
  /**
   * A sink for Celery monitoring events on the transport's publishing connection (CELERY_EVENTS),
   * closed with the transport. Absent where no Celery monitor can listen (the in-process broker).
   */
  celeryEventSink?(): CeleryEventSink;
  /** The worker's Celery mailbox (CELERY_CONTROL; `controls` with `control`), closed with the transport. Absent in-process. */
  celeryControl?(node: string, facts: (clock: number) => WorkerFacts, controls?: WorkerControls): CeleryControl;
  /** Closes channels and connection; unsettled deliveries return to the queue. Idempotent. */
  close(): Promise<void>;
}

/** Where Celery monitoring events go: fire and forget (broker/event-channel.ts). */
export interface CeleryEventSink {
  /** Opens the channel (again after a reconnect, by itself); resolves either way. */
  open(): Promise<void>;
  /** False when the event was dropped (no channel, or its buffer is full). */
  send(event: CeleryEvent): boolean;
  /** Closes the channel. Idempotent. */
  close(): Promise<void>;
}

/** A worker's answering of Celery remote control (broker/control-channel.ts). */
export interface CeleryControl {
  /** Sets up the mailbox (again after a reconnect, by itself); resolves either way. */
  open(): Promise<void>;
  /** Celery's mingle: broadcasts `hello` with these revoked ids, resolves with the other workers' replies by node (celery/mingle.ts). */
  hello(revoked: Record<string, [number, string]>): Promise<Map<string, unknown>>;
  close(): Promise<void>;
}
