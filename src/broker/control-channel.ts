/**
 * The worker's Celery mailbox (CELERY_CONTROL, celery/control.ts): a queue of its own bound to the
 * fanout exchange `celery.pidbox`, declared as a Celery worker declares it, consumed without acks
 * (as kombu does); each request addressed to this node is answered on the reply exchange, and a
 * control command (CELERY_CONTROL=control) is obeyed, also when sent as a cast (no reply wanted).
 * Set up again after every reconnect (the queue is auto-delete and expires 10 s after its last
 * consumer). Requests are bounded in size and never reach the worker's tasks.
 */
import type { Channel, ConsumeMessage } from "amqplib";
import { pythonReadableNumber } from "../celery/codec.js";
import { answerControl, CONTROL_EXCHANGE, CONTROL_QUEUE_ARGUMENTS, CONTROL_REPLY_EXCHANGE, controlQueueName, controlRequest, isControlCommand, type WorkerControls, type WorkerFacts } from "../celery/control.js";
import { MINGLE_TIMEOUT_MS } from "../celery/mingle.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import type { CeleryControl } from "../worker/transport.js";
import type { BrokerConnection } from "./connection.js";
import { broadcastAndGather, readControlMessage } from "./pidbox-broadcast.js";
import { ReopeningChannel } from "./reopening-channel.js";

export class CeleryControlChannel implements CeleryControl {
  private readonly side: ReopeningChannel;
  private clock = 0;

  constructor(
    connection: BrokerConnection,
    private readonly node: string,
    private readonly facts: (clock: number) => WorkerFacts,
    private readonly log: Logger,
    /** Given with CELERY_CONTROL=control: the commands that change the worker are obeyed. */
    private readonly controls?: WorkerControls,
  ) {
    this.side = new ReopeningChannel(connection, "Celery control", (channel) => this.setUp(channel), log);
  }

  private async setUp(channel: Channel): Promise<void> {
    const queue = controlQueueName(this.node);
    await channel.assertExchange(CONTROL_EXCHANGE, "fanout", { durable: false, autoDelete: false });
    await channel.assertExchange(CONTROL_REPLY_EXCHANGE, "direct", { durable: false, autoDelete: false });
    await channel.assertQueue(queue, { durable: false, autoDelete: true, arguments: CONTROL_QUEUE_ARGUMENTS });
    await channel.bindQueue(queue, CONTROL_EXCHANGE, "");
    // Cancelled by the broker (the mailbox deleted): closed, so that it is declared and consumed again.
    await channel.consume(queue, (msg) => (msg ? this.answer(channel, msg) : void channel.close().catch(() => undefined)), { noAck: true });
  }

  /** Declares and consumes the mailbox; resolves either way (a failure is logged: inspect then gets no answer from this worker). */
  open(): Promise<void> {
    return this.side.open();
  }

  private answer(channel: Channel, msg: ConsumeMessage): void {
    const body = this.read(msg);
    // kombu's requests say until when they matter (`expires`, epoch seconds; 0: always); a Celery worker drops a late one.
    const expires = Number(msg.properties.headers?.expires);
    if (body === undefined || (expires > 0 && Date.now() / 1000 > expires)) return;
    const request = controlRequest(body, this.node);
    if (!request) return;
    const { replyTo } = request;
    // A cast of an inspect command wants nothing; a control command is obeyed, answered or not.
    const obeyed = this.controls !== undefined && isControlCommand(request.method);
    // Only kombu's reply exchange, which both sides declare alike: publishing to another name could close this channel.
    const replies = replyTo?.exchange === CONTROL_REPLY_EXCHANGE;
    if (!replies && !obeyed) return;
    const answer = answerControl(request.method, this.facts(this.clock), request.arguments, this.controls);
    if (obeyed) this.log.info({ method: request.method, arguments: request.arguments, answer }, "Celery remote control command");
    else this.log.debug({ method: request.method.slice(0, 100), ticket: request.ticket }, "Celery remote control answered");
    if (!replies || answer === undefined) return;
    const reply = { [this.node]: answer };
    try {
      channel.publish(CONTROL_REPLY_EXCHANGE, replyTo.routingKey, Buffer.from(JSON.stringify(reply), "utf8"), {
        contentType: "application/json",
        contentEncoding: "utf-8",
        deliveryMode: 1,
        // py-amqp reads amqplib's guess for 128-32767 as a short string: inspect broke at the 63rd ping.
        headers: { ticket: request.ticket, clock: pythonReadableNumber(++this.clock) },
      });
    } catch {
      // The channel is closing: the requester times out, as with any worker gone.
    }
  }

  /** A message's JSON body (the Lamport clock moved past its own), or undefined when it is none or too large. */
  private read(msg: ConsumeMessage): unknown {
    const headerClock = Number(msg.properties.headers?.clock);
    this.clock = Math.max(this.clock, Number.isFinite(headerClock) ? headerClock : 0) + 1;
    return readControlMessage(msg);
  }

  /**
   * Celery's mingle (celery/mingle.ts): broadcasts `hello` with `revoked` and gathers the other
   * workers' replies for `timeoutMs`. Resolves with the replies by node (none when the channel is
   * not open or the broadcast failed, which is logged); never throws.
   */
  async hello(revoked: Record<string, [number, string]>, timeoutMs = MINGLE_TIMEOUT_MS): Promise<Map<string, unknown>> {
    const channel = this.side.current;
    if (!channel) return new Map();
    try {
      return await broadcastAndGather(channel, "hello", { from_node: this.node, revoked }, { timeoutMs, ownNode: this.node, clock: ++this.clock });
    } catch (err) {
      this.log.warn({ err: errorMessage(err) }, "Celery mingle: could not ask the other workers for their revoked tasks");
      return new Map();
    }
  }

  close(): Promise<void> {
    return this.side.close();
  }
}
