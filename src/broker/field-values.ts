/**
 * Values of an AMQP field table as amqplib decodes them. Pure.
 * amqplib hands some AMQP types over wrapped, as `{"!": type, value}` (timestamps, some integers).
 */
import { pythonReadableNumber } from "../celery/codec.js";

/** A decoded table (or any plain object), not an array. */
export function isFieldTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `value` without amqplib's `{"!": type, value}` wrapper (one level). */
export function plainFieldValue(value: unknown): unknown {
  return isFieldTable(value) && typeof value["!"] === "string" && "value" in value ? value.value : value;
}

/** A field value as text: amqplib hands long strings over as Buffers. Undefined for any other type. */
export function fieldText(value: unknown): string | undefined {
  return typeof value === "string" ? value : Buffer.isBuffer(value) ? value.toString("utf8") : undefined;
}

/**
 * Every number of a header table (in arrays and nested tables too) typed as pythonReadableNumber
 * says; anything else, amqplib's typed `{"!": type, value}` wrappers included, as it is.
 */
export function pythonReadableHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = pythonReadableValue(value);
  return out;
}

function pythonReadableValue(value: unknown): unknown {
  if (typeof value === "number") return pythonReadableNumber(value);
  if (Array.isArray(value)) return value.map(pythonReadableValue);
  if (isFieldTable(value) && !("!" in value) && !Buffer.isBuffer(value)) return pythonReadableHeaders(value);
  return value;
}

/**
 * A header table as amqplib hands it to a consumer: number wrappers (`{"!": "int", value}`) are
 * plain numbers there; timestamps and decimals stay wrapped. For the in-process broker, so that
 * its consumers see what RabbitMQ's see.
 */
export function headersAsDelivered(headers: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = valueAsDelivered(value);
  return out;
}

function valueAsDelivered(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(valueAsDelivered);
  if (!isFieldTable(value) || Buffer.isBuffer(value)) return value;
  if (!("!" in value)) return headersAsDelivered(value);
  return value["!"] === "timestamp" || value["!"] === "decimal" ? value : value.value;
}
