/**
 * MatchQueueClient: the producer side, as in the seed's Python `MatchQueueClient`, with what it
 * lacked: validation against the contract before anything is queued (an invalid match is
 * reported, never sent), publisher confirms (a match counts as submitted only once the broker
 * has it), pipelined confirms with a bounded window, and republishing on reconnect.
 *
 * Transport-agnostic: `connect()` publishes to RabbitMQ; `fromSink()` takes any TaskSink (the
 * in-process broker used by `matchflow run` without RABBITMQ_URL).
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { encodeTask, type EncodedMessage } from "../celery/codec.js";
import type { Config } from "../config.js";
import { ContractViolation, validateForProducer, type ContractIssue } from "../contract/index.js";
import { errorMessage, PermanentError } from "../errors.js";
import type { Logger } from "../log.js";
import { BrokerConnection } from "./connection.js";
import { AmqpTaskSink, type TaskSink } from "./task-sink.js";
import { declareTopology, topologyNames, type QueueType, type TopologyNames } from "./topology.js";

export interface MatchQueueClientOptions {
  topology: Config["topology"];
  retry: Config["retry"];
  publish: Config["publish"];
  maxMessageBytes: number;
  log: Logger;
}

export interface ConnectOptions extends MatchQueueClientOptions {
  url: string;
  queueType: QueueType;
}

export interface SubmitReport {
  submitted: { index: number; taskId: string; externalMatchId: string }[];
  invalid: { index: number; errors: ContractIssue[] }[];
  failed: { index: number; externalMatchId?: string; error: string }[];
}

export interface SubmitOptions {
  /** Called after each match is settled (submitted, invalid or failed). */
  onProgress?(done: number, total: number): void;
}

/** A task no queue would take is a failure (the original lost 1,900 to a wrong queue name). */
const MANDATORY = { mandatory: true } as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The producer stamps when it scraped, unless the scraper already did. */
function withScrapedAt(match: unknown, now: Date): unknown {
  if (!isPlainObject(match) || (match.scraped_at !== undefined && match.scraped_at !== null)) return match;
  return { ...match, scraped_at: now.toISOString() };
}

/** The client's options as the validated config gives them (one place, for every caller). */
export function clientOptionsFrom(config: Config, log: Logger): MatchQueueClientOptions {
  return { topology: config.topology, retry: config.retry, publish: config.publish, maxMessageBytes: config.maxMessageBytes, log };
}

/** Connect options from config; the caller has checked that RABBITMQ_URL is set. */
export function connectOptionsFrom(config: Config, url: string, log: Logger): ConnectOptions {
  return { ...clientOptionsFrom(config, log), url, queueType: config.topology.queueType };
}

export class MatchQueueClient {
  readonly names: TopologyNames;
  /** Celery sets reply_to to a per-client id on every send; so do we. */
  private readonly clientId = randomUUID();
  private readonly origin = `gen${process.pid}@${hostname()}`;
  private closePromise: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly sink: TaskSink,
    private readonly options: MatchQueueClientOptions,
    private readonly connection: BrokerConnection | undefined,
  ) {
    this.names = topologyNames(options.topology, options.retry);
  }

  /** Connects to RabbitMQ and declares the topology. Throws `broker_unreachable` (TransientError). */
  static async connect(options: ConnectOptions): Promise<MatchQueueClient> {
    const connection = await BrokerConnection.open({ url: options.url, log: options.log, connectionName: "matchflow publisher" });
    try {
      await declareTopology(connection, topologyNames(options.topology, options.retry), { queueType: options.queueType, log: options.log });
      const sink = new AmqpTaskSink(connection, { confirmWindow: options.publish.confirmWindow, log: options.log });
      return new MatchQueueClient(sink, options, connection);
    } catch (err) {
      await connection.close();
      throw err;
    }
  }

  /** A client over any sink (topology is the sink owner's business). */
  static fromSink(sink: TaskSink, options: MatchQueueClientOptions): MatchQueueClient {
    return new MatchQueueClient(sink, options, undefined);
  }

  /** True while the broker connection is up (always true for an open in-process sink). */
  checkConnection(): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    return Promise.resolve(this.connection ? this.connection.isConnected : true);
  }

  /** Validates, encodes and publishes one match; resolves with the task id once confirmed. */
  async submitMatch(match: unknown): Promise<string> {
    const prepared = this.prepare(match, new Date());
    if (!prepared.ok) {
      if (prepared.code === "message_too_large") throw new PermanentError("message_too_large", prepared.issues[0]?.message ?? "message too large");
      throw new ContractViolation(prepared.code, prepared.issues);
    }
    await this.sink.publish(this.names.exchange, this.names.routingKey, prepared.msg, MANDATORY);
    return prepared.taskId;
  }

  /**
   * Submits many: invalid ones are reported and skipped; the rest are published with at most
   * `confirmWindow` awaiting a confirm at once, so memory stays bounded for any input size.
   */
  async submitMatches(matches: unknown[], options: SubmitOptions = {}): Promise<SubmitReport> {
    const report: SubmitReport = { submitted: [], invalid: [], failed: [] };
    const total = matches.length;
    let done = 0;
    const settle = () => options.onProgress?.(++done, total);
    const active = new Set<Promise<void>>();
    const limit = Math.max(1, this.options.publish.confirmWindow);
    const now = new Date();

    for (let index = 0; index < total; index++) {
      const prepared = this.prepare(matches[index], now);
      if (!prepared.ok) {
        if (prepared.code === "message_too_large") report.failed.push({ index, externalMatchId: prepared.externalMatchId, error: prepared.issues[0]?.message ?? "too large" });
        else report.invalid.push({ index, errors: prepared.issues });
        settle();
        continue;
      }
      const { taskId, externalMatchId, msg } = prepared;
      const task: Promise<void> = this.sink.publish(this.names.exchange, this.names.routingKey, msg, MANDATORY).then(
        () => void report.submitted.push({ index, taskId, externalMatchId }),
        (err: unknown) => void report.failed.push({ index, externalMatchId, error: errorMessage(err) }),
      );
      const tracked = task.finally(() => {
        active.delete(tracked);
        settle();
      });
      active.add(tracked);
      if (active.size >= limit) await Promise.race(active);
    }
    await Promise.all(active);
    const byIndex = (a: { index: number }, b: { index: number }) => a.index - b.index;
    report.submitted.sort(byIndex);
    report.failed.sort(byIndex);
    return report;
  }

  private prepare(
    match: unknown,
    now: Date,
  ):
    | { ok: true; taskId: string; externalMatchId: string; msg: EncodedMessage }
    | { ok: false; code: "contract_violation" | "schema_version_unsupported" | "message_too_large"; issues: ContractIssue[]; externalMatchId?: string } {
    const result = validateForProducer(withScrapedAt(match, now));
    if (!result.ok) return { ok: false, code: result.code, issues: result.issues };
    const taskId = randomUUID();
    const msg = encodeTask(this.options.publish.protocol, {
      taskName: this.names.taskName,
      taskId,
      args: [result.match],
      replyTo: this.clientId,
      ignoreResult: true,
      origin: this.origin,
    });
    const externalMatchId = result.match.external_match_id;
    if (msg.content.length > this.options.maxMessageBytes) {
      const message = `message is ${msg.content.length} bytes, over MAX_MESSAGE_BYTES (${this.options.maxMessageBytes})`;
      return { ok: false, code: "message_too_large", issues: [{ field: "(message)", rule: "length", message }], externalMatchId };
    }
    return { ok: true, taskId, externalMatchId, msg };
  }

  /** Idempotent: waits for outstanding confirms, then closes the sink and the connection. */
  close(): Promise<void> {
    if (!this.closePromise) {
      this.closed = true;
      this.closePromise = (async () => {
        try {
          await this.sink.close();
        } finally {
          await this.connection?.close();
        }
      })();
    }
    return this.closePromise;
  }
}
