/**
 * RabbitMQ closes a channel with 403 ACCESS_REFUSED for two unrelated reasons, told apart only by
 * the text of its close (as RabbitMQ 3.10 words them):
 * - "ACCESS_REFUSED - queue 'q' in vhost 'v' in exclusive use": another client consumes the
 *   queue exclusively; it passes when that client stops;
 * - "ACCESS_REFUSED - access to queue 'q' in vhost 'v' refused for user 'u'": the user lacks a
 *   permission (configure, write or read); it lasts until an administrator grants it.
 * The dlq commands took every 403 for the first (or rethrew it raw: exit 70). Pure.
 */
import { ConfigError, errorMessage } from "../errors.js";

export type AccessRefusal =
  | { kind: "exclusive" }
  /** `user` and `vhost` as the broker named them (undefined when its text did not). */
  | { kind: "permission"; user: string | undefined; vhost: string | undefined; text: string };

/** The broker's own words ("ACCESS_REFUSED - ..."), out of amqplib's "Operation failed: ...; 403 (...) with message "..."". */
function brokerText(message: string): string {
  const quoted = /with message "(.*)"$/s.exec(message)?.[1];
  return quoted ?? message;
}

/**
 * What a 403 means; `undefined` when `err` is no 403. A refusal whose text is neither form is
 * taken for a permission problem: that is what ACCESS_REFUSED is for, exclusivity the exception.
 */
export function accessRefusalOf(err: unknown): AccessRefusal | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  const message = errorMessage(err);
  if (code !== 403 && !/ACCESS_REFUSED/.test(message)) return undefined;
  const text = brokerText(message);
  // Anchored: a queue may be named anything, "in exclusive use" included.
  if (/^ACCESS_REFUSED - queue '.*' in vhost '.*' in exclusive use$/s.test(text)) return { kind: "exclusive" };
  return { kind: "permission", user: /refused for user '([^']*)'/.exec(text)?.[1], vhost: /in vhost '([^']*)'/.exec(text)?.[1], text };
}

/**
 * The permission refusal as a ConfigError (exit 2: an administrator must grant something), one
 * line naming the user, what it needs (`need`: "read permission on queue matches.dead_letter")
 * and what for (`why`: "dlq commands consume it").
 */
export function permissionRefused(refusal: Extract<AccessRefusal, { kind: "permission" }>, need: string, why: string): ConfigError {
  const who = refusal.user === undefined ? "the RabbitMQ user of RABBITMQ_URL" : `RabbitMQ user '${refusal.user}'`;
  const where = refusal.vhost === undefined ? "" : ` in vhost '${refusal.vhost}'`;
  return new ConfigError(`${who} lacks ${need}${where} (${why}): grant it with rabbitmqctl set_permissions (the broker said: ${refusal.text})`);
}

/**
 * The permission the refused operation needs, as RabbitMQ's access control assigns them: amqplib
 * names the operation in its error ("Operation failed: QueueBind; 403 ..."). Binding needs write
 * on the queue and read on the exchange, not configure: "configure permission" sent operators to
 * grant the wrong one.
 */
export function permissionNeededFor(err: unknown): string {
  const operation = /Operation failed: (\w+);/.exec(errorMessage(err))?.[1];
  switch (operation) {
    case "QueueDeclare":
    case "ExchangeDeclare":
    case "QueueDelete":
    case "ExchangeDelete":
      return "configure permission";
    case "QueueBind":
    case "QueueUnbind":
    case "ExchangeBind":
    case "ExchangeUnbind":
      return "write permission on the queue (or destination exchange) and read permission on the exchange bound from";
    case "BasicPublish":
      return "write permission";
    case "BasicConsume":
    case "BasicGet":
    case "QueuePurge":
      return "read permission";
    default:
      return "configure, write and read permission";
  }
}

/**
 * A queue or exchange name RabbitMQ reserves (`amq.` prefix): refused with 403 too, though no
 * permission would help. The name and what it names, or undefined.
 */
export function reservedNameOf(err: unknown): { what: string; name: string } | undefined {
  const m = /(queue|exchange) name '([^']*)' contains reserved prefix/.exec(errorMessage(err));
  return m ? { what: m[1] as string, name: m[2] as string } : undefined;
}
