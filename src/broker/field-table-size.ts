/**
 * The exact number of bytes amqplib (lib/codec.js, 2.x) writes for an AMQP field table (message
 * headers), and for a whole content header frame, without encoding anything: so that a copy the
 * worker publishes can be made to fit the connection's frame_max before it is sent (RabbitMQ closes
 * the whole connection, FRAME_ERROR, on a content header frame larger than frame_max). Pure.
 *
 * Type choices as amqplib makes them: strings are long strings (`S`, UTF-8, 4-byte length);
 * numbers are doubles when fractional (or >= 2^63) else the smallest signed integer of 1, 2, 4
 * or 8 bytes; booleans 1 byte; null `V`; arrays `A` and objects `F` (nested tables, 4-byte
 * length); Buffers `x` (4-byte length); `{"!": type, value}` asks for a type; anything else that
 * is an object (a Date) is encoded as a table of its own enumerable properties, i.e. usually empty.
 * Keys with an undefined value are skipped; every value is preceded by a one-byte type tag.
 */

/** amqplib encodes the header table into a 64 KiB scratch buffer and refuses anything larger. */
export const AMQPLIB_MAX_TABLE_BYTES = 65536;

/**
 * Bytes of a content header frame besides its properties: frame type, channel and size (7),
 * class id, weight, body size and property flags (14), frame end (1).
 */
export const CONTENT_HEADER_FRAME_OVERHEAD = 22;

/** Payload bytes (after the tag) of the fixed-size types a `{"!": type}` wrapper may name. */
const FIXED: Readonly<Record<string, number>> = {
  double: 8,
  float64: 8,
  byte: 1,
  int8: 1,
  unsignedbyte: 1,
  uint8: 1,
  short: 2,
  int16: 2,
  unsignedshort: 2,
  uint16: 2,
  int: 4,
  int32: 4,
  unsignedint: 4,
  uint32: 4,
  long: 8,
  int64: 8,
  timestamp: 8,
  float: 4,
  decimal: 5,
  boolean: 1,
};

function isFloatingPoint(n: number): boolean {
  return n >= 0x8000000000000000 || (Math.abs(n) < 0x4000000000000 && Math.floor(n) !== n);
}

function integerBytes(n: number): number {
  if (isFloatingPoint(n)) return 8;
  if (n < 128 && n >= -128) return 1;
  if (n >= -0x8000 && n < 0x8000) return 2;
  if (n >= -0x80000000 && n < 0x80000000) return 4;
  return 8;
}

/** Bytes of one field value as amqplib writes it: its type tag and its payload. */
export function fieldValueBytes(value: unknown): number {
  let type: string = typeof value;
  let val = value;
  if (value && type === "object" && Object.hasOwn(value, "!")) {
    const wrapper = value as { "!": unknown; value: unknown };
    val = wrapper.value;
    type = String(wrapper["!"]);
  }
  if (type === "number") return 1 + integerBytes(val as number);
  if (type === "string") return 1 + 4 + Buffer.byteLength(val as string, "utf8");
  if (type === "object") {
    if (val === null) return 1;
    if (Array.isArray(val)) return 1 + fieldArrayBytes(val);
    if (Buffer.isBuffer(val)) return 1 + 4 + val.length;
    return 1 + fieldTableBytes(val as Record<string, unknown>);
  }
  const fixed = FIXED[type];
  if (fixed === undefined) throw new TypeError(`Unknown type to encode: ${type}`);
  return 1 + fixed;
}

function fieldArrayBytes(values: readonly unknown[]): number {
  let size = 4;
  for (const v of values) size += fieldValueBytes(v);
  return size;
}

/** Bytes of one table entry: key (a short string: length byte and UTF-8) and value. */
export function fieldEntryBytes(key: string, value: unknown): number {
  return value === undefined ? 0 : 1 + Buffer.byteLength(key, "utf8") + fieldValueBytes(value);
}

/** Bytes of a field table, its 4-byte length included (what amqplib's encodeTable returns). */
export function fieldTableBytes(table: Record<string, unknown>): number {
  let size = 4;
  // for...in, as amqplib: inherited enumerable keys count too.
  for (const key in table) size += fieldEntryBytes(key, table[key]);
  return size;
}

/** Basic properties other than headers, as amqplib's encodeBasicProperties sizes them. */
export interface FramedProperties {
  contentType?: unknown;
  contentEncoding?: unknown;
  headers?: Record<string, unknown> | undefined;
  deliveryMode?: unknown;
  priority?: unknown;
  correlationId?: unknown;
  replyTo?: unknown;
  expiration?: unknown;
  messageId?: unknown;
  timestamp?: unknown;
  type?: unknown;
  userId?: unknown;
  appId?: unknown;
  clusterId?: unknown;
}

const SHORT_STRINGS = ["contentType", "contentEncoding", "correlationId", "replyTo", "expiration", "messageId", "type", "userId", "appId", "clusterId"] as const;

/** Bytes of the properties besides the header table (a short string: 1 + its UTF-8 bytes; an octet 1; a timestamp 8). */
export function otherPropertiesBytes(p: FramedProperties): number {
  let size = 0;
  for (const name of SHORT_STRINGS) {
    const v = p[name];
    // amqplib refuses anything but a string of up to 255 bytes here; its length is what is sent.
    if (v !== undefined && v !== null) size += 1 + (typeof v === "string" ? Buffer.byteLength(v, "utf8") : 0);
  }
  if (p.deliveryMode !== undefined && p.deliveryMode !== null) size += 1;
  if (p.priority !== undefined && p.priority !== null) size += 1;
  if (p.timestamp !== undefined && p.timestamp !== null) size += 8;
  return size;
}

/** Bytes of the content header frame amqplib sends for these (already translated) properties. */
export function contentHeaderFrameBytes(p: FramedProperties): number {
  return CONTENT_HEADER_FRAME_OVERHEAD + otherPropertiesBytes(p) + (p.headers ? fieldTableBytes(p.headers) : 0);
}
