/** Dead letters shaped exactly as the worker makes them, for the dlq tooling's tests and bench. */
import type { ConfirmChannel } from "amqplib";
import type { TopologyNames } from "../../src/broker/topology-names.js";
import type { EncodedMessage } from "../../src/celery/codec.js";
import type { MatchflowError } from "../../src/errors.js";
import { buildDeadLetter } from "../../src/worker/outgoing.js";

/**
 * Publishes `task` as the worker dead-letters it after `attempts` failures with `error`
 * (`buildDeadLetter`), persistent, to the dead-letter exchange. The caller waits for the confirms.
 */
export function publishDeadLetter(ch: ConfirmChannel, names: TopologyNames, task: EncodedMessage, error: MatchflowError, attempts = 4): void {
  const received = { content: task.content, properties: task.properties, exchange: names.exchange, routingKey: names.routingKey, redelivered: false, receivedAt: Date.now(), token: undefined };
  const dl = buildDeadLetter(received, error, attempts, Date.now());
  ch.publish(names.deadLetterExchange, names.deadLetterRoutingKey, dl.content, { ...dl.properties, deliveryMode: 2 });
}
