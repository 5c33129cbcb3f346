/**
 * Declaring matchflow's exchanges and queues on RabbitMQ, alongside Python Celery:
 *
 *   work:        exchange `matches` (direct, durable) -> queue `matches` (key `matches.process`)
 *   dead letter: exchange `matches.dlx` (fanout, durable) -> queue `matches.dead_letter`
 *   retry delay: queues `matches.retry.<d>ms` (x-message-ttl d, dead-lettering back to the work
 *                exchange with the work routing key); the worker publishes a retry to one of them
 *                through the default exchange (routing key = the queue name)
 *   eta delay:   queues `matches.eta.<d>ms` (d = 1 s, 4 s, 16 s, ... ~3 days; same arguments),
 *                declared whatever RETRY_MAX is, for tasks whose Celery eta is not due yet
 *   fanout:      optional exchange (e.g. `matches-fanout`) bound to the work queue
 *
 * The DLX is fanout so that anything dead-lettered reaches the dead-letter queue whatever its
 * routing key (explicit worker publishes, or a broker policy added later by an operator); it is
 * named after the work queue (`<queue>.dlx`), so work queues sharing an exchange (one per
 * league) keep their dead letters apart.
 *
 * Declaring runs on its own short-lived channel: a 406 PRECONDITION_FAILED (the queue exists
 * with other arguments, e.g. quorum vs classic) closes only that channel; we then check the
 * object passively, warn, and carry on with it as it is.
 */
import type { Channel } from "amqplib";
import { ConfigError, errorMessage, isMatchflowError, TransientError } from "../errors.js";
import type { Logger } from "../log.js";
import { closeOrGone } from "./connection.js";
import { permissionNeededFor, reservedNameOf } from "./access-refused.js";
import {
  deadLetterQueueArguments,
  delayQueueArguments,
  workQueueArguments,
  type QueueType,
  type TopologyNames,
} from "./topology-names.js";

export {
  topologyNames,
  retryDelayQueueName,
  nominalRetryDelayMs,
  jitteredRetryDelayMs,
  delayQueueName,
  etaDelayQueueName,
  etaDelayQueueFor,
  ETA_DELAY_TIERS_MS,
  workQueueArguments,
  deadLetterQueueArguments,
  delayQueueArguments,
  type TopologyNames,
  type DelayQueue,
  type EtaDelayQueue,
  type QueueType,
} from "./topology-names.js";

/** Anything that opens channels: an amqplib ChannelModel or a BrokerConnection. */
export interface ChannelOpener {
  createChannel(): Promise<Channel>;
}

export interface DeclareOptions {
  queueType: QueueType;
  log: Logger;
}

export interface DeclareReport {
  /** One line per object that already existed with other arguments and was kept as it is. */
  warnings: string[];
}

function isPreconditionFailed(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as { code?: unknown }).code === 406;
}

/** Mismatch warnings already logged by this process (see Declarer.tolerant). */
const LOGGED_MISMATCHES = new Set<string>();

/** "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue ..." -> the part after the dash. */
function serverReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const m = /PRECONDITION_FAILED - ([^"]+)/.exec(message);
  return (m?.[1] ?? message).trim();
}

class Declarer {
  private channel: Channel | undefined;
  readonly warnings: string[] = [];

  constructor(
    private readonly opener: ChannelOpener,
    private readonly log: Logger,
  ) {}

  private async open(): Promise<Channel> {
    if (!this.channel) {
      const channel = await this.opener.createChannel();
      // A server-closed channel emits 'error'; the failed declare already tells us what happened.
      channel.on("error", () => undefined);
      channel.on("close", () => {
        if (this.channel === channel) this.channel = undefined;
      });
      this.channel = channel;
    }
    return this.channel;
  }

  /** Runs a declare; on 406 reopens the channel, verifies passively, records a warning. */
  private async tolerant(what: string, declare: (ch: Channel) => Promise<unknown>, check: (ch: Channel) => Promise<unknown>): Promise<void> {
    try {
      await declare(await this.open());
    } catch (err) {
      if (!isPreconditionFailed(err)) throw err;
      this.channel = undefined;
      await check(await this.open());
      const warning = `${what} already exists with other settings than matchflow would declare (${serverReason(err)}); using it as it is`;
      this.warnings.push(warning);
      // Logged once a process: `run` declares through its publisher and its worker, a worker again
      // at every reconnection, and the same line came three times a run.
      if (!LOGGED_MISMATCHES.has(warning)) this.log.warn({ object: what }, warning);
      LOGGED_MISMATCHES.add(warning);
    }
  }

  exchange(name: string, type: "direct" | "fanout"): Promise<void> {
    return this.tolerant(
      `exchange "${name}"`,
      (ch) => ch.assertExchange(name, type, { durable: true, autoDelete: false }),
      (ch) => ch.checkExchange(name),
    );
  }

  queue(name: string, args: Record<string, unknown>): Promise<void> {
    return this.tolerant(
      `queue "${name}"`,
      (ch) => ch.assertQueue(name, { durable: true, exclusive: false, autoDelete: false, arguments: args }),
      (ch) => ch.checkQueue(name),
    );
  }

  async bind(queue: string, exchange: string, key: string): Promise<void> {
    await (await this.open()).bindQueue(queue, exchange, key);
  }

  async close(): Promise<void> {
    const channel = this.channel;
    this.channel = undefined;
    // amqplib settles close() only on the broker's close-ok: a connection lost in that round
    // trip left it pending for ever, and `publish` / `scrape` with it (the CronJob's hour).
    if (channel) await closeOrGone(channel, () => channel.close()).catch(() => undefined);
  }
}

/** Declares everything (idempotent; safe whether Celery declared first or declares later). */
/**
 * What the broker's refusal of a declaration means to the operator: a permission missing (403:
 * a configuration to fix, exit 2) or the connection gone (exit 4); before, both exited 70 as
 * "internal error", as if matchflow had a bug.
 */
function declareFailure(err: unknown): unknown {
  if (isMatchflowError(err)) return err;
  const code = (err as { code?: unknown }).code;
  const message = errorMessage(err);
  const reserved = reservedNameOf(err);
  if (reserved) return new ConfigError(`${reserved.what} name '${reserved.name}' starts with amq., which RabbitMQ reserves for itself: choose another name (the broker said: ${message})`);
  if (code === 403 || /ACCESS_REFUSED/.test(message)) {
    return new ConfigError(`the broker refused to declare the queues and exchanges (${message}): the RabbitMQ user needs ${permissionNeededFor(err)} on them (rabbitmqctl set_permissions)`);
  }
  return new TransientError("broker_connection_lost", `declaring the queues and exchanges failed: ${message}`, { cause: err });
}

export async function declareTopology(opener: ChannelOpener, names: TopologyNames, options: DeclareOptions): Promise<DeclareReport> {
  const d = new Declarer(opener, options.log);
  try {
    return await declareAll(d, names, options);
  } catch (err) {
    throw declareFailure(err);
  } finally {
    await d.close();
  }
}

async function declareAll(d: Declarer, names: TopologyNames, options: DeclareOptions): Promise<DeclareReport> {
  await d.exchange(names.exchange, "direct");
  await d.queue(names.queue, workQueueArguments(options.queueType));
  await d.bind(names.queue, names.exchange, names.routingKey);

  await d.exchange(names.deadLetterExchange, "fanout");
  await d.queue(names.deadLetterQueue, deadLetterQueueArguments(options.queueType));
  await d.bind(names.deadLetterQueue, names.deadLetterExchange, names.deadLetterRoutingKey);

  for (const delay of names.delayQueues) {
    await d.queue(delay.name, delayQueueArguments(names, delay, options.queueType));
  }
  for (const eta of names.etaDelayQueues) {
    await d.queue(eta.name, delayQueueArguments(names, eta, options.queueType));
  }

  if (names.fanoutExchange) {
    await d.exchange(names.fanoutExchange, "fanout");
    await d.bind(names.queue, names.fanoutExchange, "");
  }
  options.log.debug({ exchange: names.exchange, queue: names.queue, delayQueues: names.delayQueues.length, etaDelayQueues: names.etaDelayQueues.length }, "topology declared");
  return { warnings: d.warnings };
}
