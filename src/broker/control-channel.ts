/**
 * The worker's Celery mailbox (CELERY_CONTROL, celery/control.ts): a queue of its own bound to the
 * fanout exchange `celery.pidbox`, declared as a Celery worker declares it, consumed without acks
 * (as kombu does); each request addressed to this node is answered on the reply exchange, and a
 * control command (CELERY_CONTROL=control) is obeyed, also when sent as a cast (no reply wanted).
 * Set up again after every reconnect (the queue is auto-delete and expires 10 s after its last
 * consumer). Requests are bounded in size and never reach the worker's tasks.
 */
import type { Channel, ConsumeMessage } from "amqplib";
import { answerControl, CONTROL_EXCHANGE, CONTROL_QUEUE_ARGUMENTS, CONTROL_REPLY_EXCHANGE, controlQueueName, controlRequest, isControlCommand, type WorkerControls, type WorkerFacts } from "../celery/control.js";
import type { Logger } from "../log.js";
import type { CeleryControl } from "../worker/transport.js";
import type { BrokerConnection } from "./connection.js";
import { ReopeningChannel } from "./reopening-channel.js";

/** A control request is a few hundred bytes; anything much larger is not one. */
const MAX_REQUEST_BYTES = 64 * 1024;

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
    await channel.consume(queue, (msg) => msg && this.answer(channel, msg), { noAck: true });
  }

  /** Declares and consumes the mailbox; resolves either way (a failure is logged: inspect then gets no answer from this worker). */
  open(): Promise<void> {
    return this.side.open();
  }

  private answer(channel: Channel, msg: ConsumeMessage): void {
    const headerClock = Number(msg.properties.headers?.clock);
    this.clock = Math.max(this.clock, Number.isFinite(headerClock) ? headerClock : 0) + 1;
    if (msg.content.length > MAX_REQUEST_BYTES) return;
    let body: unknown;
    try {
      body = JSON.parse(msg.content.toString("utf8"));
    } catch {
      return;
    }
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
    if (!replies) return;
    const reply = { [this.node]: answer };
    try {
      channel.publish(CONTROL_REPLY_EXCHANGE, replyTo.routingKey, Buffer.from(JSON.stringify(reply), "utf8"), {
        contentType: "application/json",
        contentEncoding: "utf-8",
        deliveryMode: 1,
        headers: { ticket: request.ticket, clock: ++this.clock },
      });
    } catch {
      // The channel is closing: the requester times out, as with any worker gone.
    }
  }

  close(): Promise<void> {
    return this.side.close();
  }
}
