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
import { timeOrderedTaskId } from "../celery/task-id.js";
import type { Config } from "../config.js";
import { ContractViolation, validateForProducer, type ContractIssue, type MatchData, type ValidationResult } from "../contract/index.js";
import { errorMessage, PermanentError } from "../errors.js";
import type { Logger } from "../log.js";
import { BrokerConnection } from "./connection.js";
import { contentHeaderFrameBytes } from "./field-table-size.js";
import { argsreprBudget } from "./fit-headers.js";
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
  /** Confirmed by the broker, in input order. */
  submitted: { index: number; taskId: string; externalMatchId: string }[];
  /** Refused (never sent): by the contract, or over MAX_MESSAGE_BYTES once encoded; `externalMatchId` when the input carried one. */
  invalid: { index: number; externalMatchId?: string; errors: ContractIssue[] }[];
  /**
   * Valid, but the broker did not take them (nacked, returned unroutable, connection lost): worth
   * another try. `taskId` is the one the message was sent with: a publish whose confirm was lost
   * with the connection may still have been queued, and the worker's logs name it by that id.
   */
  failed: { index: number; taskId: string; externalMatchId?: string; error: string }[];
}

/**
 * The report with `countOnly`: the submitted matches are counted, not listed, so it grows only
 * with the bad ones (a 50,000-match scrape would otherwise hold 50,000 task ids to print "N
 * submitted"). `matchflow scrape` and `matchflow publish` use it; `matchflow run` needs the ids.
 */
export interface SubmitTally extends Omit<SubmitReport, "submitted"> {
  submitted: number;
}

/** Matches to submit: an array, or produced as they are read (a generator, lines of a stream). */
export type MatchSource = Iterable<unknown> | AsyncIterable<unknown>;

export interface SubmitOptions {
  /** Called after each match is settled; `total` is unknown (undefined) unless the input is an array. */
  onProgress?(done: number, total: number | undefined): void;
  /** Count the submitted matches instead of listing them (see SubmitTally). @default false */
  countOnly?: boolean;
  /**
   * What `validateForProducer` already made of this very match, if the caller checked it (the
   * scraper does, for its own counts): the contract check is then not run twice (~25 us a match).
   */
  checked?(match: unknown): MatchData | undefined;
}

/** A task no queue would take is a failure (the original lost 1,900 to a wrong queue name). */
const MANDATORY = { mandatory: true } as const;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The input's external id, when it has one (to name an invalid match in logs). */
function idOf(match: unknown): { externalMatchId?: string } {
  return isPlainObject(match) && typeof match.external_match_id === "string" ? { externalMatchId: match.external_match_id } : {};
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
  /** The content header frame of this client's tasks without `argsrepr` (the same for every match). */
  private readonly otherFrameBytes: number;

  private constructor(
    private readonly sink: TaskSink,
    private readonly options: MatchQueueClientOptions,
    private readonly connection: BrokerConnection | undefined,
  ) {
    this.names = topologyNames(options.topology, options.retry);
    const sample = this.encode(randomUUID(), [], 0);
    this.otherFrameBytes = contentHeaderFrameBytes({ ...sample.properties, headers: { ...sample.properties.headers, argsrepr: "" } });
  }

  /** `argsrepr`'s budget on the current connection: the configured one unless the frame_max is too small for it (fit-headers.ts). */
  private argsreprMaxChars(): number {
    return argsreprBudget(this.connection?.frameMax, this.otherFrameBytes, this.options.publish.argsreprMax);
  }

  private encode(taskId: string, args: unknown[], argsreprMaxChars: number): EncodedMessage {
    return encodeTask(this.options.publish.protocol, {
      taskName: this.names.taskName,
      taskId,
      args,
      replyTo: this.clientId,
      ignoreResult: true,
      origin: this.origin,
      argsreprMaxChars,
    });
  }

  /** Connects to RabbitMQ and declares the topology. Throws `broker_unreachable` (TransientError). */
  static async connect(options: ConnectOptions): Promise<MatchQueueClient> {
    const connection = await BrokerConnection.open({ url: options.url, log: options.log, connectionName: "matchflow publisher" });
    try {
      await declareTopology(connection, topologyNames(options.topology, options.retry), { queueType: options.queueType, log: options.log });
      const sink = new AmqpTaskSink(connection, { confirmWindow: options.publish.confirmWindow, blockedTimeoutMs: options.publish.blockedTimeoutMs, log: options.log });
      const client = new MatchQueueClient(sink, options, connection);
      const argsreprMax = client.argsreprMaxChars();
      if (argsreprMax < options.publish.argsreprMax) {
        options.log.warn({ configured: options.publish.argsreprMax, used: argsreprMax, frameMax: connection.frameMax }, "PUBLISH_ARGSREPR_MAX is more than the broker's frame_max can carry: argsrepr is cut sooner");
      }
      return client;
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
   * Submits many, taken from `matches` one at a time: invalid ones are reported and skipped; the
   * rest are published with at most `confirmWindow` awaiting a confirm at once. The next match
   * is only taken when the window has room, so a generator or a stream is read at the broker's
   * pace and memory stays bounded for any input size (with `countOnly`, the report too).
   */
  submitMatches(matches: MatchSource, options?: SubmitOptions & { countOnly?: false }): Promise<SubmitReport>;
  submitMatches(matches: MatchSource, options: SubmitOptions & { countOnly: true }): Promise<SubmitTally>;
  async submitMatches(matches: MatchSource, options: SubmitOptions = {}): Promise<SubmitReport | SubmitTally> {
    const submitted: SubmitReport["submitted"] = [];
    let submittedCount = 0;
    const invalid: SubmitReport["invalid"] = [];
    const failed: SubmitReport["failed"] = [];
    const total = Array.isArray(matches) ? matches.length : undefined;
    let done = 0;
    const limit = Math.max(1, this.options.publish.confirmWindow);
    // Publishes awaiting their confirm, and the loop waiting for one of them to settle (a
    // counter, not Promise.race over the window: that costs O(window) per match).
    let inFlight = 0;
    let wake: (() => void) | undefined;
    // A throwing progress callback fails the call, once nothing is in flight any more.
    let progressFailure: { error: unknown } | undefined;
    const settle = () => {
      try {
        options.onProgress?.(++done, total);
      } catch (error) {
        progressFailure ??= { error };
      }
    };
    const now = new Date();
    const debug = this.options.log.isLevelEnabled("debug");

    const waitForRoom = async () => {
      while (inFlight >= limit) await new Promise<void>((resolve) => (wake = resolve));
    };
    let index = 0;
    /** Validates and publishes one match; a promise when the window is full (wait before the next). */
    const take = (match: unknown): Promise<void> | undefined => {
      const at = index++;
      const prepared = this.prepare(match, now, options.checked?.(match));
      if (!prepared.ok) {
        // Too large is a refusal of the match, like the contract's: sending it again cannot help.
        invalid.push({ index: at, ...idOf(match), errors: prepared.issues });
        settle();
        return undefined;
      }
      const { taskId, externalMatchId, msg } = prepared;
      inFlight++;
      void this.sink
        .publish(this.names.exchange, this.names.routingKey, msg, MANDATORY)
        .then(
          () => {
            submittedCount++;
            if (!options.countOnly) submitted.push({ index: at, taskId, externalMatchId });
            // The seed's "Match submitted to queue: <task id>", at debug (`scrape --verbose`).
            if (debug) this.options.log.debug({ taskId, externalMatchId }, "match submitted to queue");
          },
          (err: unknown) => void failed.push({ index: at, taskId, externalMatchId, error: errorMessage(err) }),
        )
        .finally(() => {
          inFlight--;
          settle();
          wake?.();
        });
      return inFlight >= limit ? waitForRoom() : undefined;
    };
    try {
      // Two loops, so that an array or a generator costs no await per match (only when full).
      if (Symbol.asyncIterator in matches) {
        for await (const match of matches) {
          const full = take(match);
          if (full) await full;
        }
      } else {
        for (const match of matches) {
          const full = take(match);
          if (full) await full;
        }
      }
    } finally {
      // Also when reading the input failed: nothing is left in flight behind the caller's back.
      while (inFlight > 0) await new Promise<void>((resolve) => (wake = resolve));
    }
    if (progressFailure) throw progressFailure.error;
    const byIndex = (a: { index: number }, b: { index: number }) => a.index - b.index;
    submitted.sort(byIndex);
    failed.sort(byIndex);
    return options.countOnly ? { submitted: submittedCount, invalid, failed } : { submitted, invalid, failed };
  }

  private prepare(
    match: unknown,
    now: Date,
    checked?: MatchData,
  ):
    | { ok: true; taskId: string; externalMatchId: string; msg: EncodedMessage }
    | { ok: false; code: "contract_violation" | "schema_version_unsupported" | "message_too_large"; issues: ContractIssue[]; externalMatchId?: string } {
    const result: ValidationResult = checked ? { ok: true, match: checked, unknownFields: [] } : validateForProducer(withScrapedAt(match, now));
    if (!result.ok) return { ok: false, code: result.code, issues: result.issues };
    const taskId = timeOrderedTaskId();
    const msg = this.encode(taskId, [result.match], this.argsreprMaxChars());
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
