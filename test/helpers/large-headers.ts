/**
 * Publishing messages whose header table is larger than amqplib can encode. amqplib encodes
 * properties into a 64 KiB scratch buffer and refuses more ("Encoded field table ... exceeds
 * the 65536 byte encoding buffer"), but AMQP allows a content header up to the negotiated
 * frame_max (131072 by default) and other clients (py-amqp, pika, the Java client) send them:
 * this writes the content header frame itself, with amqplib's own table encoder and a larger
 * buffer, on an amqplib confirm channel (so confirms work as usual).
 */
import { createRequire } from "node:module";
import path from "node:path";
import type { ConfirmChannel, Options } from "amqplib";

const require = createRequire(import.meta.url);
// amqplib's package exports hide lib/: reach its files by path.
const amqplibLib = path.join(path.dirname(require.resolve("amqplib")), "lib");
const codec = require(path.join(amqplibLib, "codec.js")) as { encodeTable(buffer: Buffer, value: unknown, offset: number): number };
const defs = require(path.join(amqplibLib, "defs.js")) as { BasicPublish: number };
const args = require(path.join(amqplibLib, "api_args.js")) as { publish(exchange: string, routingKey: string, options: Options.Publish): Record<string, unknown> };

/** AMQP 0-9-1 basic properties in wire order, with their flag bit and type. */
const PROPERTIES: [keyof Options.Publish | "headers", number, "shortstr" | "table" | "octet" | "timestamp"][] = [
  ["contentType", 15, "shortstr"],
  ["contentEncoding", 14, "shortstr"],
  ["headers", 13, "table"],
  ["deliveryMode", 12, "octet"],
  ["priority", 11, "octet"],
  ["correlationId", 10, "shortstr"],
  ["replyTo", 9, "shortstr"],
  ["expiration", 8, "shortstr"],
  ["messageId", 7, "shortstr"],
  ["timestamp", 6, "timestamp"],
  ["type", 5, "shortstr"],
  ["userId", 4, "shortstr"],
  ["appId", 3, "shortstr"],
];

/** The content header frame (type 2) for a body of `bodySize` bytes and these properties. */
export function contentHeaderFrame(channel: number, bodySize: number, props: Record<string, unknown>): Buffer {
  const payload = Buffer.alloc(16 + 2 ** 20);
  payload.writeUInt16BE(60, 0); // class basic
  payload.writeUInt16BE(0, 2); // weight
  payload.writeBigUInt64BE(BigInt(bodySize), 4);
  let flags = 0;
  let offset = 14;
  for (const [name, bit, type] of PROPERTIES) {
    let value = props[name];
    if (name === "deliveryMode" && typeof value === "boolean") value = value ? 2 : 1;
    if (value === undefined || value === null) continue;
    flags |= 1 << bit;
    if (type === "shortstr") {
      const bytes = Buffer.from(typeof value === "string" ? value : JSON.stringify(value), "utf8");
      payload.writeUInt8(bytes.length, offset);
      offset += 1 + bytes.copy(payload, offset + 1);
    } else if (type === "table") {
      offset += codec.encodeTable(payload, value, offset);
    } else if (type === "octet") {
      offset = payload.writeUInt8(Number(value), offset);
    } else {
      offset = payload.writeBigUInt64BE(BigInt(Number(value)), offset);
    }
  }
  payload.writeUInt16BE(flags, 12);
  const frame = Buffer.alloc(7 + offset + 1);
  frame.writeUInt8(2, 0);
  frame.writeUInt16BE(channel, 1);
  frame.writeUInt32BE(offset, 3);
  payload.copy(frame, 7, 0, offset);
  frame.writeUInt8(206, 7 + offset);
  return frame;
}

interface ChannelInternals {
  ch: number;
  connection: {
    sendMethod(channel: number, method: number, fields: unknown): boolean;
    sendContent(channel: number, body: Buffer): boolean;
    channels: Record<number, { buffer: { write(b: Buffer): boolean } }>;
  };
  sendMessage(fields: unknown, props: Record<string, unknown>, content: Buffer): boolean;
}

/** Makes `ch.publish` write its content header itself: no 64 KiB limit on the header table. */
export function allowLargeHeaders(ch: ConfirmChannel): ConfirmChannel {
  const internals = ch as unknown as ChannelInternals;
  internals.sendMessage = function (this: ChannelInternals, fields, props, content) {
    this.connection.sendMethod(this.ch, defs.BasicPublish, fields);
    this.connection.channels[this.ch]?.buffer.write(contentHeaderFrame(this.ch, content.length, props));
    return this.connection.sendContent(this.ch, content);
  };
  return ch;
}

/**
 * Size on the wire of the content header frame that `ch.publish(..., options)` sends (frame
 * header and end included), after amqplib's own translation of the options (`persistent`, ...).
 */
export function contentHeaderFrameBytes(options: Options.Publish): number {
  return contentHeaderFrame(1, 0, args.publish("", "", options)).length;
}
