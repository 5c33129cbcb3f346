/**
 * One long-lived AMQP connection that comes back by itself: when the broker drops it, we
 * reconnect with exponential backoff and jitter, then emit "ready" so that users (the task
 * sink, the worker's consumer) open fresh channels. Channels do not survive a reconnect;
 * `createChannel()`/`createConfirmChannel()` wait for the connection to be ready.
 *
 * Events: "ready" (generation: number) after every successful (re)connect; "disconnected"
 * (error) when an established connection is lost; "closed" once after `close()`; "blocked"
 * (reason) and "unblocked" when the broker stops and resumes reading what this connection
 * sends (a memory or disk alarm: once it has published, not even its acks get through).
 */
import { EventEmitter } from "node:events";
import { connect, type Channel, type ChannelModel, type ConfirmChannel } from "amqplib";
import { errorMessage, TransientError } from "../errors.js";
import type { Logger } from "../log.js";
import { untilItWorks } from "../patience.js";
import { describeBroker, withHeartbeat } from "./broker-url.js";

export { describeBroker } from "./broker-url.js";

export interface ReconnectPolicy {
  /** First delay after a loss. @default 250 */
  initialDelayMs: number;
  /** Upper bound of the delay. @default 15000 */
  maxDelayMs: number;
}

export interface BrokerConnectionOptions {
  url: string;
  log: Logger;
  reconnect?: Partial<ReconnectPolicy>;
  /** TCP connect timeout. @default 10000 */
  connectTimeoutMs?: number;
  /**
   * How long the connection may stay lost before channel requests fail (counted from the loss,
   * not per request). @default 60000
   */
  readyTimeoutMs?: number;
  /** How long `close()` waits for the broker's answer before dropping the socket. @default 3000 */
  closeTimeoutMs?: number;
  /** AMQP heartbeat, seconds, unless the URL sets one. @default 30 */
  heartbeatSeconds?: number;
  /** Shown in the RabbitMQ management UI. */
  connectionName?: string;
  /**
   * What a lost connection leads to: "reconnect" (services: the worker, the scrape) or "fail"
   * (a one-shot operator command, which cannot resume on new channels: every later channel
   * request fails at once with `broker_connection_lost`, and no reconnect is attempted or logged).
   * @default "reconnect"
   */
  onLoss?: "reconnect" | "fail";
}

/** Delay before reconnect attempt n (1-based): min(initial * 2^(n-1), max), times 0.5..1.5. */
export function reconnectDelayMs(policy: ReconnectPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.initialDelayMs * 2 ** Math.min(attempt - 1, 30), policy.maxDelayMs);
  return Math.round(base * (0.5 + random()));
}

export class BrokerConnection extends EventEmitter {
  private model: ChannelModel | undefined;
  /** When the connection was lost (Date.now()), while it is; the ready timeout counts from there. */
  private lostAt: number | undefined;
  /** Why the connection was lost, when `onLoss` is "fail": it stays lost. */
  private lostFor: string | undefined;
  /** The broker's resource alarm while it blocks this connection (connection.blocked), else undefined. */
  private blockedBy: string | undefined;
  private generation = 0;
  private closing = false;
  private closePromise: Promise<void> | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly policy: ReconnectPolicy;
  private readonly url: string;

  private constructor(private readonly options: BrokerConnectionOptions) {
    super();
    this.policy = { initialDelayMs: options.reconnect?.initialDelayMs ?? 250, maxDelayMs: options.reconnect?.maxDelayMs ?? 15_000 };
    this.url = withHeartbeat(options.url, options.heartbeatSeconds ?? 30);
  }

  /** Connects once; throws TransientError `broker_unreachable` naming host:port and vhost. */
  static async open(options: BrokerConnectionOptions): Promise<BrokerConnection> {
    const conn = new BrokerConnection(options);
    try {
      await conn.connectOnce();
    } catch (err) {
      throw new TransientError("broker_unreachable", `cannot connect to RabbitMQ at ${describeBroker(options.url)}: ${reasonOf(err, options.url)}`, { cause: err });
    }
    return conn;
  }

  /**
   * Connects, waiting for a broker that is not there yet (refused, reset, timed out, name not
   * resolving): after a cluster restart the workers may start before RabbitMQ, and exiting would
   * only turn that into a crash loop whose back-off outlasts the outage. Attempts follow the
   * reconnect schedule, each failure logged with its reason, until `signal` aborts (then it
   * throws). Refusals (user, password, vhost) are waited out too: a fresh RabbitMQ pod accepts
   * connections before its post-start hook has created the user and vhost, and the log line
   * ("access refused (check the user name and password)") and /readyz say what is wrong.
   */
  static async openWhenReachable(options: BrokerConnectionOptions, signal: AbortSignal): Promise<BrokerConnection> {
    const conn = new BrokerConnection(options);
    await untilItWorks(() => conn.connectOnce(), {
      signal,
      delayMs: (attempt) => reconnectDelayMs(conn.policy, attempt),
      onFailure: (err, attempt, retryInMs) =>
        options.log.error({ code: "broker_unreachable", err: reasonOf(err), broker: conn.where, attempt, retryInMs }, "broker unreachable at start-up; waiting for it"),
    });
    if (signal.aborted) {
      await conn.close();
      signal.throwIfAborted();
    }
    return conn;
  }

  get isConnected(): boolean {
    return this.model !== undefined;
  }

  /** The resource alarm for which the broker blocks this connection ("low on memory"), while it does. */
  get blockedReason(): string | undefined {
    return this.blockedBy;
  }

  /** Incremented on every successful (re)connect. */
  get connectionGeneration(): number {
    return this.generation;
  }

  /**
   * The frame_max negotiated with the broker (bytes; amqplib keeps it on its Connection, untyped),
   * or undefined while not connected. 0 on the wire (no limit) is 0xffffffff here, as in amqplib.
   */
  get frameMax(): number | undefined {
    return negotiatedFrameMax(this.model);
  }

  get where(): string {
    return describeBroker(this.options.url);
  }

  private async connectOnce(): Promise<void> {
    const model = await connect(this.url, {
      timeout: this.options.connectTimeoutMs ?? 10_000,
      clientProperties: { connection_name: this.options.connectionName ?? "matchflow" },
    });
    if (this.closing) {
      await model.close().catch(() => undefined);
      return;
    }
    // A connection-level error is always followed by 'close'; handling it there is enough.
    model.on("error", (err: Error) => this.options.log.warn({ err: errorMessage(err), broker: this.where }, "broker connection error"));
    model.on("blocked", (reason: string) => {
      if (this.model !== model) return;
      this.blockedBy = reason;
      this.options.log.warn({ reason, broker: this.where, connection: this.options.connectionName }, "broker blocked publishing (resource alarm)");
      this.emit("blocked", reason);
    });
    model.on("unblocked", () => {
      if (this.model !== model) return;
      this.blockedBy = undefined;
      this.options.log.info({ broker: this.where, connection: this.options.connectionName }, "broker unblocked publishing");
      this.emit("unblocked");
    });
    model.on("close", (err?: Error) => this.onLost(model, err));
    this.model = model;
    this.lostAt = undefined;
    this.generation++;
    this.emit("ready", this.generation);
  }

  private onLost(model: ChannelModel, err: Error | undefined): void {
    // amqplib gives a connection up (heartbeat timeout, frame error) by ending its socket: a FIN
    // that a partitioned peer never answers, and the half-closed socket then kept the process
    // alive (`publish` printed its summary and did not exit). Whatever the reason, the socket of
    // a lost connection is destroyed once it has had a moment to close by itself.
    setTimeout(() => dropSocket(model), 1000).unref();
    if (this.model !== model) return;
    this.model = undefined;
    // A new connection is told again at once if the alarm still holds.
    if (this.blockedBy !== undefined) {
      this.blockedBy = undefined;
      this.emit("unblocked");
    }
    if (this.closing) return;
    this.lostAt = Date.now();
    if (this.options.onLoss === "fail") {
      this.lostFor = err ? errorMessage(err) : "closed";
      this.options.log.warn({ err: err ? errorMessage(err) : undefined, broker: this.where }, "broker connection lost");
      this.emit("disconnected", err);
      return;
    }
    this.options.log.warn({ err: err ? errorMessage(err) : undefined, broker: this.where }, "broker connection lost; reconnecting");
    this.emit("disconnected", err);
    this.scheduleReconnect(1);
  }

  private scheduleReconnect(attempt: number): void {
    if (this.closing) return;
    const delay = reconnectDelayMs(this.policy, attempt);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connectOnce().then(
        () => this.options.log.info({ broker: this.where, attempt }, "broker connection re-established"),
        (err: unknown) => {
          this.options.log.warn({ err: reasonOf(err), broker: this.where, attempt, nextDelayMs: delay }, "broker reconnect failed");
          this.scheduleReconnect(attempt + 1);
        },
      );
    }, delay);
  }

  /**
   * Resolves when connected; rejects with `broker_unreachable` once the connection has been lost
   * for readyTimeoutMs, or on close. The timeout counts from the loss, not from each call: a
   * publisher with thousands of matches to send through a partition otherwise waited the full
   * timeout once per confirm window (3,000 matches, window 200: a quarter of an hour) before
   * reporting them failed; now every request after the first timeout fails at once.
   */
  async waitReady(): Promise<ChannelModel> {
    if (this.model) return this.model;
    if (this.closing) throw new TransientError("broker_closed", "the broker connection was closed");
    if (this.lostFor !== undefined) throw new TransientError("broker_connection_lost", `the connection to RabbitMQ at ${this.where} was lost: ${this.lostFor}`);
    const timeoutMs = this.options.readyTimeoutMs ?? 60_000;
    const leftMs = (this.lostAt ?? Date.now()) + timeoutMs - Date.now();
    const unreachable = () => new TransientError("broker_unreachable", `RabbitMQ at ${this.where} has been unreachable for ${Math.round(timeoutMs / 1000)}s`);
    if (leftMs <= 0) throw unreachable();
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(timer);
        this.off("ready", onReady);
        this.off("closed", onClosed);
      };
      const onReady = () => (cleanup(), resolve());
      const onClosed = () => (cleanup(), reject(new TransientError("broker_closed", "the broker connection was closed")));
      const timer = setTimeout(() => {
        cleanup();
        reject(unreachable());
      }, leftMs);
      this.on("ready", onReady);
      this.on("closed", onClosed);
    });
    return this.waitReady();
  }

  async createChannel(): Promise<Channel> {
    return (await this.waitReady()).createChannel();
  }

  async createConfirmChannel(): Promise<ConfirmChannel> {
    return (await this.waitReady()).createConfirmChannel();
  }

  /**
   * Idempotent: stops reconnecting and closes the connection (the same promise every time).
   * Bounded: on a link that went silent (a partition the heartbeat has not noticed yet) the
   * broker's close-ok never comes, so after closeTimeoutMs the socket is dropped; the broker
   * then returns the connection's unacked deliveries to their queue when it notices.
   */
  close(): Promise<void> {
    if (!this.closePromise) {
      this.closing = true;
      if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
      const model = this.model;
      this.model = undefined;
      const timeoutMs = this.options.closeTimeoutMs ?? 3000;
      const dropped = () => {
        this.options.log.warn({ broker: this.where, waitedMs: timeoutMs }, "broker did not answer the close (network down?): dropping the connection; its unacked deliveries return to their queue");
        dropSocket(model);
      };
      if (model && this.blockedBy !== undefined) resetSocket(model);
      this.closePromise = (model ? closeOrGone(model, () => model.close(), timeoutMs, dropped) : Promise.resolve()).then(() => {
        this.emit("closed");
      });
    }
    return this.closePromise;
  }
}

/**
 * Calls `onTooLong` once the broker has blocked `conn` for `ms` without a break (a memory or disk
 * alarm; see the "blocked" event). Returns a function that stops watching.
 */
export function watchBlocked(conn: BrokerConnection, ms: number, onTooLong: (reason: string) => void): () => void {
  let timer: NodeJS.Timeout | undefined;
  const onBlocked = (reason: string) => {
    clearTimeout(timer);
    timer = setTimeout(() => onTooLong(reason), ms);
    timer.unref();
  };
  const onUnblocked = () => clearTimeout(timer);
  if (conn.blockedReason !== undefined) onBlocked(conn.blockedReason);
  conn.on("blocked", onBlocked);
  conn.on("unblocked", onUnblocked);
  return () => {
    clearTimeout(timer);
    conn.off("blocked", onBlocked);
    conn.off("unblocked", onUnblocked);
  };
}

/** What a publish the broker kept blocked too long fails with (exit 4: another run can do it). */
export function blockedTooLongError(reason: string, ms: number, what = "message not confirmed"): TransientError {
  return new TransientError("broker_blocked", `the broker blocked publishing for ${ms / 1000} s (resource alarm: ${reason}); ${what}`);
}

/**
 * Runs `close` (a channel's or connection's) and resolves when it settles or when `target` emits
 * 'close', whichever comes first: amqplib settles close() only on the broker's close-ok, so when
 * the connection dies meanwhile (heartbeat timeout, reset) the promise would stay pending for
 * good, and with it a worker's stop or a publisher's exit. With `timeoutMs`, calls `onTimeout`
 * and resolves after that long.
 */
export function closeOrGone(target: EventEmitter, close: () => Promise<unknown>, timeoutMs?: number, onTimeout?: () => void): Promise<void> {
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const done = () => {
      clearTimeout(timer);
      target.off("close", done);
      resolve();
    };
    target.once("close", done);
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        onTimeout?.();
        done();
      }, timeoutMs);
    }
    close().then(done, done);
  });
}

/**
 * Destroys an amqplib connection's socket (kept, untyped, on its inner Connection) with an
 * error: amqplib then ends the connection at once (channels closed, heartbeat timers cleared)
 * instead of after two silent heartbeat intervals.
 */
function dropSocket(model: unknown): void {
  const stream = socketOf(model);
  if (stream && !stream.destroyed) stream.destroy?.(new Error("closed without the broker's answer"));
}

/** The socket amqplib keeps, untyped, on a ChannelModel's inner Connection. */
function socketOf(model: unknown): { destroyed?: boolean; destroy?: (err?: Error) => void; resetAndDestroy?: () => void } | undefined {
  return (model as { connection?: { stream?: ReturnType<typeof socketOf> } } | undefined)?.connection?.stream;
}

/**
 * Ends a blocked connection with a TCP reset. The broker stopped reading it, so what we sent
 * since (publishes whose confirms we gave up on and reported failed, copies whose originals go
 * back to the queue) waits in its socket buffer: after a plain close it read and routed those
 * once the alarm cleared (32 of 50 "failed" matches arrived after all); a reset discards them.
 */
function resetSocket(model: unknown): void {
  const stream = socketOf(model);
  if (stream && !stream.destroyed) stream.resetAndDestroy?.();
}

/** Node's codes for a certificate chain it cannot trust (an unknown CA, a self-signed certificate). */
const UNTRUSTED_CERTIFICATE = new Set(["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "UNABLE_TO_GET_ISSUER_CERT", "UNABLE_TO_GET_ISSUER_CERT_LOCALLY", "SELF_SIGNED_CERT_IN_CHAIN", "DEPTH_ZERO_SELF_SIGNED_CERT"]);

/** One line for humans: "connection refused", "access refused (check user/password)", ... */
function reasonOf(err: unknown, url?: string): string {
  const message = errorMessage(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "host not found";
  if (code === "ETIMEDOUT" || /timeout/i.test(message)) return "timed out";
  if (/ACCESS_REFUSED|403/.test(message)) return "access refused (check the user name and password)";
  // A close in answer to connection.open: amqplib's message names only the frame, and the one
  // reason RabbitMQ closes there is the vhost (530 NOT_ALLOWED: missing, or no permission).
  if (/NOT_ALLOWED|vhost|Expected ConnectionOpenOk; got <ConnectionClose/i.test(message)) return "vhost not found or not permitted";
  // OpenSSL's own words ("ssl3_get_record:wrong version number", with a source path) when the
  // other end does not speak TLS; Node's when that end hangs up first, which RabbitMQ does after
  // answering the TLS hello with its AMQP protocol header.
  if (/wrong version number|ERR_SSL_|SSL routines|before secure TLS connection was established/i.test(message)) return "TLS handshake failed (amqps:// to a port without TLS? plain AMQP is amqp://, usually port 5672; TLS usually 5671)";
  // Plain AMQP to a TLS-only listener: RabbitMQ drops the connection at our protocol header,
  // with a reset or a close, as the timing goes.
  if (/^amqp:/i.test(url ?? "") && (code === "ECONNRESET" || /closed abruptly during opening handshake/i.test(message))) return `${withoutPassword(message)} (amqp:// to a port that speaks TLS? TLS is amqps://, usually port 5671)`;
  // The broker speaks TLS but its certificate is refused: Node's words alone ("unable to verify
  // the first certificate") did not say what to do about it.
  if (typeof code === "string" && UNTRUSTED_CERTIFICATE.has(code)) return `TLS certificate not trusted (${message}): give the CA that signed the broker's certificate with NODE_EXTRA_CA_CERTS=/path/to/ca.pem`;
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return `TLS certificate is not for this host (${message}): use the host name the certificate names in RABBITMQ_URL`;
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") return `TLS certificate not valid now (${message}): renew the broker's certificate (or check this machine's clock)`;
  return withoutPassword(message);
}

/** amqplib messages can embed the URL: its password masked, just in case. */
function withoutPassword(message: string): string {
  return message.replace(/\/\/([^:/@]+):([^@]*)@/g, "//$1:***@");
}

/**
 * The frame_max an amqplib ChannelModel negotiated (amqplib keeps it, untyped, on its inner
 * Connection), or undefined when there is none.
 */
export function negotiatedFrameMax(model: unknown): number | undefined {
  const value = (model as { connection?: { frameMax?: unknown } } | undefined)?.connection?.frameMax;
  return typeof value === "number" && value > 0 ? value : undefined;
}
