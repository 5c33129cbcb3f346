/**
 * Values of an AMQP field table as amqplib decodes them. Pure.
 * amqplib hands some AMQP types over wrapped, as `{"!": type, value}` (timestamps, some integers).
 */

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
